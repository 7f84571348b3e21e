// SPDX-License-Identifier: Apache-2.0
/**
 * Valkey layout (prefix `stella:` by default):
 *  - `obs:<service>`   sorted set, score = observedAt (ms), member = `<chunkId>:<i>|<record JSON>`:
 *                      window queries are ZRANGE … BYSCORE, retention is ZREMRANGEBYSCORE.
 *  - `fn:<service>:<bucketStartMs>` hash of per-function counters for that 5-minute bucket, fields
 *                      `<group>|h` hits, `|r` records, `|f` first ms, `|l` last ms, with
 *                      group = JSON [function, nodeHash, binaryPath]; EXPIREAT past retention.
 *                      `--summary` reads whole buckets from these and scans only the edges.
 *  - `services`        set of services seen.
 *  - `batch:<chunkId>` idempotency marker (TTL 1 day): a retried chunk is applied once.
 *  - `pruned`          the latest explicit prune cutoff (ms); summaries never count older hits.
 * A chunk is applied by one Lua script (atomic: all of it or none), and the chunks of a batch are
 * sent in one pipeline. Keys are built inside the script, so this is for standalone Valkey (or a
 * single-slot setup), not Cluster.
 */
/**
 * Counter bucket width. Five minutes: a verification window (`windowSeconds`, 1800 by default)
 * is then read almost wholly from counters, scanning at most two partial buckets of raw records;
 * 72 h of retention is 864 small hashes per service.
 */
export const BUCKET_MS = 300_000;

export const APPLY_CHUNK = `
local p = ARGV[1]
if not redis.call('SET', p .. 'batch:' .. ARGV[2], '1', 'NX', 'EX', 86400) then return 0 end
local n = tonumber(ARGV[3])
local i = 4
for _ = 1, n do
  redis.call('ZADD', p .. 'obs:' .. ARGV[i], ARGV[i + 1], ARGV[i + 2])
  redis.call('SADD', p .. 'services', ARGV[i])
  i = i + 3
end
local m = tonumber(ARGV[i])
i = i + 1
for _ = 1, m do
  local k = p .. 'fn:' .. ARGV[i]
  local g = ARGV[i + 1]
  redis.call('HINCRBY', k, g .. '|h', ARGV[i + 2])
  redis.call('HINCRBY', k, g .. '|r', ARGV[i + 3])
  local f = redis.call('HGET', k, g .. '|f')
  if (not f) or tonumber(f) > tonumber(ARGV[i + 4]) then redis.call('HSET', k, g .. '|f', ARGV[i + 4]) end
  local l = redis.call('HGET', k, g .. '|l')
  if (not l) or tonumber(l) < tonumber(ARGV[i + 5]) then redis.call('HSET', k, g .. '|l', ARGV[i + 5]) end
  redis.call('EXPIREAT', k, ARGV[i + 6])
  i = i + 7
end
return 1
`;

export interface Group {
  service: string;
  function: string;
  nodeHash?: string;
  binaryPath: string;
  hits: number;
  records: number;
  first: number;
  last: number;
}

export function groupField(fn: string, nodeHash: string | undefined, binaryPath: string): string {
  return JSON.stringify([fn, nodeHash ?? null, binaryPath]);
}

/** Reads a bucket hash back into groups. */
export function groupsFromHash(service: string, hash: Record<string, string>): Group[] {
  const out = new Map<string, Group>();
  for (const [field, value] of Object.entries(hash)) {
    const cut = field.lastIndexOf('|');
    const key = field.slice(0, cut);
    let g = out.get(key);
    if (!g) {
      const [fn, nodeHash, binaryPath] = JSON.parse(key) as [string, string | null, string];
      g = { service, function: fn, binaryPath, hits: 0, records: 0, first: Infinity, last: -Infinity };
      if (nodeHash !== null) g.nodeHash = nodeHash;
      out.set(key, g);
    }
    const v = Number(value);
    const kind = field.slice(cut + 1);
    if (kind === 'h') g.hits = v;
    else if (kind === 'r') g.records = v;
    else if (kind === 'f') g.first = v;
    else if (kind === 'l') g.last = v;
  }
  return [...out.values()];
}

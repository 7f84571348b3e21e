// SPDX-License-Identifier: Apache-2.0
/**
 * Valkey layout (prefix `stella:` by default):
 *  - `obs:<service>`   sorted set, score = observedAt (ms), member = `<chunkId>:<i>|<record JSON>`:
 *                      window queries are ZRANGE … BYSCORE, retention is ZREMRANGEBYSCORE.
 *  - `fn:<service>:<bucketStartMs>` hash of per-function counters for that 5-minute bucket, fields
 *                      `<group>|h` hits, `|r` records, `|f` first ms, `|l` last ms, with
 *                      group = JSON [function, nodeHash, binaryPath]; EXPIREAT past retention.
 *                      `--summary` reads whole buckets from these and scans only the edges.
 *  - `batch:<chunkId>:<service>` idempotency marker (TTL 1 day): a retried chunk is applied once.
 *  - `services`        set of services seen.
 *  - `pruned`          the latest explicit prune cutoff (ms); summaries never count older hits.
 * On a Valkey Cluster the service part of the first three is a hash tag (`obs:{<service>}`,
 * `fn:{<service>}:<bucket>`, `batch:{<service>}:<chunkId>`), so everything one service's chunk
 * touches lives in one slot and one script applies it atomically; different services spread over
 * the shards. `services` and `pruned` are single keys on whichever shard owns their slot.
 * A chunk of one service is applied by one Lua script (all of it or none) that names every key it
 * touches in KEYS, as the cluster requires.
 */
export class ValkeyKeys {
  constructor(
    readonly prefix: string,
    readonly cluster: boolean,
  ) {}

  private tag(service: string): string {
    return this.cluster ? `{${service}}` : service;
  }

  obs(service: string): string {
    return `${this.prefix}obs:${this.tag(service)}`;
  }

  bucket(service: string, bucketStartMs: number): string {
    return `${this.prefix}fn:${this.tag(service)}:${bucketStartMs}`;
  }

  /** SCAN MATCH pattern for every bucket hash of a service (glob metacharacters escaped). */
  bucketPattern(service: string): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}fn:${this.tag(service).replace(/[*?[\]\\]/g, '\\$&')}:*`;
  }

  batch(service: string, chunkId: string): string {
    return this.cluster ? `${this.prefix}batch:{${service}}:${chunkId}` : `${this.prefix}batch:${chunkId}:${service}`;
  }

  get services(): string {
    return `${this.prefix}services`;
  }

  get pruned(): string {
    return `${this.prefix}pruned`;
  }
}

/**
 * Counter bucket width. Five minutes: a verification window (`windowSeconds`, 1800 by default)
 * is then read almost wholly from counters, scanning at most two partial buckets of raw records;
 * 72 h of retention is 864 small hashes per service.
 */
export const BUCKET_MS = 300_000;

/**
 * KEYS[1] the chunk's marker, KEYS[2] the service's sorted set, KEYS[3..] its bucket hashes.
 * ARGV: n, then n × (score, member); m, then m × (key index, group, hits, records, first, last,
 * expireAt). A chunk seen before only has its marker's TTL renewed: that is still a write, so a
 * WAIT after the retry also covers the first attempt's records (replication is in order).
 */
export const APPLY_SERVICE_CHUNK = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', 86400) then
  redis.call('EXPIRE', KEYS[1], 86400)
  return 0
end
local n = tonumber(ARGV[1])
local i = 2
for _ = 1, n do
  redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local m = tonumber(ARGV[i])
i = i + 1
for _ = 1, m do
  local k = KEYS[tonumber(ARGV[i])]
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

// SPDX-License-Identifier: Apache-2.0
import { randomUUID } from 'node:crypto';
import type { FunctionSummary, Logger, Observation, ObservationQuery, ObservationStore } from '@stella/sdk';
import { type RedisOptions, Redis as Valkey } from 'iovalkey';
import { StoreUnavailableError } from './errors.js';
import { globToRegExp } from './glob.js';
import { observedAtMs, sortSummaries } from './records.js';
import type { ValkeyStoreOptions } from './types.js';
import { isConnectionError } from './unavailable.js';
import { APPLY_CHUNK, BUCKET_MS, type Group, groupField, groupsFromHash } from './valkey-layout.js';

const HOUR_MS = 3_600_000;

export type ValkeyStoreConfig = ValkeyStoreOptions & { retentionHours: number; maxBatchSize?: number };
const PAGE = 2000;

type Client = Valkey & { stellaApply(...args: (string | number)[]): Promise<number> };

/** Where we connect, for logs and errors: never the password. */
export function describeValkeyTarget(o: ValkeyStoreConfig): string {
  const url = o.url ?? process.env.STELLA_VALKEY_URL;
  if (url) {
    try {
      const u = new URL(url);
      return `valkey ${u.hostname}:${u.port || 6379}/${u.pathname.slice(1) || 0}`;
    } catch {
      return 'valkey (unparsable url)';
    }
  }
  return `valkey ${o.host ?? '127.0.0.1'}:${o.port ?? 6379}/${o.db ?? 0}`;
}

/**
 * Valkey store (layout in valkey-layout.ts). Fails fast while the server is away (no offline
 * queue, no silent resend) so the writer above decides what to keep; reconnects on its own.
 */
export class ValkeyObservationStore implements ObservationStore {
  readonly name = 'valkey';
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly target: string;
  private readonly batchIds = new WeakMap<Observation[], string>();
  private retentionTimer?: NodeJS.Timeout;

  private constructor(
    private readonly client: Client,
    private readonly o: ValkeyStoreConfig,
    private readonly logger: Logger,
  ) {
    this.prefix = o.keyPrefix ?? 'stella:';
    this.now = o.now ?? Date.now;
    this.target = describeValkeyTarget(o);
  }

  static async open(o: ValkeyStoreConfig, logger: Logger): Promise<ValkeyObservationStore> {
    const options: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: o.connectTimeoutMs ?? 5000,
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
    };
    const url = o.url ?? process.env.STELLA_VALKEY_URL;
    if (!url) {
      options.host = o.host ?? '127.0.0.1';
      options.port = o.port ?? 6379;
      options.db = o.db ?? 0;
    }
    if (o.password && !(url && /^[^:]+:\/\/[^@/]*:[^@/]*@/.test(url))) options.password = o.password;
    if (url?.startsWith('valkey')) options.tls = url.startsWith('valkeys') ? {} : undefined;
    const normalizedUrl = url?.replace(/^valkey(s?):/, 'redis$1:');
    const client = (normalizedUrl ? new Valkey(normalizedUrl, options) : new Valkey(options)) as Client;
    client.defineCommand('stellaApply', { numberOfKeys: 0, lua: APPLY_CHUNK });
    const store = new ValkeyObservationStore(client, o, logger);
    // Errors surface through the failing command; the event only needs a listener.
    client.on('error', (error: Error) => logger.debug('valkey store: connection error', { error: error.message }));
    try {
      await client.connect();
      await store.applyRetention();
    } catch (error) {
      client.disconnect();
      throw store.translate(error);
    }
    store.retentionTimer = setInterval(() => {
      store.applyRetention().catch((error) => logger.warn('valkey store: retention failed', { error }));
    }, 10 * 60_000);
    store.retentionTimer.unref();
    logger.info('valkey store ready', { target: store.target, keyPrefix: store.prefix });
    return store;
  }

  /** Idempotent for the same array object (see PostgresObservationStore.append). */
  async append(batch: Observation[]): Promise<void> {
    if (batch.length === 0) return;
    let batchId = this.batchIds.get(batch);
    if (!batchId) {
      batchId = randomUUID();
      this.batchIds.set(batch, batchId);
    }
    const cutoff = this.cutoff();
    const rows: { o: Observation; t: number }[] = [];
    batch.forEach((o, i) => {
      const t = observedAtMs(o, i);
      if (t >= cutoff) rows.push({ o, t });
    });
    const size = Math.max(1, this.o.maxBatchSize ?? 1000);
    const retentionS = Math.ceil((this.o.retentionHours > 0 ? this.o.retentionHours : 24 * 365) * 3600);
    const pipeline = this.client.pipeline() as unknown as {
      stellaApply(...a: (string | number)[]): void;
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (let c = 0; c * size < rows.length; c++) {
      const chunk = rows.slice(c * size, (c + 1) * size);
      const chunkId = `${batchId}-${c}`;
      const zargs: (string | number)[] = [];
      const groups = new Map<string, Group & { bucketKey: string; expireAt: number }>();
      chunk.forEach(({ o, t }, i) => {
        zargs.push(o.service, t, `${chunkId}:${i}|${JSON.stringify(o)}`);
        const bucket = Math.floor(t / BUCKET_MS) * BUCKET_MS;
        const field = groupField(o.function, o.nodeHash, o.binaryPath);
        const key = `${o.service}:${bucket}\u0000${field}`;
        const g = groups.get(key);
        if (!g) {
          groups.set(key, {
            service: o.service,
            function: o.function,
            binaryPath: o.binaryPath,
            hits: o.hitCount,
            records: 1,
            first: t,
            last: t,
            bucketKey: `${o.service}:${bucket}`,
            expireAt: Math.ceil((bucket + BUCKET_MS) / 1000) + retentionS,
          });
        } else {
          g.hits += o.hitCount;
          g.records++;
          g.first = Math.min(g.first, t);
          g.last = Math.max(g.last, t);
        }
      });
      const hargs: (string | number)[] = [];
      for (const [key, g] of groups) {
        hargs.push(g.bucketKey, key.slice(key.indexOf('\u0000') + 1), g.hits, g.records, g.first, g.last, g.expireAt);
      }
      pipeline.stellaApply(this.prefix, chunkId, chunk.length, ...zargs, groups.size, ...hargs);
    }
    if (rows.length === 0) return;
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      throw this.translate(error);
    }
    const failed = results?.find(([e]) => e)?.[0];
    if (failed) throw this.translate(failed);
  }

  async *query(q: ObservationQuery): AsyncIterable<Observation> {
    const from = Math.max(q.from?.getTime() ?? -Infinity, this.cutoff());
    const to = q.to?.getTime() ?? Infinity;
    const fn = q.function ? globToRegExp(q.function) : undefined;
    const services = await this.servicesFor(q);
    // k-way merge of each service's sorted set, page by page, keeping global observedAt order.
    const cursors = services.map((s) => this.scan(s, from, to));
    const heads: ({ t: number; o: Observation } | undefined)[] = [];
    for (const c of cursors) heads.push((await c.next()).value ?? undefined);
    let emitted = 0;
    const limit = q.limit ?? Infinity;
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) if (heads[i] && (best < 0 || heads[i]!.t < heads[best]!.t)) best = i;
      if (best < 0 || emitted >= limit) return;
      const { o } = heads[best]!;
      heads[best] = (await cursors[best]!.next()).value ?? undefined;
      if (fn && !fn.test(o.function)) continue;
      emitted++;
      yield o;
    }
  }

  private async *scan(
    service: string,
    from: number,
    to: number,
  ): AsyncGenerator<{ t: number; o: Observation }, undefined> {
    const key = `${this.prefix}obs:${service}`;
    let min = Number.isFinite(from) ? String(from) : '-inf';
    const max = Number.isFinite(to) ? `(${to}` : '+inf';
    let skip = 0; // members at score `min` already returned
    for (;;) {
      let page: string[];
      try {
        page = await this.client.zrange(key, min, max, 'BYSCORE', 'LIMIT', skip, PAGE, 'WITHSCORES');
      } catch (error) {
        throw this.translate(error);
      }
      for (let i = 0; i < page.length; i += 2) {
        const member = page[i]!;
        const t = Number(page[i + 1]);
        if (String(t) === min) skip++;
        else {
          min = String(t);
          skip = 1;
        }
        yield { t, o: JSON.parse(member.slice(member.indexOf('|') + 1)) as Observation };
      }
      if (page.length < PAGE * 2) return undefined;
    }
  }

  async summary(q: ObservationQuery): Promise<FunctionSummary[]> {
    const services = await this.servicesFor(q);
    const fn = q.function ? globToRegExp(q.function) : undefined;
    const pruned = Number((await this.call(() => this.client.get(`${this.prefix}pruned`))) ?? '-Infinity');
    const acc = new Map<string, Group>();
    const add = (g: Group) => {
      if (fn && !fn.test(g.function)) return;
      const key = `${g.service}\u0000${groupField(g.function, g.nodeHash, g.binaryPath)}`;
      const cur = acc.get(key);
      if (!cur) acc.set(key, { ...g });
      else {
        cur.hits += g.hits;
        cur.records += g.records;
        cur.first = Math.min(cur.first, g.first);
        cur.last = Math.max(cur.last, g.last);
      }
    };
    for (const service of services) {
      const oldest = await this.call(() => this.client.zrange(`${this.prefix}obs:${service}`, 0, 0, 'WITHSCORES'));
      if (oldest.length === 0) continue;
      const from = Math.max(q.from?.getTime() ?? -Infinity, this.cutoff(), pruned, Number(oldest[1]));
      const to = q.to?.getTime() ?? this.now() + 2 * HOUR_MS;
      if (!(from < to)) continue;
      // Whole buckets inside [from, to) come from the counter hashes; the edges are scanned.
      const firstBucket = Math.ceil(from / BUCKET_MS) * BUCKET_MS;
      const endBucket = Math.floor(to / BUCKET_MS) * BUCKET_MS;
      const edges: [number, number][] = [];
      if (firstBucket < endBucket) {
        const pipe = this.client.pipeline();
        for (let h = firstBucket; h < endBucket; h += BUCKET_MS) pipe.hgetall(`${this.prefix}fn:${service}:${h}`);
        const res = await this.call(() => pipe.exec());
        for (const [err, hash] of res ?? []) {
          if (err) throw this.translate(err);
          for (const g of groupsFromHash(service, hash as Record<string, string>)) add(g);
        }
        edges.push([from, firstBucket], [endBucket, to]);
      } else edges.push([from, to]);
      for (const [a, b] of edges) {
        if (!(a < b)) continue;
        for await (const { t, o } of this.scan(service, a, b)) {
          add({
            service,
            function: o.function,
            ...(o.nodeHash ? { nodeHash: o.nodeHash } : {}),
            binaryPath: o.binaryPath,
            hits: o.hitCount,
            records: 1,
            first: t,
            last: t,
          });
        }
      }
    }
    return sortSummaries(
      [...acc.values()].map((g) => ({
        service: g.service,
        function: g.function,
        ...(g.nodeHash ? { nodeHash: g.nodeHash } : {}),
        binaryPath: g.binaryPath,
        hitCount: g.hits,
        records: g.records,
        firstSeen: new Date(g.first).toISOString(),
        lastSeen: new Date(g.last).toISOString(),
      })),
    );
  }

  async prune(cutoff: Date): Promise<number> {
    const c = cutoff.getTime();
    let removed = 0;
    for (const service of await this.servicesFor({})) {
      removed += await this.call(() => this.client.zremrangebyscore(`${this.prefix}obs:${service}`, '-inf', `(${c}`));
      // Bucket hashes wholly before the cutoff go; the one holding the cutoff is fenced by `pruned`.
      let cursor = '0';
      do {
        const [next, keys] = await this.call(() =>
          this.client.scan(cursor, 'MATCH', `${this.prefix}fn:${service}:*`, 'COUNT', 1000),
        );
        cursor = next;
        const old = keys.filter((k) => Number(k.slice(k.lastIndexOf(':') + 1)) + BUCKET_MS <= c);
        if (old.length) await this.call(() => this.client.del(...old));
      } while (cursor !== '0');
    }
    const prev = Number((await this.call(() => this.client.get(`${this.prefix}pruned`))) ?? '-Infinity');
    if (c > prev) await this.call(() => this.client.set(`${this.prefix}pruned`, String(c)));
    return removed;
  }

  /** Trims the sorted sets to retention (bucket hashes expire on their own). */
  async applyRetention(): Promise<number> {
    if (!(this.o.retentionHours > 0)) return 0;
    let removed = 0;
    for (const service of await this.servicesFor({})) {
      removed += await this.call(() =>
        this.client.zremrangebyscore(`${this.prefix}obs:${service}`, '-inf', `(${this.cutoff()}`),
      );
    }
    if (removed > 0) this.logger.info('valkey store: trimmed observations past retention', { removed });
    return removed;
  }

  async close(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private cutoff(): number {
    return this.o.retentionHours > 0 ? this.now() - this.o.retentionHours * HOUR_MS : -Infinity;
  }

  private async servicesFor(q: ObservationQuery): Promise<string[]> {
    if (q.service !== undefined) return [q.service];
    return (await this.call(() => this.client.smembers(`${this.prefix}services`))).sort();
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.translate(error);
    }
  }

  translate(error: unknown): unknown {
    if (!isConnectionError(error)) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new StoreUnavailableError('valkey', `${this.target} is unavailable: ${reason}`, { cause: error });
  }
}

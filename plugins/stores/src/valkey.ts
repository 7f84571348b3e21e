// SPDX-License-Identifier: Apache-2.0
import { randomUUID } from 'node:crypto';
import type { FunctionSummary, Logger, Observation, ObservationQuery, ObservationStore } from '@stella/sdk';
import { isStoreUnavailableError, StoreUnavailableError } from '@stella/sdk';
import { Cluster, type Redis as Valkey } from 'iovalkey';
import { globToRegExp } from './glob.js';
import { observedAtMs, sortSummaries } from './records.js';
import type { ValkeyStoreOptions } from './types.js';
import { isConnectionError } from './unavailable.js';
import { createValkeyClient, describeValkeyTarget, type ValkeyClient } from './valkey-client.js';
import { BUCKET_MS, type Group, groupField, groupsFromHash, ValkeyKeys } from './valkey-layout.js';

export { describeValkeyTarget };

const HOUR_MS = 3_600_000;
/** How long one WAIT may hold an append for its replicas before the append counts as unavailable. */
const WAIT_TIMEOUT_MS = 2000;

export type ValkeyStoreConfig = ValkeyStoreOptions & { retentionHours: number; maxBatchSize?: number };
const PAGE = 2000;

type Pipeline = {
  stellaApply(...a: (string | number)[]): void;
  sadd(key: string, ...members: string[]): void;
  wait(replicas: number, timeoutMs: number): void;
  exec(): Promise<[Error | null, unknown][] | null>;
};

/** One service's share of one chunk of a batch: the arguments of one APPLY_SERVICE_CHUNK call. */
interface ServiceChunk {
  service: string;
  args: (string | number)[];
}

/**
 * Valkey store, single server or Cluster (layout in valkey-layout.ts, connection in
 * valkey-client.ts).
 */
export class ValkeyObservationStore implements ObservationStore {
  readonly name = 'valkey';
  private readonly prefix: string;
  private readonly keys: ValkeyKeys;
  private readonly now: () => number;
  private readonly target: string;
  private readonly waitReplicas: number;
  private readonly batchIds = new WeakMap<Observation[], string>();
  private readonly knownServices = new Set<string>();
  private retentionTimer?: NodeJS.Timeout;

  private constructor(
    private readonly client: ValkeyClient,
    private readonly o: ValkeyStoreConfig,
    private readonly logger: Logger,
  ) {
    this.prefix = o.keyPrefix ?? 'stella:';
    const cluster = client instanceof Cluster;
    this.keys = new ValkeyKeys(this.prefix, cluster);
    this.now = o.now ?? Date.now;
    this.target = describeValkeyTarget(o);
    this.waitReplicas = Math.max(0, Math.trunc(o.waitReplicas ?? (cluster ? 1 : 0)));
  }

  static async open(o: ValkeyStoreConfig, logger: Logger): Promise<ValkeyObservationStore> {
    const client = createValkeyClient(o);
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
    logger.info('valkey store ready', {
      target: store.target,
      keyPrefix: store.prefix,
      waitReplicas: store.waitReplicas,
    });
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
    if (rows.length === 0) return;
    const size = Math.max(1, this.o.maxBatchSize ?? 1000);
    const chunks: ServiceChunk[] = [];
    for (let c = 0; c * size < rows.length; c++)
      chunks.push(...this.serviceChunks(`${batchId}-${c}`, rows.slice(c * size, (c + 1) * size)));
    // The services set only grows, so each store adds a service to it once (after a success):
    // later batches do not touch the shard that holds it.
    const newServices = [...new Set(chunks.map((c) => c.service))].filter((s) => !this.knownServices.has(s));
    // A cluster pipeline must stay within one slot: the services set and each service's chunks go
    // as separate pipelines, concurrently. A single server takes them all in one.
    const pipelines: Pipeline[] = [];
    const open = () => {
      const p = this.client.pipeline() as unknown as Pipeline;
      pipelines.push(p);
      return p;
    };
    if (this.keys.cluster) {
      if (newServices.length > 0) open().sadd(this.keys.services, ...newServices);
      for (const chunk of chunks) open().stellaApply(...chunk.args);
    } else {
      const pipeline = open();
      if (newServices.length > 0) pipeline.sadd(this.keys.services, ...newServices);
      for (const chunk of chunks) pipeline.stellaApply(...chunk.args);
    }
    if (this.waitReplicas > 0) for (const p of pipelines) p.wait(this.waitReplicas, WAIT_TIMEOUT_MS);
    const settled = await Promise.allSettled(pipelines.map((p) => p.exec()));
    try {
      this.checkAcknowledged(settled);
    } catch (error) {
      // The cluster client refreshes its slot map after redirections and closed connections it
      // handles itself, but not when a pipeline's replies differ (MOVED for the script beside WAIT's
      // own error from a demoted primary): without this, every retry went to that node again.
      if (this.client instanceof Cluster && isStoreUnavailableError(error)) this.client.refreshSlotsCache();
      throw error;
    }
    for (const service of newServices) this.knownServices.add(service);
  }

  /** Throws unless every pipeline ran without an error and (with WAIT) reached its replicas. */
  private checkAcknowledged(settled: PromiseSettledResult<[Error | null, unknown][] | null>[]): void {
    for (const s of settled) {
      if (s.status === 'rejected') throw this.translate(s.reason);
      const results = s.value ?? [];
      const failed = results.find(([e]) => e)?.[0];
      if (failed) throw this.translate(failed);
      if (this.waitReplicas > 0) {
        const acked = Number(results[results.length - 1]?.[1]);
        if (!(acked >= this.waitReplicas))
          throw new StoreUnavailableError(
            'valkey',
            `${this.target}: a write reached ${acked} of ${this.waitReplicas} required replica(s) within ${WAIT_TIMEOUT_MS} ms`,
          );
      }
    }
  }

  /** Splits one chunk by service: the script's keys must share a slot on a cluster. */
  private serviceChunks(chunkId: string, chunk: { o: Observation; t: number }[]): ServiceChunk[] {
    const retentionS = Math.ceil((this.o.retentionHours > 0 ? this.o.retentionHours : 24 * 365) * 3600);
    const byService = new Map<
      string,
      { members: (string | number)[]; groups: Map<string, Group & { expireAt: number; bucket: number }> }
    >();
    chunk.forEach(({ o, t }, i) => {
      let s = byService.get(o.service);
      if (!s) {
        s = { members: [], groups: new Map() };
        byService.set(o.service, s);
      }
      s.members.push(t, `${chunkId}:${i}|${JSON.stringify(o)}`);
      const bucket = Math.floor(t / BUCKET_MS) * BUCKET_MS;
      const field = groupField(o.function, o.nodeHash, o.binaryPath);
      const key = `${bucket}\u0000${field}`;
      const g = s.groups.get(key);
      if (!g) {
        s.groups.set(key, {
          service: o.service,
          function: o.function,
          binaryPath: o.binaryPath,
          hits: o.hitCount,
          records: 1,
          first: t,
          last: t,
          bucket,
          expireAt: Math.ceil((bucket + BUCKET_MS) / 1000) + retentionS,
        });
      } else {
        g.hits += o.hitCount;
        g.records++;
        g.first = Math.min(g.first, t);
        g.last = Math.max(g.last, t);
      }
    });
    const out: ServiceChunk[] = [];
    for (const [service, { members, groups }] of byService) {
      const bucketKeys = new Map<number, number>(); // bucket start → index in KEYS (1-based)
      const hargs: (string | number)[] = [];
      for (const [key, g] of groups) {
        let index = bucketKeys.get(g.bucket);
        if (index === undefined) {
          index = bucketKeys.size + 3;
          bucketKeys.set(g.bucket, index);
        }
        hargs.push(index, key.slice(key.indexOf('\u0000') + 1), g.hits, g.records, g.first, g.last, g.expireAt);
      }
      const keys = [
        this.keys.batch(service, chunkId),
        this.keys.obs(service),
        ...[...bucketKeys.keys()].map((b) => this.keys.bucket(service, b)),
      ];
      out.push({
        service,
        args: [keys.length, ...keys, members.length / 2, ...members, groups.size, ...hargs],
      });
    }
    return out;
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
    const key = this.keys.obs(service);
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
    const pruned = Number((await this.call(() => this.client.get(this.keys.pruned))) ?? '-Infinity');
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
      const oldest = await this.call(() => this.client.zrange(this.keys.obs(service), 0, 0, 'WITHSCORES'));
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
        for (let h = firstBucket; h < endBucket; h += BUCKET_MS) pipe.hgetall(this.keys.bucket(service, h));
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
    // SCAN walks one server's keyspace: on a cluster, every primary's.
    const servers: Valkey[] =
      this.client instanceof Cluster ? this.client.nodes('master') : [this.client as unknown as Valkey];
    for (const service of await this.servicesFor({})) {
      removed += await this.call(() => this.client.zremrangebyscore(this.keys.obs(service), '-inf', `(${c}`));
      // Bucket hashes wholly before the cutoff go; the one holding the cutoff is fenced by `pruned`.
      for (const server of servers) {
        let cursor = '0';
        do {
          const [next, keys] = await this.call(() =>
            server.scan(cursor, 'MATCH', this.keys.bucketPattern(service), 'COUNT', 1000),
          );
          cursor = next;
          const old = keys.filter((k) => Number(k.slice(k.lastIndexOf(':') + 1)) + BUCKET_MS <= c);
          if (old.length) await this.call(() => this.client.del(...old));
        } while (cursor !== '0');
      }
    }
    const prev = Number((await this.call(() => this.client.get(this.keys.pruned))) ?? '-Infinity');
    if (c > prev) await this.call(() => this.client.set(this.keys.pruned, String(c)));
    return removed;
  }

  /** Trims the sorted sets to retention (bucket hashes expire on their own). */
  async applyRetention(): Promise<number> {
    if (!(this.o.retentionHours > 0)) return 0;
    let removed = 0;
    for (const service of await this.servicesFor({})) {
      removed += await this.call(() =>
        this.client.zremrangebyscore(this.keys.obs(service), '-inf', `(${this.cutoff()}`),
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
    return (await this.call(() => this.client.smembers(this.keys.services))).sort();
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

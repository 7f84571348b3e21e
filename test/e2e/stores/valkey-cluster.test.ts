// SPDX-License-Identifier: Apache-2.0
/**
 * The Valkey store against a real Valkey Cluster (3 primaries, 3 replicas on loopback, started
 * here): the common store behaviour, one service's keys in one slot while services spread over the
 * shards, query and prune across shards, WAIT refusing a write no replica has, and a primary killed
 * in the middle of a run failing over with count in = count out.
 */
import type { Observation, ObservationStore } from '@stella/sdk';
import { isStoreUnavailableError, valkeyStore } from '@stella/stores';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreWriter } from '../../../core/src/export/store-writer.js';
import { startValkeyCluster, type ValkeyCluster, type ValkeyClusterNode } from '../../support/valkey-cluster.js';
import { capturingLogger, collect, observation, type StoreHarness, silent, storeConformance } from './support.js';

let cluster: ValkeyCluster | undefined;
let seq = 0;
beforeAll(async () => {
  cluster = await startValkeyCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const SKIP = 'Valkey is not installed on this machine (see the servers: line above)';
const HOUR = 3_600_000;

function openStore(
  keyPrefix: string,
  o: { retentionHours?: number; now?: () => number; maxBatchSize?: number } = {},
): Promise<ObservationStore> {
  const c = cluster as ValkeyCluster;
  return valkeyStore(o.now ? { now: o.now } : {}).create(
    {
      retentionHours: o.retentionHours ?? 72,
      maxBatchSize: o.maxBatchSize ?? 1000,
      clusterNodes: c.seeds.slice(0, 2), // a couple of seeds: the client learns the rest
      password: c.password,
      keyPrefix,
    },
    { logger: silent },
  );
}

/** Every key under `prefix`, per primary port (SCAN runs per server). */
async function keysByPrimary(prefix: string): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const p of await (cluster as ValkeyCluster).primaries()) {
    const keys = (await p.cli('--scan', '--pattern', `${prefix}*`)).split('\n').filter(Boolean);
    if (keys.length) out.set(p.port, keys);
  }
  return out;
}

async function replicaLinkUp(node: ValkeyClusterNode, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!/master_link_status:up/.test(await node.cli('INFO', 'replication').catch(() => ''))) {
    if (Date.now() > deadline) throw new Error(`replica on ${node.port} did not sync in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const services = Array.from({ length: 12 }, (_, i) => `svc-${i}`);
const spread = (i: number, at: number): Observation => observation(i, at, { service: services[i % 12]!, tid: i });

describe('valkey store on a Valkey Cluster', () => {
  storeConformance((): StoreHarness | undefined => {
    if (!cluster) return undefined;
    const prefix = `c${process.pid}-${++seq}:`;
    // No `restart`: a whole-cluster outage is the single-server outage path (unavailable, held,
    // retried), which valkey.test.ts covers; the cluster's own case is the failover test below.
    return { open: (o) => openStore(prefix, o) };
  });

  it("keeps one service's keys in one slot and spreads services over the shards", async (ctx) => {
    if (!cluster) return ctx.skip(SKIP);
    const prefix = `slots${process.pid}:`;
    const store = await openStore(prefix, { maxBatchSize: 50 });
    try {
      const t0 = Date.now() - 2 * HOUR;
      await store.append(Array.from({ length: 600 }, (_, i) => spread(i, t0 + i * 20_000)));
      const byPrimary = await keysByPrimary(prefix);
      expect(byPrimary.size).toBeGreaterThanOrEqual(2);
      const home = new Map<string, number>();
      for (const [port, keys] of byPrimary) {
        for (const key of keys) {
          const tag = /\{([^}]*)\}/.exec(key)?.[1];
          if (tag === undefined) {
            expect([`${prefix}services`]).toContain(key);
            continue;
          }
          expect(home.get(tag) ?? port, key).toBe(port);
          home.set(tag, port);
        }
      }
      expect([...home.keys()].sort()).toEqual([...services].sort());
    } finally {
      await store.close();
    }
  });

  it('queries in observedAt order and prunes across every shard', async (ctx) => {
    if (!cluster) return ctx.skip(SKIP);
    const prefix = `prune${process.pid}:`;
    const store = await openStore(prefix);
    try {
      const t0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR;
      const batch = Array.from({ length: 1200 }, (_, i) => spread(i, t0 + i * 15_000)); // 5 h
      await store.append(batch);
      const all = await collect(store.query({}));
      expect(all.map((o) => o.tid)).toEqual(batch.map((o) => o.tid));
      const summary = await store.summary({});
      expect(summary.reduce((n, s) => n + s.records, 0)).toBe(1200);

      const cutoff = t0 + 2 * HOUR + 7 * 60_000; // inside a 5-minute bucket
      const removed = await store.prune(new Date(cutoff));
      const kept = batch.filter((o) => Date.parse(o.observedAt) >= cutoff);
      expect(removed).toBe(1200 - kept.length);
      expect((await collect(store.query({}))).map((o) => o.tid)).toEqual(kept.map((o) => o.tid));
      expect((await store.summary({})).reduce((n, s) => n + s.records, 0)).toBe(kept.length);
      // No bucket hash wholly before the cutoff is left on any shard.
      for (const keys of (await keysByPrimary(`${prefix}fn:`)).values())
        for (const k of keys) expect(Number(k.slice(k.lastIndexOf(':') + 1)) + 300_000, k).toBeGreaterThan(cutoff);
    } finally {
      await store.close();
    }
  });

  it('refuses a write as unavailable while its shard has no replica to acknowledge it (WAIT)', async (ctx) => {
    if (!cluster) return ctx.skip(SKIP);
    const prefix = `wait${process.pid}:`;
    const store = await openStore(prefix);
    const shardOf = async (key: string) => (await cluster!.primaryFor(key)).port;
    // The victim shard holds a service but not the services set (which a new service's first batch
    // also writes), so only that service's writes have to wait.
    const servicesShard = await shardOf(`${prefix}services`);
    let victim: string | undefined;
    for (const s of services) if (!victim && (await shardOf(`${prefix}obs:{${s}}`)) !== servicesShard) victim = s;
    expect(victim).toBeDefined();
    const primary = await cluster.primaryFor(`${prefix}obs:{${victim}}`);
    let other: string | undefined;
    for (const s of services) if (!other && (await shardOf(`${prefix}obs:{${s}}`)) !== primary.port) other = s;
    expect(other).toBeDefined();
    const [replica] = await cluster.replicasOf(primary);
    expect(replica).toBeDefined();
    try {
      await replica!.kill();
      const err = await store.append([observation(1, Date.now(), { service: victim! })]).catch((e: unknown) => e);
      expect(isStoreUnavailableError(err)).toBe(true);
      expect((err as Error).message).toMatch(/reached 0 of 1 required replica/);
      expect((err as Error).message).not.toContain(cluster.password);
      // Another shard still has its replica: writes there go on.
      await store.append([observation(3, Date.now(), { service: other! })]);
      expect(await collect(store.query({ service: other! }))).toHaveLength(1);
    } finally {
      await replica!.start();
      await replicaLinkUp(replica!);
    }
    // The refused write did reach the primary (WAIT only withholds the acknowledgement); once the
    // replica is back, the next write is acknowledged again.
    await store.append([observation(2, Date.now(), { service: victim! })]);
    expect(await collect(store.query({ service: victim! }))).toHaveLength(2);
    await store.close();
  });

  it('fails over a primary killed in the middle of a run with no acknowledged observation lost', async (ctx) => {
    if (!cluster) return ctx.skip(SKIP);
    const prefix = `failover${process.pid}:`;
    const store = await openStore(prefix, { maxBatchSize: 200 });
    const log = capturingLogger();
    const writer = new StoreWriter({
      store,
      maxBatchSize: 200,
      logger: log,
      lingerMs: 20,
      retryInitialDelayMs: 50,
      retryMaxDelayMs: 500,
      // Held while the shard elects a primary and its replica rejoins (a few seconds at 5000/s).
      maxPendingBytes: 64 * 1024 * 1024,
    });
    const t0 = Date.now() - HOUR;
    let sent = 0;
    let stop = false;
    const producer = (async () => {
      while (!stop) {
        writer.write(Array.from({ length: 100 }, (_, i) => spread(sent + i, t0 + sent + i)));
        sent += 100;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const victim = await cluster.primaryFor(`${prefix}obs:{svc-0}`);
    try {
      await new Promise((r) => setTimeout(r, 500));
      await victim.kill();
      await cluster.waitUntilHealthy(); // a replica took over the victim's slots
      const successor = await cluster.primaryFor(`${prefix}obs:{svc-0}`);
      expect(successor.port).not.toBe(victim.port);
      // The successor has no replica until the old primary rejoins as one: writes wait for it.
      await victim.start();
      await replicaLinkUp(victim);
      await new Promise((r) => setTimeout(r, 500));
      stop = true;
      await producer;
      await writer.close(60_000);
      const stats = writer.stats();
      // On failure, say why: each drop's reason and the last store error.
      const why = [...log.lines.filter((l) => l.includes('dropped')).slice(0, 5), stats.lastError].join('\n');
      expect(stats.dropped.store_error, why).toBe(0);
      expect(stats.written).toBe(sent);
      expect(stats.retries).toBeGreaterThan(0);
      const rows = await collect(store.query({}));
      expect(rows).toHaveLength(sent);
      expect(new Set(rows.map((o) => o.tid)).size).toBe(sent);
      expect((await store.summary({})).reduce((n, s) => n + s.records, 0)).toBe(sent);
    } finally {
      stop = true;
      await producer;
      await store.close();
    }
  }, 90_000);

  it('a writer asleep through the whole failover and the old primary’s return still loses nothing', async (ctx) => {
    if (!cluster) return ctx.skip(SKIP);
    // The writer's backoff (up to 30 s by default) can span a whole election and the old primary's
    // restart, so the client's first command after it goes by a slot map that still names the old
    // primary, which answers MOVED (for the script) beside WAIT's own error. The client follows
    // neither for such a pipeline; the store must refresh the map and retry, never drop.
    const prefix = `asleep${process.pid}:`;
    const store = await openStore(prefix, { maxBatchSize: 200 });
    let gate: Promise<void> | undefined;
    let openGate = () => {};
    const gated: ObservationStore = Object.create(store);
    gated.append = async (batch) => {
      while (gate) await gate;
      return store.append(batch);
    };
    const log = capturingLogger();
    const writer = new StoreWriter({
      store: gated,
      maxBatchSize: 200,
      logger: log,
      lingerMs: 20,
      retryInitialDelayMs: 50,
      retryMaxDelayMs: 500,
    });
    const t0 = Date.now() - HOUR;
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => spread(from + i, t0 + from + i));
    try {
      writer.write(batch(0, 1200));
      await writer.flush(); // the client has routed to every shard
      const victim = await cluster.primaryFor(`${prefix}obs:{svc-0}`);
      gate = new Promise((resolve) => {
        openGate = resolve;
      });
      writer.write(batch(1200, 2400)); // one chunk waits at the gate, the rest are queued
      await victim.kill();
      await cluster.waitUntilHealthy();
      await victim.start();
      gate = undefined;
      openGate();
      await writer.close(60_000);
      const stats = writer.stats();
      const why = [...log.lines.filter((l) => l.includes('dropped')).slice(0, 5), stats.lastError].join('\n');
      expect(stats.dropped.store_error, why).toBe(0);
      expect(stats.written).toBe(3600);
      const rows = await collect(store.query({}));
      expect(new Set(rows.map((o) => o.tid)).size).toBe(3600);
      expect(rows).toHaveLength(3600);
      await replicaLinkUp(victim);
    } finally {
      openGate();
      await store.close();
    }
  }, 90_000);
});

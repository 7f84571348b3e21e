// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { builtinStores, MemoryObservationStore, memoryStore } from '../src/index.js';
import { observation } from './support.js';

const T0 = Date.parse('2025-03-01T12:00:00.000Z');
const collect = async (it: AsyncIterable<Observation>) => {
  const out: Observation[] = [];
  for await (const o of it) out.push(o);
  return out;
};

describe('memory store', () => {
  it('returns records in observedAt order, whatever the arrival order', async () => {
    const store = new MemoryObservationStore({ now: () => T0 + 60_000 });
    const batch = [5, 1, 3, 2, 4, 0].map((k) => observation(k, T0 + k * 1000));
    await store.append(batch);
    const got = await collect(store.query({}));
    expect(got.map((o) => o.observedAt)).toEqual([0, 1, 2, 3, 4, 5].map((k) => new Date(T0 + k * 1000).toISOString()));
  });

  it('filters by half-open window, service and function glob', async () => {
    const store = new MemoryObservationStore({ now: () => T0 + 3_600_000 });
    await store.append(Array.from({ length: 100 }, (_, i) => observation(i, T0 + i * 1000)));
    const win = await collect(store.query({ from: new Date(T0 + 10_000), to: new Date(T0 + 20_000) }));
    expect(win).toHaveLength(10);
    expect(win[0]!.observedAt).toBe(new Date(T0 + 10_000).toISOString());
    const crypto = await collect(store.query({ function: 'crypto/*', service: 'checkout' }));
    expect(crypto.length).toBeGreaterThan(0);
    expect(crypto.every((o) => o.function.startsWith('crypto/') && o.service === 'checkout')).toBe(true);
    expect(await collect(store.query({ function: '*' }))).toHaveLength(0); // `*` never crosses '/'
    expect(await collect(store.query({ function: '**' }))).toHaveLength(100);
    expect(await collect(store.query({ limit: 7 }))).toHaveLength(7);
  });

  it('summarises hit counts and first/last seen per function', async () => {
    const store = new MemoryObservationStore({ now: () => T0 + 3_600_000 });
    const batch = Array.from({ length: 40 }, (_, i) => observation(i, T0 + i * 1000));
    await store.append(batch);
    const summary = await store.summary({ service: 'checkout' });
    const handshake = summary.find((s) => s.function === 'tls/SSL_do_handshake')!;
    const expected = batch.filter((o) => o.service === 'checkout' && o.function === 'tls/SSL_do_handshake');
    expect(handshake.records).toBe(expected.length);
    expect(handshake.hitCount).toBe(expected.reduce((n, o) => n + o.hitCount, 0));
    expect(handshake.firstSeen).toBe(expected[0]!.observedAt);
    expect(handshake.lastSeen).toBe(expected.at(-1)!.observedAt);
    expect(summary.every((s) => s.service === 'checkout')).toBe(true);
  });

  it('enforces retention on append, query and prune', async () => {
    let now = T0;
    const store = new MemoryObservationStore({ retentionHours: 1, now: () => now });
    await store.append([observation(0, T0 - 2 * 3_600_000)]); // already past retention
    await store.append([observation(1, T0 - 1000), observation(2, T0)]);
    expect(store.stats().expired).toBe(1);
    expect(await collect(store.query({}))).toHaveLength(2);
    now = T0 + 3_600_000 - 500; // the first record is now past retention
    expect(await collect(store.query({}))).toHaveLength(1);
    expect(await store.prune(new Date(T0 + 1))).toBe(1);
    expect(await collect(store.query({}))).toHaveLength(0);
  });

  it('stays within its byte bound, evicting the oldest and counting them', async () => {
    const store = new MemoryObservationStore({ maxBytes: 50_000, now: () => T0 + 3_600_000 });
    for (let b = 0; b < 50; b++) {
      await store.append(Array.from({ length: 100 }, (_, i) => observation(b * 100 + i, T0 + b * 100 + i)));
      expect(store.approxBytes()).toBeLessThanOrEqual(50_000);
    }
    const stats = store.stats();
    expect(stats.evicted).toBeGreaterThan(0);
    expect(stats.records + stats.evicted).toBe(5000);
    const kept = await collect(store.query({}));
    expect(kept[0]!.observedAt).toBe(new Date(T0 + stats.evicted).toISOString()); // oldest went first
    expect(kept.at(-1)!.observedAt).toBe(new Date(T0 + 4999).toISOString());
  });

  it('reports memory use that grows with the records held', async () => {
    const store = new MemoryObservationStore({});
    const before = store.approxBytes();
    await store.append(Array.from({ length: 1000 }, (_, i) => observation(i, Date.now())));
    expect(store.approxBytes() - before).toBeGreaterThan(1000 * 200);
    expect(store.approxBytes()).toBeLessThan(1000 * 2000);
  });

  it('rejects a batch with an invalid time as a unit', async () => {
    const store = new MemoryObservationStore({});
    await expect(
      store.append([observation(0, Date.now()), { ...observation(1, 0), observedAt: 'yesterday' }]),
    ).rejects.toThrow(/observation 1: observedAt "yesterday"/);
    expect(store.stats().records).toBe(0);
  });

  it('is served by the memory plugin and listed with the built-in stores', async () => {
    expect(builtinStores().map((p) => p.type)).toEqual(['memory', 'postgres', 'valkey']);
    const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
    const store = await memoryStore().create(
      { retentionHours: 72, maxBatchSize: 1000, memory: { maxBytes: 1234 } },
      {
        logger: silent,
      },
    );
    expect((store as MemoryObservationStore).stats().maxBytes).toBe(1234);
    await store.close();
  });
});

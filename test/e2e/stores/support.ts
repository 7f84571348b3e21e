// SPDX-License-Identifier: Apache-2.0
import type { Logger, Observation, ObservationStore } from '@stella/sdk';
import { expect, it } from 'vitest';
import { StoreWriter } from '../../../core/src/export/store-writer.js';
import { observation } from '../../../plugins/stores/test/support.js';

/** The store tests' deterministic observation, shared with the package's own tests. */
export { observation };

export const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** A logger that keeps every line, to assert what was (not) logged. */
export function capturingLogger(lines: string[] = []): Logger & { lines: string[] } {
  const make = (b: Record<string, unknown>): Logger => {
    const w = (level: string) => (msg: string, f?: Record<string, unknown>) => {
      lines.push(`${level} ${msg} ${JSON.stringify({ ...b, ...f }, (_k, v) => (v instanceof Error ? v.message : v))}`);
    };
    return {
      debug: w('debug'),
      info: w('info'),
      warn: w('warn'),
      error: w('error'),
      child: (c) => make({ ...b, ...c }),
    };
  };
  return Object.assign(make({}), { lines });
}

export async function collect(it: AsyncIterable<Observation>): Promise<Observation[]> {
  const out: Observation[] = [];
  for await (const o of it) out.push(o);
  return out;
}

export interface StoreHarness {
  /** A fresh, empty store (own schema / key prefix) with the given retention. */
  open(opts?: { retentionHours?: number; now?: () => number; maxBatchSize?: number }): Promise<ObservationStore>;
  /** Stops and restarts the server (data kept). */
  restart?: (whileDown: () => Promise<void>) => Promise<void>;
}

const HOUR = 3_600_000;

/** The behaviour every store must show, run against its real server. */
/** `h` is called once per test and must give a fresh namespace (schema, key prefix) each time. */
export function storeConformance(h: () => StoreHarness | undefined): void {
  const now = Date.now();
  const T0 = now - 2 * HOUR;

  it('round-trips every field of the record', async (ctx) => {
    const harness = h();
    if (!harness) return ctx.skip('the store server is not installed on this machine (see the servers: line above)');
    const store = await harness.open();
    try {
      const full: Observation = {
        ...observation(1, T0 + 1),
        buildId: 'ab12cd34',
        containerId: 'c0ffee',
        cgroupId: '12345',
        windowStart: new Date(T0).toISOString(),
        windowEnd: new Date(T0 + 1000).toISOString(),
        sampleRate: 0.25,
        algorithm: 'SHA-256',
        comm: 'tab\there\nnewline\\back',
      };
      const minimal: Observation = { ...observation(2, T0 + 2) };
      delete minimal.purl;
      delete minimal.nodeHash;
      delete minimal.tid;
      await store.append([full, minimal]);
      expect(await collect(store.query({}))).toEqual([full, minimal]);
    } finally {
      await store.close();
    }
  });

  it('answers half-open windows in observedAt order, with service and function filters', async (ctx) => {
    const harness = h();
    if (!harness) return ctx.skip('the store server is not installed on this machine (see the servers: line above)');
    const store = await harness.open();
    try {
      const batch = Array.from({ length: 300 }, (_, i) => observation(i, T0 + ((i * 7919) % 300) * 1000));
      await store.append(batch);
      const win = await collect(store.query({ from: new Date(T0 + 100_000), to: new Date(T0 + 200_000) }));
      expect(win).toHaveLength(100);
      const times = win.map((o) => Date.parse(o.observedAt));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(times[0]).toBe(T0 + 100_000);
      expect(times.at(-1)).toBe(T0 + 199_000);
      const fn = await collect(store.query({ service: 'checkout', function: 'crypto/EVP_*' }));
      expect(fn).toHaveLength(
        batch.filter((o) => o.service === 'checkout' && o.function.startsWith('crypto/EVP_')).length,
      );
      expect(await collect(store.query({ function: '*' }))).toHaveLength(0);
      expect(await collect(store.query({ function: 'net/connect' }))).toHaveLength(75);
      expect(await collect(store.query({ limit: 10 }))).toHaveLength(10);
    } finally {
      await store.close();
    }
  });

  it('summarises per function with hit counts and first/last seen over a window', async (ctx) => {
    const harness = h();
    if (!harness) return ctx.skip('the store server is not installed on this machine (see the servers: line above)');
    const store = await harness.open();
    try {
      const batch = Array.from({ length: 400 }, (_, i) => observation(i, T0 + i * 10_000)); // 4000 s, crosses hours
      await store.append(batch);
      const from = new Date(T0 + 5 * 60_000 + 5000);
      const to = new Date(T0 + 3000 * 1000);
      const summary = await store.summary({ service: 'checkout', from, to });
      const inWin = batch.filter(
        (o) => o.service === 'checkout' && Date.parse(o.observedAt) >= +from && Date.parse(o.observedAt) < +to,
      );
      const fns = [...new Set(inWin.map((o) => o.function))].sort();
      expect(summary.map((s) => s.function)).toEqual(fns);
      for (const s of summary) {
        const rows = inWin.filter((o) => o.function === s.function);
        expect(s).toEqual({
          service: 'checkout',
          function: s.function,
          nodeHash: rows[0]!.nodeHash,
          binaryPath: rows[0]!.binaryPath,
          hitCount: rows.reduce((n, o) => n + o.hitCount, 0),
          records: rows.length,
          firstSeen: rows[0]!.observedAt,
          lastSeen: rows.at(-1)!.observedAt,
        });
      }
      const tls = await store.summary({ function: 'tls/*' });
      expect(tls.every((s) => s.function === 'tls/SSL_do_handshake')).toBe(true);
      expect(tls.reduce((n, s) => n + s.records, 0)).toBe(100);
    } finally {
      await store.close();
    }
  });

  it('prunes what is older than a cutoff and keeps the rest', async (ctx) => {
    const harness = h();
    if (!harness) return ctx.skip('the store server is not installed on this machine (see the servers: line above)');
    const store = await harness.open({ retentionHours: 72 });
    try {
      const old = Array.from({ length: 50 }, (_, i) => observation(i, now - 50 * HOUR + i * 1000));
      const fresh = Array.from({ length: 30 }, (_, i) => observation(i, now - HOUR + i * 1000));
      await store.append([...old, ...fresh]);
      const removed = await store.prune(new Date(now - 48 * HOUR));
      expect(removed).toBe(50);
      expect(await collect(store.query({}))).toHaveLength(30);
      expect((await store.summary({})).reduce((n, s) => n + s.records, 0)).toBe(30);
    } finally {
      await store.close();
    }
  });

  it('drops records past retention_hours', async (ctx) => {
    const harness = h();
    if (!harness) return ctx.skip('the store server is not installed on this machine (see the servers: line above)');
    const store = await harness.open({ retentionHours: 1 });
    try {
      await store.append([observation(0, now - 3 * HOUR), observation(1, now - 1000)]);
      const rows = await collect(store.query({}));
      expect(rows.map((o) => o.tid)).toEqual([2001]);
    } finally {
      await store.close();
    }
  });

  it('takes concurrent writers without losing or duplicating a record', async (ctx) => {
    const harness = h();
    if (!harness) return ctx.skip('the store server is not installed on this machine (see the servers: line above)');
    const stores = await Promise.all([1, 2, 3, 4].map(() => harness.open()));
    try {
      await Promise.all(
        stores.map(async (s, w) => {
          for (let b = 0; b < 10; b++) {
            await s.append(
              Array.from({ length: 250 }, (_, i) => observation(i, T0 + i * 100, { tid: w * 100_000 + b * 1000 + i })),
            );
          }
        }),
      );
      const rows = await collect(stores[0]!.query({}));
      expect(rows).toHaveLength(4 * 10 * 250);
      expect(new Set(rows.map((o) => o.tid)).size).toBe(10_000);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('loses nothing when the server restarts in the middle of a run (count in = count out)', async (ctx) => {
    const harness = h();
    if (!harness) return ctx.skip('the store server is not installed on this machine (see the servers: line above)');
    if (!harness.restart) return ctx.skip('this store harness cannot restart its server');
    const store = await harness.open({ maxBatchSize: 200 });
    const writer = new StoreWriter({
      store,
      maxBatchSize: 200,
      logger: silent,
      lingerMs: 20,
      retryInitialDelayMs: 50,
      retryMaxDelayMs: 500,
    });
    let sent = 0;
    let stop = false;
    const producer = (async () => {
      while (!stop) {
        writer.write(Array.from({ length: 100 }, (_, i) => observation(i, T0 + sent + i, { tid: sent + i })));
        sent += 100;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 400));
      await harness.restart(async () => {
        await new Promise((r) => setTimeout(r, 800)); // keep producing while the server is away
        expect(writer.stats().storeAvailable).toBe(false);
      });
      await new Promise((r) => setTimeout(r, 400));
      stop = true;
      await producer;
      await writer.close(30_000);
      const stats = writer.stats();
      expect(stats.dropped.store_error).toBe(0);
      expect(stats.retries).toBeGreaterThan(0);
      const rows = await collect(store.query({}));
      expect(rows).toHaveLength(sent);
      expect(new Set(rows.map((o) => o.tid)).size).toBe(sent);
    } finally {
      stop = true;
      await producer;
      await store.close();
    }
  });
}

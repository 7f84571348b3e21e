// SPDX-License-Identifier: Apache-2.0
import { isStoreUnavailableError, valkeyStore } from '@stella/stores';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startValkey, stopAllServers, type ValkeyServer } from '../../support/servers.js';
import { capturingLogger, collect, observation, type StoreHarness, silent, storeConformance } from './support.js';

let server: ValkeyServer | undefined;
let seq = 0;
beforeAll(async () => {
  server = await startValkey();
});
afterAll(async () => {
  await stopAllServers();
});

function openStore(
  keyPrefix: string,
  o: { retentionHours?: number; now?: () => number; maxBatchSize?: number } = {},
  logger = silent,
) {
  return valkeyStore(o.now ? { now: o.now } : {}).create(
    { retentionHours: o.retentionHours ?? 72, maxBatchSize: o.maxBatchSize ?? 1000, url: server!.url, keyPrefix },
    { logger },
  );
}

const harness = (): StoreHarness | undefined => {
  if (!server) return undefined;
  const prefix = `t${process.pid}-${++seq}:`;
  return {
    open: (o) => openStore(prefix, o),
    async restart(whileDown) {
      await server!.stop();
      await whileDown();
      await server!.start();
    },
  };
};

describe('valkey store', () => {
  storeConformance(harness);
});

describe('valkey store specifics', () => {
  it('serves summaries from the 5-minute counters and scans only the edges', async (ctx) => {
    if (!server) return ctx.skip('Valkey is not installed on this machine (see the servers: line above)');
    const prefix = `sum${process.pid}:`;
    const store = await openStore(prefix);
    try {
      const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 5 * 3_600_000;
      await store.append(
        Array.from({ length: 300 }, (_, i) => observation(i * 4, hour + i * 60_000, { service: 'svc' })),
      );
      // Remove the raw records of one whole hour: a summary over it still counts them (from the
      // counters), which proves the counter path is taken for whole buckets.
      await server.cli('ZREMRANGEBYSCORE', `${prefix}obs:svc`, String(hour + 3_600_000), `(${hour + 7_200_000}`);
      const whole = await store.summary({ from: new Date(hour), to: new Date(hour + 3 * 3_600_000) });
      expect(whole.reduce((n, s) => n + s.records, 0)).toBe(180);
      const edge = await store.summary({ from: new Date(hour + 30 * 60_000 + 30_000), to: new Date(hour + 3_600_000) });
      expect(edge.reduce((n, s) => n + s.records, 0)).toBe(29); // 31..59 min: a partial bucket scanned, then counters
      // Into the removed hour: whole buckets come from the counters (55..69 min = 15), while a partial
      // bucket at the edge is scanned from the raw records, which are gone (60..62 min count 0).
      const whole3 = await store.summary({ from: new Date(hour + 55 * 60_000), to: new Date(hour + 70 * 60_000) });
      expect(whole3.reduce((n, s) => n + s.records, 0)).toBe(15);
      const partial = await store.summary({ from: new Date(hour + 55 * 60_000), to: new Date(hour + 62 * 60_000 + 1) });
      expect(partial.reduce((n, s) => n + s.records, 0)).toBe(5);
    } finally {
      await store.close();
    }
  });

  it('reports an unreachable server as StoreUnavailableError, and never logs the password', async (ctx) => {
    if (!server) return ctx.skip('Valkey is not installed on this machine (see the servers: line above)');
    const logger = capturingLogger();
    const store = await openStore(`pw${process.pid}:`, {}, logger);
    await server.stop();
    try {
      const err = await store.append([observation(1, Date.now())]).catch((e: unknown) => e);
      expect(isStoreUnavailableError(err)).toBe(true);
      expect((err as Error).message).toMatch(/valkey 127\.0\.0\.1:\d+\/0 is unavailable/);
      expect((err as Error).message).not.toContain(server.password);
    } finally {
      await server.start();
    }
    // Reconnects on its own.
    for (let i = 0; i < 50; i++) {
      const ok = await store.append([observation(2, Date.now())]).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await collect(store.query({}))).toHaveLength(1);
    await store.close();
    expect(logger.lines.join('\n')).not.toContain(server.password);
    expect(logger.lines.join('\n')).toContain('valkey store ready');
  });
});

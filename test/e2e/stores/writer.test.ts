// SPDX-License-Identifier: Apache-2.0
import { approxObservationBytes, valkeyStore } from '@stella/stores';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreWriter } from '../../../core/src/export/store-writer.js';
import { startValkey, stopAllServers, type ValkeyServer } from '../../support/servers.js';
import { capturingLogger, collect, observation, silent } from './support.js';

let server: ValkeyServer | undefined;
beforeAll(async () => {
  server = await startValkey({ name: 'writer' });
});
afterAll(async () => {
  await stopAllServers();
});

describe('StoreWriter', () => {
  it('batches at max_batch_size', async (ctx) => {
    if (!server) return ctx.skip('Valkey is not installed on this machine (see the servers: line above)');
    const store = await valkeyStore().create(
      { retentionHours: 72, maxBatchSize: 1000, url: server.url, keyPrefix: 'wb:' },
      { logger: silent },
    );
    const sizes: number[] = [];
    // The real store, with each batch's size noted on the way in.
    const recorded: typeof store = {
      name: store.name,
      append: (b) => {
        sizes.push(b.length);
        return store.append(b);
      },
      query: (q) => store.query(q),
      summary: (q) => store.summary(q),
      prune: (c) => store.prune(c),
      close: () => store.close(),
    };
    const writer = new StoreWriter({ store: recorded, maxBatchSize: 300, logger: silent, lingerMs: 10 });
    writer.write(Array.from({ length: 1000 }, (_, i) => observation(i, Date.now() - 1000 + i, { tid: i })));
    await writer.close();
    expect(sizes).toEqual([300, 300, 300, 100]);
    expect(await collect(store.query({}))).toHaveLength(1000);
    await store.close();
  });

  it('keeps within its bound while the store is down, counts the rest as store_error, and writes what it kept', async (ctx) => {
    if (!server) return ctx.skip('Valkey is not installed on this machine (see the servers: line above)');
    const store = await valkeyStore().create(
      { retentionHours: 72, maxBatchSize: 100, url: server.url, keyPrefix: 'wd:' },
      { logger: silent },
    );
    const drops: number[] = [];
    const logger = capturingLogger();
    const perRecord = approxObservationBytes(observation(0, Date.now()));
    const writer = new StoreWriter({
      store,
      maxBatchSize: 100,
      logger,
      lingerMs: 10,
      retryInitialDelayMs: 20,
      retryMaxDelayMs: 200,
      maxPendingBytes: perRecord * 500,
      onDrop: (_reason, n) => drops.push(n),
    });
    await server.stop();
    try {
      // The bound is for outages: it applies once a write has found the store down.
      writer.write([observation(0, Date.now() - 6000, { tid: -1 })]);
      for (const deadline = Date.now() + 10_000; !logger.lines.some((l) => /store unavailable/.test(l)); ) {
        if (Date.now() > deadline) throw new Error('the writer never found the store down');
        await new Promise((r) => setTimeout(r, 10));
      }
      for (let b = 0; b < 20; b++)
        writer.write(
          Array.from({ length: 100 }, (_, i) => observation(i, Date.now() - 5000 + b * 100 + i, { tid: b * 100 + i })),
        );
      const stats = writer.stats();
      expect(stats.pendingBytes).toBeLessThanOrEqual(perRecord * 520);
      expect(stats.dropped.store_error).toBeGreaterThan(1000);
      expect(drops.reduce((a, b) => a + b, 0)).toBe(stats.dropped.store_error);
    } finally {
      await server.start();
    }
    await writer.close(20_000);
    const stats = writer.stats();
    const rows = await collect(store.query({}));
    expect(rows.length + stats.dropped.store_error).toBe(2001);
    // The newest were kept: drops took the oldest first.
    expect(Math.max(...rows.map((o) => o.tid!))).toBe(1999);
    expect(logger.lines.some((l) => /warn observations dropped .*store_error/.test(l))).toBe(true);
    await store.close();
  });
});

// SPDX-License-Identifier: Apache-2.0
/**
 * PostgreSQL under a fleet's writes: several agents' stores (each its own pool, as on separate nodes)
 * append into the same day partitions at once, while new day partitions are created by whoever gets
 * there first and another store drops old partitions (explicit `prune` and automatic retention with a
 * shorter retention) under the writers' feet. No append may fail and no row may be lost: every row of
 * a day nobody prunes is there exactly once; rows of the pruned day are there at most once.
 */
import type { Observation, ObservationStore } from '@stella/sdk';
import { postgresStore } from '@stella/stores';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres, stopAllServers } from '../../support/servers.js';
import { capturingLogger, collect, observation, silent } from './support.js';

let server: PostgresServer | undefined;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await stopAllServers();
});

const DAY = 86_400_000;
const WRITERS = 6;
const BATCHES = 25;
const PER_BATCH = 300;

function openStore(schema: string, retentionHours: number, logger = silent): Promise<ObservationStore> {
  return postgresStore().create({ retentionHours, maxBatchSize: 1000, url: server!.url, schema }, { logger });
}

describe('postgres store, many writers', () => {
  it('takes concurrent agents writing the same days while partitions are created and pruned, with no error and no lost row', async (ctx) => {
    if (!server) return ctx.skip('PostgreSQL is not installed on this machine (see the servers: line above)');
    const schema = `fleet${process.pid}`;
    const today = Math.floor(Date.now() / DAY) * DAY;
    const oldDay = today - 4 * DAY; // inside the writers' 7-day retention, past the pruner's 2 days
    const logger = capturingLogger();
    const writers = await Promise.all(Array.from({ length: WRITERS }, () => openStore(schema, 24 * 7, logger)));
    const pruner = await openStore(schema, 48);
    let pruning = true;
    let prunes = 0;
    const pruneLoop = (async () => {
      while (pruning) {
        await pruner.prune(new Date(oldDay + DAY)); // drops the old day's partition, keeps the rest
        await (pruner as unknown as { applyRetention(): Promise<string[]> }).applyRetention();
        prunes++;
      }
    })();
    // Each batch: rows today and yesterday (never pruned), rows on the old day (pruned while being
    // written), and a row on a future day no one has created yet (created by whoever is first).
    const batchOf = (w: number, b: number): Observation[] =>
      Array.from({ length: PER_BATCH }, (_, i) => {
        const tid = w * 1_000_000 + b * 1000 + i;
        const at =
          i % 10 === 0
            ? oldDay + tid
            : i % 50 === 1
              ? today + (3 + ((b + i) % 6)) * DAY + tid
              : today - (i % 2) * DAY + tid;
        return observation(i, at, { tid, nodeName: `node-${w}` });
      });
    const errors: unknown[] = [];
    try {
      await Promise.all(
        writers.map(async (store, w) => {
          for (let b = 0; b < BATCHES; b++) await store.append(batchOf(w, b)).catch((e: unknown) => errors.push(e));
        }),
      );
    } finally {
      pruning = false;
      await pruneLoop;
    }
    expect(errors.map(String)).toEqual([]);
    expect(prunes).toBeGreaterThan(0);
    // The race did happen: appends found their day partition dropped and made it again.
    expect(logger.lines.some((l) => l.includes('a day partition was dropped under an append'))).toBe(true);

    const written = writers.flatMap((_, w) => Array.from({ length: BATCHES }, (_, b) => batchOf(w, b)).flat());
    const kept = written.filter((o) => Date.parse(o.observedAt) >= oldDay + DAY);
    const rows = await collect(writers[0]!.query({ from: new Date(oldDay + DAY) }));
    expect(rows).toHaveLength(kept.length);
    expect(new Set(rows.map((o) => o.tid)).size).toBe(kept.length);
    const old = await collect(writers[0]!.query({ to: new Date(oldDay + DAY) }));
    expect(new Set(old.map((o) => o.tid)).size).toBe(old.length);
    expect(old.length).toBeLessThan(written.length - kept.length); // the pruner did drop some
    await Promise.all([...writers, pruner].map((s) => s.close()));
  }, 120_000);
});

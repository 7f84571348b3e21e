// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';
import { MemoryObservationStore, StoreUnavailableError } from '@stella/stores';
import { describe, expect, it } from 'vitest';
import { observation } from '../../../plugins/stores/test/support.js';
import { StoreWriter } from '../../src/export/store-writer.js';
import { createLogger } from '../../src/logger.js';

const logger = createLogger({ level: 'silent' });
const T0 = Date.now() - 60_000;

/** The in-memory store behind a script of failures: each append takes the next entry, then succeeds. */
function scriptedStore(failures: Error[]) {
  const memory = new MemoryObservationStore({});
  const attempts: number[] = [];
  return {
    memory,
    attempts,
    store: {
      name: 'scripted',
      async append(batch: Observation[]) {
        attempts.push(batch.length);
        const next = failures.shift();
        if (next) throw next;
        await memory.append(batch);
      },
      query: (q: Parameters<MemoryObservationStore['query']>[0]) => memory.query(q),
      summary: (q: Parameters<MemoryObservationStore['summary']>[0]) => memory.summary(q),
      prune: (c: Date) => memory.prune(c),
      close: () => memory.close(),
    },
  };
}

const writerFor = (store: ReturnType<typeof scriptedStore>['store']) =>
  new StoreWriter({ store, maxBatchSize: 10, logger, lingerMs: 1, retryInitialDelayMs: 1, retryMaxDelayMs: 2 });
const batch = () => Array.from({ length: 10 }, (_, i) => observation(i, T0 + i));
const unavailable = () => new StoreUnavailableError('valkey', 'valkey cluster is unavailable: Connection is closed.');

describe('StoreWriter retry policy', () => {
  it('a genuine rejection drops the batch after maxAttemptsOnRejection appends, counted as store_error', async () => {
    const rejected = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    const s = scriptedStore([rejected, rejected, rejected]);
    const writer = writerFor(s.store);
    writer.write(batch());
    await writer.close(5000);
    expect(s.attempts).toEqual([10, 10, 10]);
    expect(writer.stats()).toMatchObject({ written: 0, dropped: { store_error: 10 }, lastError: rejected.message });
  });

  it('time spent unavailable does not count towards giving up: a rejection after an outage is retried', async () => {
    // An outage (failover) held the batch through 5 attempts; then one transient refusal. Before,
    // every attempt counted, so this single refusal dropped the batch.
    const s = scriptedStore([
      ...Array.from({ length: 5 }, unavailable),
      new Error('ERR Error running script: a transient refusal'),
    ]);
    const writer = writerFor(s.store);
    writer.write(batch());
    await writer.close(5000);
    expect(s.attempts).toHaveLength(7);
    expect(writer.stats()).toMatchObject({ written: 10, dropped: { store_error: 0 }, retries: 6 });
    expect(s.memory.stats().records).toBe(10);
  });
});

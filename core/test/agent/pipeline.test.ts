// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { OBSERVATION_HEAP_BYTES, ObservationPipeline, type ObservationSink } from '../../src/agent/pipeline.js';
import { createLogger } from '../../src/logger.js';

const quiet = createLogger({ level: 'silent' });

function obs(i: number): Observation {
  return {
    observedAt: new Date(1_700_000_000_000 + i).toISOString(),
    service: 's',
    function: 'tls/SSL_connect',
    symbol: 'SSL_connect',
    binaryPath: '/lib/libssl.so.3',
    nodeHash: 'sha256:x',
    probeType: 'uprobe',
    pid: 1,
    comm: 'c',
    nodeName: 'n',
    hitCount: 1,
  };
}

function harness(maxRecords: number, sinks: ObservationSink[]) {
  const events = { dropped: 0, full: [] as boolean[], accepted: 0 };
  const pipeline = new ObservationPipeline(sinks, {
    maxBytes: maxRecords * OBSERVATION_HEAP_BYTES,
    flushIntervalMs: 60_000,
    logger: quiet,
    earlyFlushBytes: Number.POSITIVE_INFINITY,
    events: {
      dropped: (_reason, n) => {
        events.dropped += n;
      },
      bufferFull: (full) => events.full.push(full),
      accepted: (batch) => {
        events.accepted += batch.length;
      },
    },
  });
  return { pipeline, events };
}

describe('ObservationPipeline', () => {
  it('delivers every accepted observation to every sink, in order, once', async () => {
    const a: Observation[] = [];
    const b: Observation[] = [];
    const { pipeline } = harness(100, [
      { name: 'a', write: (batch) => void a.push(...batch) },
      { name: 'b', write: async (batch) => void b.push(...batch) },
    ]);
    pipeline.emit([obs(1), obs(2)]);
    pipeline.emit([obs(3)]);
    await pipeline.flush();
    await pipeline.flush();
    expect(a.map((o) => o.observedAt)).toEqual([obs(1), obs(2), obs(3)].map((o) => o.observedAt));
    expect(b).toHaveLength(3);
  });

  it('refuses what does not fit, counts every refused record, raises and then clears buffer_full', async () => {
    const seen: Observation[] = [];
    const { pipeline, events } = harness(5, [{ name: 'sink', write: (batch) => void seen.push(...batch) }]);
    pipeline.emit([obs(1), obs(2), obs(3)]);
    pipeline.emit([obs(4), obs(5), obs(6), obs(7)]);
    expect(events.accepted).toBe(5);
    expect(events.dropped).toBe(2);
    expect(events.full).toEqual([true]);
    expect(pipeline.bytesQueued).toBe(5 * OBSERVATION_HEAP_BYTES);
    await pipeline.flush(); // the interval that saw drops: still full
    expect(events.full).toEqual([true]);
    await pipeline.flush(); // a clean interval: cleared
    expect(events.full).toEqual([true, false]);
    expect(seen).toHaveLength(5);
    expect(events.accepted + events.dropped).toBe(7);
  });

  it('keeps delivering to the other sinks when one throws', async () => {
    const good: Observation[] = [];
    const { pipeline } = harness(10, [
      {
        name: 'broken',
        write: () => {
          throw new Error('disk on fire');
        },
      },
      { name: 'good', write: (batch) => void good.push(...batch) },
    ]);
    pipeline.emit([obs(1)]);
    await pipeline.flush();
    expect(good).toHaveLength(1);
  });

  it('close flushes what is queued, closes sinks once, and ignores later emits', async () => {
    let closed = 0;
    const seen: Observation[] = [];
    const { pipeline } = harness(10, [
      {
        name: 's',
        write: (batch) => void seen.push(...batch),
        close: async () => {
          closed++;
        },
      },
    ]);
    pipeline.emit([obs(1), obs(2)]);
    await pipeline.close();
    await pipeline.close();
    pipeline.emit([obs(3)]);
    expect(seen).toHaveLength(2);
    expect(closed).toBe(1);
  });
});

describe('ObservationPipeline budget shared downstream', () => {
  it('counts bytes a downstream queue holds (a store writer during an outage) against the same limit', () => {
    let downstream = 3 * OBSERVATION_HEAP_BYTES;
    let dropped = 0;
    const pipeline = new ObservationPipeline([], {
      maxBytes: 5 * OBSERVATION_HEAP_BYTES,
      flushIntervalMs: 60_000,
      logger: quiet,
      downstreamBytes: () => downstream,
      earlyFlushBytes: Number.POSITIVE_INFINITY,
      events: {
        dropped: (_r, n) => {
          dropped += n;
        },
        bufferFull: () => {},
        accepted: () => {},
      },
    });
    pipeline.emit([obs(1), obs(2), obs(3)]);
    expect(dropped).toBe(1);
    downstream = 0;
    pipeline.emit([obs(4), obs(5), obs(6), obs(7)]);
    expect(dropped).toBe(2);
  });
});

describe('ObservationPipeline early flush', () => {
  it('hands records on before the timer once the queue passes the early-flush size', async () => {
    const seen: Observation[] = [];
    const pipeline = new ObservationPipeline([{ name: 's', write: (batch) => void seen.push(...batch) }], {
      maxBytes: 100 * OBSERVATION_HEAP_BYTES,
      flushIntervalMs: 60_000,
      logger: quiet,
      events: { dropped: () => {}, bufferFull: () => {}, accepted: () => {} },
    });
    pipeline.emit(Array.from({ length: 5 }, (_, i) => obs(i))); // below 100/8 records: waits for the timer
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(0);
    pipeline.emit(Array.from({ length: 10 }, (_, i) => obs(5 + i))); // 15 ≥ 12.5 records: flushes now
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(15);
  });
});

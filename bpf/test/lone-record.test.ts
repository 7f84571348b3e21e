// SPDX-License-Identifier: Apache-2.0
/**
 * Records are submitted without a wakeup (ringbuf.bpf.h): the consumer thread finds them by polling
 * with a timeout and draining after it (the addon's Run loop). A lone record, with nothing behind it
 * to fill the ring, must still reach JavaScript within a few poll intervals, not when the next
 * burst comes: five single calls, each awaited on its own, median delivery within 100 ms of the
 * call (the poll interval is 20 ms).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, forEachRecord } from '../src/index.js';
import {
  bpfUnavailableReason,
  callTarget,
  ensureBuilt,
  fixtureObject,
  fixtureSymbol,
  Workload,
  waitFor,
} from './helpers.js';

const skipReason = bpfUnavailableReason();
if (skipReason) console.warn(`skipping lone-record delivery test: ${skipReason}`);

describe.skipIf(skipReason)('a lone record submitted without wakeup', () => {
  let obj: BpfObject;
  let w: Workload;
  beforeAll(async () => {
    ensureBuilt();
    obj = new BpfObject(fixtureObject);
    obj.load();
    w = await Workload.start();
  });
  afterAll(async () => {
    obj?.close();
    await w?.end();
  });

  it('reaches JavaScript within 100 ms (median of five)', async () => {
    obj.attachUprobe({
      program: 'stella_uprobe_call',
      binaryPath: callTarget,
      symbol: fixtureSymbol,
      pid: w.pid,
      cookie: 9n,
    });
    const arrivals: number[] = [];
    const consumer = obj.consumeRingBuffer('stella_events', (batch) => {
      forEachRecord(batch, () => arrivals.push(performance.now()));
    });
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const calledAt = performance.now();
      await w.run('call 1');
      await waitFor(() => arrivals.length > i, 5000);
      latencies.push(arrivals[i]! - calledAt);
    }
    await consumer.stop();
    expect(arrivals).toHaveLength(5);
    latencies.sort((a, b) => a - b);
    expect(latencies[2]).toBeLessThan(100);
  });
});

// SPDX-License-Identifier: Apache-2.0
/**
 * Links made and released off the event loop: a release waits for an RCU-tasks-trace grace period
 * in the kernel (~50 ms on 6.18), which froze the event loop when done on the main thread.
 * Releases of perf-event uprobes do not overlap in the kernel (measured here: N parallel releases
 * take N times one), so off-thread is about the event loop, not total time; uprobe_multi links
 * are what make many probes cheap to release (addon-multi.test.ts).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BpfError, BpfObject, readAggregates, StellaGlobals } from '../src/index.js';
import { bpfUnavailableReason, callTarget, ensureBuilt, fixtureObject, fixtureSymbol, Workload } from './helpers.js';

const skipReason = bpfUnavailableReason();
if (skipReason) console.warn(`skipping async link tests: ${skipReason}`);

/** Runs `fn` with a 1 ms interval ticking; returns its result, the wall time and the worst event-loop delay. */
async function underLoopMonitor<T>(fn: () => Promise<T> | T): Promise<{ result: T; ms: number; maxDelayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const tick = setInterval(() => {}, 1);
  histogram.enable();
  // The histogram records a delay from its second tick on: let it tick before the measured work.
  await new Promise((r) => setTimeout(r, 10));
  const t0 = performance.now();
  try {
    const result = await fn();
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5)); // let the histogram see the last stall
    return { result, ms, maxDelayMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
    clearInterval(tick);
  }
}

describe.skipIf(skipReason)('links made and released on worker threads', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  beforeAll(() => ensureBuilt());
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  async function loadedFixture(aggregate = false): Promise<{ obj: BpfObject; w: Workload }> {
    const obj = new BpfObject(fixtureObject);
    cleanups.push(() => obj.close());
    if (aggregate) obj.setGlobal(StellaGlobals.aggregate, 1);
    obj.load();
    const w = await Workload.start();
    cleanups.push(() => w.end());
    return { obj, w };
  }

  it('32 uprobes attached and released off-thread never stall the event loop 50 ms; destroy() does', async () => {
    const { obj, w } = await loadedFixture(true);
    const count = 32;
    const attached = await underLoopMonitor(() =>
      Promise.all(
        Array.from({ length: count }, (_, i) =>
          obj.attachUprobeAsync({
            program: 'stella_uprobe_call',
            binaryPath: callTarget,
            symbol: fixtureSymbol,
            pid: w.pid,
            cookie: BigInt(i),
          }),
        ),
      ),
    );
    const links = attached.result;
    await w.run('call 10');
    // Every link is live: each cookie counted each call.
    const counts = readAggregates(obj);
    expect(counts).toHaveLength(count);
    expect(counts.every((c) => c.count === 10 && c.pid === w.pid)).toBe(true);

    const released = await underLoopMonitor(() => Promise.all(links.map((l) => l.destroyAsync())));
    await w.run('call 10');
    expect(readAggregates(obj).every((c) => c.count === 10)).toBe(true); // no breakpoint left

    // The same release done on the main thread, for a few links: that is what froze the agent.
    const few = await Promise.all(
      Array.from({ length: 4 }, () =>
        obj.attachUprobeAsync({ program: 'stella_uprobe_call', binaryPath: callTarget, symbol: fixtureSymbol }),
      ),
    );
    const blocking = await underLoopMonitor(() => {
      for (const l of few) l.destroy();
    });
    console.log(
      `${count} uprobes: attach ${attached.ms.toFixed(0)} ms (max loop delay ${attached.maxDelayMs.toFixed(1)} ms), ` +
        `destroyAsync ${released.ms.toFixed(0)} ms (max loop delay ${released.maxDelayMs.toFixed(1)} ms); ` +
        `4 blocking destroy(): ${blocking.ms.toFixed(0)} ms with the loop stalled ${blocking.maxDelayMs.toFixed(0)} ms`,
    );
    expect(attached.maxDelayMs).toBeLessThan(50);
    expect(released.maxDelayMs).toBeLessThan(50);
    // The monitor does see a blocking release: proof that the two numbers above can fail.
    expect(blocking.maxDelayMs).toBeGreaterThan(50);
  });

  it('destroyAsync is idempotent and destroy() after it is a no-op', async () => {
    const { obj, w } = await loadedFixture();
    const link = await obj.attachUprobeAsync({
      program: 'stella_uprobe_call',
      binaryPath: callTarget,
      symbol: fixtureSymbol,
      pid: w.pid,
    });
    const first = link.destroyAsync();
    expect(link.destroyAsync()).toBe(first);
    link.destroy();
    await first;
    await link.destroyAsync();
  });

  it('attach errors reject with a one-sentence BpfError naming the probe', async () => {
    const { obj } = await loadedFixture();
    const attempt = obj.attachUprobeAsync({ program: 'stella_uprobe_call', binaryPath: callTarget, symbol: 'nope' });
    await expect(attempt).rejects.toBeInstanceOf(BpfError);
    await expect(attempt).rejects.toThrow(/^failed to attach uprobe nope in .*call_target: .*\(ENOENT\)$/);
    await expect(
      obj.attachUprobeAsync({ program: 'no_such_program', binaryPath: callTarget, symbol: fixtureSymbol }),
    ).rejects.toThrow(/failed to find program no_such_program/);
  });

  it('close() while an attach is in flight: the object outlives the worker, the late link is released', async () => {
    const { obj, w } = await loadedFixture(true);
    const pending = obj.attachUprobeAsync({
      program: 'stella_uprobe_call',
      binaryPath: callTarget,
      symbol: fixtureSymbol,
      pid: w.pid,
    });
    obj.close();
    await expect(pending).rejects.toThrow(/object closed meanwhile.*\(EBADF\)/);
    expect(await w.run('call 5')).toBe(5); // the workload runs on, no breakpoint left behind
  });

  it('closeAsync releases every link off the event loop, then frees the object', async () => {
    const { obj, w } = await loadedFixture();
    await Promise.all(
      Array.from({ length: 16 }, () =>
        obj.attachUprobeAsync({
          program: 'stella_uprobe_call',
          binaryPath: callTarget,
          symbol: fixtureSymbol,
          pid: w.pid,
        }),
      ),
    );
    const closed = await underLoopMonitor(() => obj.closeAsync());
    console.log(
      `closeAsync with 16 uprobes: ${closed.ms.toFixed(0)} ms, max loop delay ${closed.maxDelayMs.toFixed(1)} ms`,
    );
    expect(closed.maxDelayMs).toBeLessThan(50);
    await obj.closeAsync();
    expect(() => obj.mapKeys('stella_agg')).toThrow(/\(EBADF\)/);
  });
});

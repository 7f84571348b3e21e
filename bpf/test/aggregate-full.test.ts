// SPDX-License-Identifier: Apache-2.0
/**
 * A full `stella_agg` loses calls, and the kernel says how many: each call that finds no room
 * bumps `stella_drops`, which the agent exports as stella_observations_dropped_total.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, readAggregates, readDropCount, StellaGlobals, samplingThreshold } from '../src/index.js';
import { bpfUnavailableReason, callTarget, ensureBuilt, fixtureObject, fixtureSymbol, Workload } from './helpers.js';

const skipReason = bpfUnavailableReason();
if (skipReason) console.warn(`skipping the full-aggregate test: ${skipReason}`);

describe.skipIf(skipReason)('stella_agg full', () => {
  let obj: BpfObject | undefined;
  let workload: Workload | undefined;
  beforeAll(() => ensureBuilt());
  afterAll(async () => {
    obj?.close();
    await workload?.end();
  });

  it('counts every call it cannot aggregate as a drop', async () => {
    obj = new BpfObject(fixtureObject);
    obj.setGlobal(StellaGlobals.sampleThreshold, samplingThreshold(0));
    obj.setGlobal(StellaGlobals.aggregate, true);
    obj.setMaxEntries('stella_agg', 1);
    obj.load();
    workload = await Workload.start();
    // Two probes on one function, two cookies: the first call takes the one entry, the second
    // probe's calls find the map full.
    for (const cookie of [1n, 2n])
      obj.attachUprobe({ program: 'stella_uprobe_call', binaryPath: callTarget, symbol: fixtureSymbol, cookie });
    const calls = await workload.run('call 500');
    const entries = readAggregates(obj);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.count).toBe(calls);
    expect(readDropCount(obj)).toBe(BigInt(calls));
  });
});

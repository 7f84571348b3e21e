// SPDX-License-Identifier: Apache-2.0
/**
 * The NDJSON contract: lines in the SDK's field order whatever the object's order, every record
 * shape the plugins build read on the verifier's fast lane, and the segment names the exporter
 * writes being the ones the readers recognise.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OBSERVATION_FIELDS, type Observation, type ProbeRequest } from '@stella/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { createObservationBuilder } from '../../../plugins/sdk/src/observation.js';
import { libsslCallMap } from '../../../test/support/maps.js';
import { exportThenVerify } from '../../../test/support/ndjson.js';
import { parseFunctionMap } from '../../src/function-map/parse.js';
import {
  completedPathsOf,
  isLiveSegment,
  liveNameOf,
  observationFilesOf,
  observationLine,
  segmentName,
  segmentStem,
} from '../../src/ndjson/contract.js';
import { VerificationAccumulator } from '../../src/verify/accumulator.js';
import { readObservationFiles } from '../../src/verify/ndjson.js';

const map = parseFunctionMap(libsslCallMap('shop'), 'test');
const call = map.predicate.expectedPaths[0]!.expectedCalls[0]!;
const now = Date.now();
const request: ProbeRequest = {
  service: 'shop',
  functionId: call.function,
  category: 'tls',
  symbol: call.symbol,
  library: 'libssl.so.3',
  binaryPath: call.binaryPath,
  purl: call.purl,
  nodeHash: call.nodeHash,
  probeTypes: ['uprobe'],
};

/** The uprobe builder's records: per call (with tid, cgroup, sampling) and per aggregation window. */
function uprobeRecords(): Observation[] {
  const observationOf = createObservationBuilder('node-a');
  const at = new Date(now - 5000).toISOString();
  const common = { observedAt: at, probeType: 'uprobe', pid: 42, comm: 'curl' };
  const perCall = observationOf(request, { ...common, tid: 43, cgroupId: '1234', sampleRate: 0.5, hitCount: 1 });
  const aggregated = observationOf(request, {
    ...common,
    windowStart: new Date(now - 6000).toISOString(),
    windowEnd: at,
    hitCount: 17,
  });
  // Presence mode: `countMode` just before `hitCount`, where the verifier's fast lane looks for it.
  const presence = observationOf(request, { ...common, tid: 43, cgroupId: '1234', countMode: 'presence', hitCount: 1 });
  return [perCall, aggregated, presence];
}

/**
 * Records in another key order (the syscall session's, before one builder served both sessions):
 * `hitCount` in the middle, then the per-call or window fields. JSON.stringify keeps that order.
 */
function syscallRecords(): Observation[] {
  const at = new Date(now - 4000).toISOString();
  const base = {
    observedAt: at,
    service: 'shop',
    function: call.function,
    symbol: call.symbol,
    purl: call.purl,
    binaryPath: call.binaryPath,
    nodeHash: call.nodeHash,
    probeType: 'tracepoint',
    pid: 42,
    comm: 'curl',
    nodeName: 'node-a',
    hitCount: 1,
  };
  return [
    { ...base, tid: 43, cgroupId: '1234', hitCount: 1, sampleRate: 0.5 },
    { ...base, hitCount: 9, windowStart: new Date(now - 6000).toISOString(), windowEnd: at },
  ];
}

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function readBack(file: string) {
  const acc = new VerificationAccumulator(map, { from: new Date(now - 3600_000), to: new Date(now + 1000) });
  const stats = await readObservationFiles([file], acc);
  return { stats, report: acc.report() };
}

describe('observationLine', () => {
  it("writes the SDK's field order whatever order the object was built in, and only present fields", () => {
    for (const o of [...uprobeRecords(), ...syscallRecords()]) {
      const line = observationLine(o);
      expect(line.endsWith('}\n')).toBe(true);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const present = OBSERVATION_FIELDS.filter((k) => o[k] !== undefined);
      expect(Object.keys(parsed)).toEqual(present);
      expect(parsed).toEqual(JSON.parse(JSON.stringify(o)));
    }
  });

  it('escapes strings as JSON does', () => {
    const [o] = syscallRecords();
    const odd = { ...o!, comm: 'a"b\\c\n\u0001', service: 'sh\u00f6p' };
    expect(JSON.parse(observationLine(odd))).toEqual(JSON.parse(JSON.stringify(odd)));
  });
});

describe('every record shape the plugins build takes the fast lane', () => {
  it('uprobe per-call and aggregated, syscall per-call (sampled) and aggregated, through the real exporter', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-contract-'));
    const records = [...uprobeRecords(), ...syscallRecords()];
    const { stats, report } = await exportThenVerify(records, map, dir);
    expect(stats.lines).toBe(records.length);
    expect(stats.fastLane).toBe(records.length);
    expect(report.paths[0]!.hitCount).toBe(1 + 17 + 1 + 1 + 9);
    expect(report.paths[0]!.hitCountIsLowerBound).toBe(true); // the presence record, read in place
  });

  it("(the same records in their builders' own key order leave it: what the contract fixes)", async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-contract-'));
    const records = [...uprobeRecords(), ...syscallRecords()];
    const file = join(dir, 'as-built.ndjson');
    await writeFile(file, records.map((o) => `${JSON.stringify(o)}\n`).join(''));
    const { stats, report } = await readBack(file);
    expect(stats.fastLane).toBeLessThan(records.length);
    expect(report.paths[0]!.hitCount).toBe(1 + 17 + 1 + 1 + 9); // the general path still counts them
  });
});

describe('segment names', () => {
  it('the live name hides the completed one and maps back to it; readers take live segments and prefer gzip', () => {
    const name = segmentName(segmentStem('node/a b'), Date.UTC(2026, 0, 15, 11, 0, 0, 123), 7, 4242);
    expect(name).toBe('observations-node_a_b-20260115T110000123Z-0007-4242.ndjson');
    const live = join('/out', liveNameOf(name));
    expect(live).toBe(`/out/.${name}.partial`);
    expect(isLiveSegment(live)).toBe(true);
    expect(isLiveSegment(join('/out', name))).toBe(false);
    expect(completedPathsOf(live)).toEqual([`/out/${name}`, `/out/${name}.gz`]);
    const found = [`/out/${name}`, `/out/${name}.gz`, live, '/out/.hidden.ndjson.gz.tmp', '/out/notes.txt'];
    expect(observationFilesOf(found)).toEqual([`/out/${name}.gz`, live]);
  });
});

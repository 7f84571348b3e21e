// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Observation } from '@stella/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libsslCallMap } from '../../../test/support/maps.js';
import { parseFunctionMap } from '../../src/function-map/index.js';
import { planSlices, readObservationFiles, VerificationAccumulator } from '../../src/verify/index.js';

const map = parseFunctionMap(libsslCallMap('slices'), 'test');
const call = map.predicate.expectedPaths[0]!.expectedCalls[0]!;
const t0 = Date.parse('2026-11-27T00:00:00.000Z');
const window = { from: new Date(t0), to: new Date(t0 + 3600_000) };

function line(i: number): string {
  const expected = i % 3 !== 0;
  const o: Observation = {
    observedAt: new Date(t0 + i * 7).toISOString(),
    service: 'slices',
    function: expected ? call.function : `tls/SSL_other_${i % 5}`,
    symbol: expected ? call.symbol : `SSL_other_${i % 5}`,
    binaryPath: call.binaryPath,
    nodeHash: expected ? call.nodeHash : `sha256:${(i % 5).toString(16).padStart(64, '0')}`,
    probeType: 'uprobe',
    pid: 100 + (i % 4),
    comm: 'c',
    nodeName: 'n',
    hitCount: 1 + (i % 2),
  };
  // Every 97th line is broken, every 101st is out of the window.
  if (i % 97 === 0) return '{"observedAt": not json';
  if (i % 101 === 0) return JSON.stringify({ ...o, observedAt: '2020-01-01T00:00:00.000Z' });
  return JSON.stringify(o);
}

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stella-slices-'));
  file = join(dir, 'obs.ndjson');
  await writeFile(file, `${Array.from({ length: 5000 }, (_, i) => line(i)).join('\n')}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function comparable(acc: VerificationAccumulator) {
  const { generatedAt: _g, observationsSkipped, ...rest } = acc.report({ generatedAt: new Date(0) });
  return { ...rest, observationsSkipped: { ...observationsSkipped, malformedSamples: undefined } };
}

describe('verify split into byte slices and merged', () => {
  it('counts every line exactly once whatever the cut points (mid-line, at a line start, just after a newline)', async () => {
    const whole = new VerificationAccumulator(map, window);
    await readObservationFiles([file], whole);
    const size = (await stat(file)).size;
    const firstNewline = (await import('node:fs')).readFileSync(file, 'latin1').indexOf('\n');
    const cutSets = [
      [size / 2],
      [1, firstNewline, firstNewline + 1, 1000, 1001],
      [size / 3, (2 * size) / 3],
      [size - 1],
    ];
    for (const cuts of cutSets) {
      const points = [0, ...cuts.map(Math.floor), size];
      const merged = new VerificationAccumulator(map, window);
      for (let i = 0; i + 1 < points.length; i++) {
        const part = new VerificationAccumulator(map, window);
        await readObservationFiles([{ file, start: points[i]!, end: points[i + 1]! }], part);
        merged.mergeState(structuredClone(part.exportState()));
      }
      expect(comparable(merged)).toEqual(comparable(whole));
      expect(merged.report().observationsRead).toBe(5000);
    }
  });

  it('plans slices of about equal size per worker and keeps gzip files whole', () => {
    const plans = planSlices([file], 3);
    expect(plans).toHaveLength(3);
    const slices = plans.flat() as { start: number; end: number }[];
    expect(slices.map((s) => s.start)).toEqual([...slices.map((s) => s.start)].sort((a, b) => a - b).slice(0, 3));
    expect(Math.min(...slices.map((s) => s.start))).toBe(0);
  });
});

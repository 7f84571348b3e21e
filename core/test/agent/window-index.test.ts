// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { libsslCallMap } from '../../../test/support/maps.js';
import { BUCKET_MS, ObservationWindowIndex, type WindowAggregate } from '../../src/agent/window-index.js';
import { parseFunctionMap } from '../../src/function-map/parse.js';
import { VerificationAccumulator } from '../../src/verify/accumulator.js';

const T0 = Date.parse('2026-11-27T00:00:00.000Z');
const at = (ms: number, extra: Partial<Observation> = {}): Observation => ({
  observedAt: new Date(T0 + ms).toISOString(),
  service: 'svc',
  function: 'tls/SSL_connect',
  symbol: 'SSL_connect',
  binaryPath: '/lib/libssl.so.3',
  nodeHash: 'sha256:a',
  probeType: 'uprobe',
  pid: 10,
  comm: 'curl',
  nodeName: 'n',
  hitCount: 1,
  ...extra,
});

const total = (it: Iterable<WindowAggregate>) => [...it].reduce((n, a) => n + a.hitCount, 0);

describe('ObservationWindowIndex', () => {
  it('compacts calls per bucket yet keeps exact counts and first/last sightings', () => {
    const index = new ObservationWindowIndex(3600_000);
    index.add([at(1000), at(2000), at(3000), at(2500, { pid: 11 })]);
    expect(index.size).toBe(2);
    const out = [...index.aggregates('svc', T0, T0 + BUCKET_MS)];
    expect(total(out)).toBe(4);
    const pid10 = out.filter((a) => a.sample.pid === 10).map((a) => [a.hitCount, a.firstSeenMs, a.lastSeenMs]);
    expect(pid10).toEqual([[3, T0 + 1000, T0 + 3000]]);
  });

  it('yields only aggregates that overlap the window and only for the asked service', () => {
    const index = new ObservationWindowIndex(3600_000);
    index.add([at(1000), at(5 * BUCKET_MS + 1), at(2000, { service: 'other' })]);
    expect(total(index.aggregates('svc', T0 + 4 * BUCKET_MS, T0 + 6 * BUCKET_MS))).toBe(1);
    expect(total(index.aggregates('svc', T0, T0 + 6 * BUCKET_MS))).toBe(2);
    expect(total(index.aggregates('other', T0, T0 + 6 * BUCKET_MS))).toBe(1);
  });

  it('evicts buckets older than the horizon', () => {
    const index = new ObservationWindowIndex(60_000);
    index.add([at(0), at(120_000)]);
    index.evict(T0 + 125_000);
    expect(total(index.aggregates('svc', T0 - 1, T0 + 200_000))).toBe(1);
  });

  it('ignores records whose time does not parse instead of poisoning a bucket', () => {
    const index = new ObservationWindowIndex(60_000);
    index.add([at(0, { observedAt: 'yesterday' })]);
    expect(index.size).toBe(0);
  });
});

describe('the live verifier takes the index aggregates as they are', () => {
  it('counts hits and first/last seen of an aggregate without a record per call', () => {
    const map = parseFunctionMap(libsslCallMap('svc'), 'test');
    const call = map.predicate.expectedPaths[0]!.expectedCalls[0]!;
    const index = new ObservationWindowIndex(3600_000);
    const calls = Array.from({ length: 500 }, (_, i) => at(1000 + i, { nodeHash: call.nodeHash }));
    index.add([...calls, at(2000, { nodeHash: 'sha256:other', symbol: 'SSL_free', function: 'tls/SSL_free' })]);
    const acc = new VerificationAccumulator(map, { from: new Date(T0), to: new Date(T0 + BUCKET_MS) });
    for (const a of index.aggregates('svc', T0, T0 + BUCKET_MS))
      acc.addAggregate(a.sample, a.hitCount, a.firstSeenMs, a.lastSeenMs);
    const report = acc.report();
    expect(report.observationsRead).toBe(2); // two aggregates, not 501 records
    expect(report.paths[0]!.hitCount).toBe(500);
    expect(report.paths[0]!.firstSeen).toBe(new Date(T0 + 1000).toISOString());
    expect(report.paths[0]!.lastSeen).toBe(new Date(T0 + 1499).toISOString());
    expect(report.unexpectedSymbols.map((u) => [u.symbol, u.hitCount])).toEqual([['SSL_free', 1]]);
  });
});

// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, ObservationWindowIndex } from '../../src/agent/window-index.js';

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

const total = (it: Iterable<Observation>) => [...it].reduce((n, o) => n + o.hitCount, 0);

describe('ObservationWindowIndex', () => {
  it('compacts calls per bucket yet keeps exact counts and first/last sightings', () => {
    const index = new ObservationWindowIndex(3600_000);
    index.add([at(1000), at(2000), at(3000), at(2500, { pid: 11 })]);
    expect(index.size).toBe(2);
    const out = [...index.observations('svc', T0, T0 + BUCKET_MS)];
    expect(total(out)).toBe(4);
    const pid10 = out.filter((o) => o.pid === 10).map((o) => o.observedAt);
    expect(pid10).toEqual([new Date(T0 + 1000).toISOString(), new Date(T0 + 3000).toISOString()]);
  });

  it('yields only aggregates that overlap the window and only for the asked service', () => {
    const index = new ObservationWindowIndex(3600_000);
    index.add([at(1000), at(5 * BUCKET_MS + 1), at(2000, { service: 'other' })]);
    expect(total(index.observations('svc', T0 + 4 * BUCKET_MS, T0 + 6 * BUCKET_MS))).toBe(1);
    expect(total(index.observations('svc', T0, T0 + 6 * BUCKET_MS))).toBe(2);
    expect(total(index.observations('other', T0, T0 + 6 * BUCKET_MS))).toBe(1);
  });

  it('evicts buckets older than the horizon', () => {
    const index = new ObservationWindowIndex(60_000);
    index.add([at(0), at(120_000)]);
    index.evict(T0 + 125_000);
    expect(total(index.observations('svc', T0 - 1, T0 + 200_000))).toBe(1);
  });

  it('ignores records whose time does not parse instead of poisoning a bucket', () => {
    const index = new ObservationWindowIndex(60_000);
    index.add([at(0, { observedAt: 'yesterday' })]);
    expect(index.size).toBe(0);
  });
});

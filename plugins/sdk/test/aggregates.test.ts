// SPDX-License-Identifier: Apache-2.0
/** The aggregate reader's bookkeeping, on an in-memory stand-in for the per-CPU `stella_agg` hash. */
import { describe, expect, it } from 'vitest';
import { AggregateReader } from '../src/aggregates.js';
import type { BpfObjectHandle } from '../src/types/bpf-api.js';

/** cookie, pid → per-CPU [count, lastTs]; counts only grow, as in the kernel. */
function fakeAgg() {
  const entries = new Map<string, { key: Buffer; cpus: [number, number][] }>();
  const keyOf = (cookie: number, pid: number) => {
    const key = Buffer.alloc(16);
    key.writeBigUInt64LE(BigInt(cookie), 0);
    key.writeUInt32LE(pid, 8);
    return key;
  };
  const values = (cpus: [number, number][]) =>
    cpus.map(([count, ts]) => {
      const v = Buffer.alloc(16);
      v.writeBigUInt64LE(BigInt(count), 0);
      v.writeBigUInt64LE(BigInt(ts), 8);
      return v;
    });
  const deleted: string[] = [];
  const handle = {
    mapKeys: () => [...entries.values()].map((e) => e.key),
    mapLookupPerCpu: (_map: string, key: Uint8Array) => {
      const e = entries.get(Buffer.from(key).toString('hex'));
      return e ? values(e.cpus) : null;
    },
    mapLookupAndDeletePerCpu: (_map: string, key: Uint8Array) => {
      const id = Buffer.from(key).toString('hex');
      const e = entries.get(id);
      entries.delete(id);
      deleted.push(id);
      return e ? values(e.cpus) : null;
    },
  } as unknown as BpfObjectHandle;
  return {
    handle,
    deleted,
    hit(cookie: number, pid: number, cpu: number, ts: number) {
      const key = keyOf(cookie, pid);
      const id = key.toString('hex');
      const e = entries.get(id) ?? { key, cpus: [[0, 0] as [number, number], [0, 0] as [number, number]] };
      e.cpus[cpu]![0] += 1;
      e.cpus[cpu]![1] = ts;
      entries.set(id, e);
    },
    size: () => entries.size,
  };
}

describe('AggregateReader', () => {
  it('reports growth since the previous drain and never deletes a live process entry', () => {
    const agg = fakeAgg();
    const reader = new AggregateReader(agg.handle, () => true);
    agg.hit(1, 100, 0, 10);
    agg.hit(1, 100, 1, 20);
    expect(reader.drain()).toEqual([expect.objectContaining({ pid: 100, count: 2, lastTsNs: 20 })]);
    expect(reader.drain()).toEqual([]);
    agg.hit(1, 100, 0, 30);
    expect(reader.drain()).toEqual([expect.objectContaining({ pid: 100, count: 1, lastTsNs: 30 })]);
    expect(agg.deleted).toEqual([]);
    expect(agg.size()).toBe(1);
  });

  it('removes the entry of an exited process in one lookup-and-delete and reports its last growth', () => {
    const agg = fakeAgg();
    const alive = new Set([100, 200]);
    const reader = new AggregateReader(agg.handle, (pid) => alive.has(pid));
    agg.hit(1, 100, 0, 10);
    agg.hit(1, 200, 0, 10);
    expect(reader.drain().map((d) => d.count)).toEqual([1, 1]);
    agg.hit(1, 200, 1, 11);
    agg.hit(1, 200, 1, 12);
    alive.delete(200);
    expect(reader.drain()).toEqual([expect.objectContaining({ pid: 200, count: 2 })]);
    expect(agg.deleted).toHaveLength(1);
    expect(agg.size()).toBe(1);
    // The pid comes back as a new process: its entry starts from zero and is counted in full.
    alive.add(200);
    agg.hit(1, 200, 0, 13);
    expect(reader.drain()).toEqual([expect.objectContaining({ pid: 200, count: 1 })]);
  });
});

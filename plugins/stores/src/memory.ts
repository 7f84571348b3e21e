// SPDX-License-Identifier: Apache-2.0
import type { FunctionSummary, Logger, Observation, ObservationQuery, ObservationStore } from '@stella/sdk';
import { approxObservationBytes, inWindow, matcherFor, observedAtMs, SummaryAccumulator } from './records.js';
import type { MemoryStoreOptions, MemoryStoreStats } from './types.js';

interface Entry {
  t: number;
  bytes: number;
  o: Observation;
}

const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
const HOUR_MS = 3_600_000;

/**
 * The embedded default store: records kept sorted by observedAt in one array (appends are nearly
 * always in order, so insertion is O(1) amortised), bounded by bytes and records. When full it
 * evicts the oldest records and counts them in `stats().evicted` — never silently.
 */
export class MemoryObservationStore implements ObservationStore {
  readonly name = 'memory';
  private entries: Entry[] = [];
  /** Index of the first live entry; the array is compacted once half of it is dead. */
  private head = 0;
  private bytes = 0;
  private evicted = 0;
  private expired = 0;
  private closed = false;
  private readonly maxBytes: number;
  private readonly maxRecords: number;
  private readonly retentionMs: number;
  private readonly now: () => number;

  constructor(
    options: MemoryStoreOptions & { retentionHours?: number },
    private readonly logger?: Logger,
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
    this.retentionMs = (options.retentionHours ?? 72) * HOUR_MS;
    this.now = options.now ?? Date.now;
  }

  /** Heap bytes the stored records take (estimate), for the agent's buffer accounting. */
  approxBytes(): number {
    return this.bytes;
  }

  stats(): MemoryStoreStats {
    return {
      records: this.entries.length - this.head,
      approxBytes: this.bytes,
      maxBytes: this.maxBytes,
      evicted: this.evicted,
      expired: this.expired,
    };
  }

  async append(batch: Observation[]): Promise<void> {
    if (this.closed) throw new Error('memory store is closed');
    const cutoff = this.now() - this.retentionMs;
    // Validate the whole batch before touching state: a bad batch is rejected as a unit.
    const incoming = batch.map((o, i) => ({ t: observedAtMs(o, i), bytes: approxObservationBytes(o), o }));
    for (const e of incoming) {
      if (e.t < cutoff) {
        this.expired++;
        continue;
      }
      this.insert(e);
    }
    this.expire(cutoff);
    this.enforceBounds();
  }

  async *query(q: ObservationQuery): AsyncIterable<Observation> {
    this.expire(this.now() - this.retentionMs);
    const matches = matcherFor(q);
    const start = q.from ? this.lowerBound(q.from.getTime()) : this.head;
    const end = q.to ? this.lowerBound(q.to.getTime()) : this.entries.length;
    const limit = q.limit ?? Number.POSITIVE_INFINITY;
    // Snapshot first: appends and evictions while the caller iterates must not shift indexes.
    const out: Observation[] = [];
    for (let i = start; i < end && out.length < limit; i++) {
      const e = this.entries[i]!;
      if (matches(e.o)) out.push(e.o);
    }
    yield* out;
  }

  async summary(q: ObservationQuery): Promise<FunctionSummary[]> {
    this.expire(this.now() - this.retentionMs);
    const matches = matcherFor(q);
    const acc = new SummaryAccumulator();
    const start = q.from ? this.lowerBound(q.from.getTime()) : this.head;
    for (let i = start; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (!inWindow(e.t, q)) break;
      if (matches(e.o)) acc.add(e.o, e.t);
    }
    return acc.result();
  }

  async prune(cutoff: Date): Promise<number> {
    return this.expire(cutoff.getTime());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
  }

  private insert(e: Entry): void {
    const last = this.entries[this.entries.length - 1];
    if (!last || last.t <= e.t) this.entries.push(e);
    else this.entries.splice(this.upperBound(e.t), 0, e);
    this.bytes += e.bytes;
  }

  /** Drops live entries with t < cutoff; they are all at the front. */
  private expire(cutoff: number): number {
    let n = 0;
    while (this.head < this.entries.length && this.entries[this.head]!.t < cutoff) {
      this.dropHead();
      n++;
    }
    this.compact();
    return n;
  }

  private enforceBounds(): void {
    let n = 0;
    while (
      this.head < this.entries.length &&
      (this.bytes > this.maxBytes || this.entries.length - this.head > this.maxRecords)
    ) {
      this.dropHead();
      n++;
    }
    if (n > 0) {
      this.evicted += n;
      this.logger?.warn('memory store full: evicted oldest observations', { evicted: n, maxBytes: this.maxBytes });
    }
    this.compact();
  }

  private dropHead(): void {
    const e = this.entries[this.head]!;
    this.bytes -= e.bytes;
    this.head++; // the slot is reclaimed by compact()
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** First live index with t >= x. */
  private lowerBound(x: number): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.t < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First live index with t > x (keeps equal timestamps in arrival order). */
  private upperBound(x: number): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.t <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

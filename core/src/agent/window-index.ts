// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';

/**
 * Bucket width of the live verifier's memory. The gauges are recomputed over a window of
 * `windowSeconds` (1800 by default); 10 s buckets keep the window's edges within 10 s of exact
 * while holding one entry per (service, call, process) per bucket instead of one per call.
 */
export const BUCKET_MS = 10_000;

/** The calls of one (service, call, process) in one bucket: how many, first and last seen. */
export interface WindowAggregate {
  /** The first record seen: function, binary, process of all of them. */
  sample: Observation;
  hitCount: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

/**
 * What the in-agent verifier needs of the recent past, compacted: per bucket, per distinct
 * (service, nodeHash or function+binary, pid), the hit count and first/last time seen. Memory is
 * bounded by the distinct calls × processes × buckets in the longest window, not by the call rate.
 */
export class ObservationWindowIndex {
  private readonly buckets = new Map<number, Map<string, WindowAggregate>>();

  constructor(private readonly horizonMs: number) {}

  add(batch: Observation[]): void {
    // Records of one batch mostly share their millisecond (the decoder reuses the string).
    let lastText = '';
    let lastMs = Number.NaN;
    for (const o of batch) {
      if (o.observedAt !== lastText) {
        lastText = o.observedAt;
        lastMs = Date.parse(lastText);
      }
      const t = lastMs;
      if (Number.isNaN(t)) continue;
      const bucketStart = t - (t % BUCKET_MS);
      let bucket = this.buckets.get(bucketStart);
      if (!bucket) {
        bucket = new Map();
        this.buckets.set(bucketStart, bucket);
      }
      const key = `${o.service}\u0000${o.nodeHash ?? `${o.function}\u0000${o.binaryPath}`}\u0000${o.pid}`;
      const agg = bucket.get(key);
      if (agg) {
        agg.hitCount += o.hitCount;
        if (t < agg.firstSeenMs) agg.firstSeenMs = t;
        if (t > agg.lastSeenMs) agg.lastSeenMs = t;
      } else {
        bucket.set(key, { sample: o, hitCount: o.hitCount, firstSeenMs: t, lastSeenMs: t });
      }
    }
  }

  /** Drops buckets that ended before `now - horizon`. */
  evict(nowMs: number): void {
    for (const start of this.buckets.keys()) {
      if (start + BUCKET_MS < nowMs - this.horizonMs) this.buckets.delete(start);
    }
  }

  /**
   * Each aggregate of `service` overlapping [from, to], clipped to it: whole, or, when it straddles
   * an edge, all its hits at the sighting inside (a bucket is 10 s; the window's edges are that
   * exact). The verifier takes them as they are (`addAggregate`): no record per call is made up.
   */
  *aggregates(service: string, fromMs: number, toMs: number): Generator<WindowAggregate> {
    for (const [start, bucket] of this.buckets) {
      if (start + BUCKET_MS < fromMs || start > toMs) continue;
      for (const agg of bucket.values()) {
        if (agg.sample.service !== service) continue;
        if (agg.lastSeenMs < fromMs || agg.firstSeenMs > toMs) continue;
        const inFirst = agg.firstSeenMs >= fromMs;
        const inLast = agg.lastSeenMs <= toMs;
        if (inFirst && inLast) yield agg;
        else {
          const t = inLast ? agg.lastSeenMs : agg.firstSeenMs;
          yield { sample: agg.sample, hitCount: agg.hitCount, firstSeenMs: t, lastSeenMs: t };
        }
      }
    }
  }

  get size(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.size;
    return n;
  }
}

// SPDX-License-Identifier: Apache-2.0
import type { FunctionSummary, Observation, ObservationQuery } from '@stella/sdk';
import { globToRegExp } from './glob.js';

/** Milliseconds since the epoch of `observedAt`; throws a sentence naming the record when invalid. */
export function observedAtMs(o: Observation, index = 0): number {
  const t = Date.parse(o.observedAt);
  if (!Number.isFinite(t)) {
    throw new TypeError(`observation ${index}: observedAt ${JSON.stringify(o.observedAt)} is not an ISO-8601 time`);
  }
  return t;
}

/**
 * A predicate for the non-time parts of a query. Windows are half-open everywhere:
 * `from <= observedAt < to`, so adjacent windows never count a record twice.
 */
export function matcherFor(q: ObservationQuery): (o: Observation) => boolean {
  const fn = q.function ? globToRegExp(q.function) : undefined;
  return (o) => (q.service === undefined || o.service === q.service) && (fn === undefined || fn.test(o.function));
}

export function inWindow(t: number, q: ObservationQuery): boolean {
  return (q.from === undefined || t >= q.from.getTime()) && (q.to === undefined || t < q.to.getTime());
}

/** Groups by (service, function, nodeHash, binaryPath), the unit verification matches on. */
export class SummaryAccumulator {
  private readonly groups = new Map<string, FunctionSummary & { firstMs: number; lastMs: number }>();

  add(o: Observation, t: number): void {
    const key = `${o.service}\u0000${o.function}\u0000${o.nodeHash ?? ''}\u0000${o.binaryPath}`;
    const g = this.groups.get(key);
    if (!g) {
      this.groups.set(key, {
        service: o.service,
        function: o.function,
        ...(o.nodeHash ? { nodeHash: o.nodeHash } : {}),
        binaryPath: o.binaryPath,
        hitCount: o.hitCount,
        records: 1,
        firstSeen: o.observedAt,
        lastSeen: o.observedAt,
        firstMs: t,
        lastMs: t,
      });
      return;
    }
    g.hitCount += o.hitCount;
    g.records++;
    if (t < g.firstMs) {
      g.firstMs = t;
      g.firstSeen = o.observedAt;
    }
    if (t > g.lastMs) {
      g.lastMs = t;
      g.lastSeen = o.observedAt;
    }
  }

  result(): FunctionSummary[] {
    return sortSummaries(
      [...this.groups.values()].map(({ firstMs: _f, lastMs: _l, firstSeen, lastSeen, ...rest }) => ({
        ...rest,
        firstSeen: new Date(_f).toISOString(),
        lastSeen: new Date(_l).toISOString(),
      })),
    );
  }
}

export function sortSummaries(rows: FunctionSummary[]): FunctionSummary[] {
  const k = (s: FunctionSummary) => `${s.service}\u0000${s.function}\u0000${s.binaryPath}\u0000${s.nodeHash ?? ''}`;
  return rows.sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

/**
 * Rough heap footprint of one record as V8 keeps it: object header and property slots, plus each
 * string (one byte a character for the Latin-1 strings these are, 16-byte header). Used to count
 * the memory store in the agent's observation buffer limit; errs on the high side.
 */
export function approxObservationBytes(o: Observation): number {
  let bytes = 64; // object header + hidden class share + our index entry
  for (const value of Object.values(o)) {
    bytes += 8;
    if (typeof value === 'string') bytes += 16 + value.length;
    else if (typeof value === 'number') bytes += 8;
  }
  return bytes;
}

// SPDX-License-Identifier: Apache-2.0
/**
 * The one builder of observations for every probe session. Its key order is the NDJSON contract:
 * `observedAt` first (the verifier's fast lane starts from it, then `service`) and `hitCount` last
 * (read backwards from the end of the line). Optional fields that are absent stay undefined, which
 * JSON omits, so every record has one hidden class and per-event work stays a field copy.
 */
import type { Observation } from './types/observation.js';
import type { ProbeRequest } from './types/probe-requests.js';

/** What varies per record beyond the request: set on the returned object, never added later. */
export interface ObservationFields {
  observedAt: string;
  probeType: string;
  pid: number;
  comm: string;
  hitCount: number;
  tid?: number;
  cgroupId?: string;
  sampleRate?: number;
  windowStart?: string;
  windowEnd?: string;
  countMode?: 'presence';
  algorithm?: string;
}

/** Builds records for one node: `observationOf(request, fields)` in the fixed key order. */
export function createObservationBuilder(
  nodeName: string,
): (request: ProbeRequest, f: ObservationFields) => Observation {
  return (request, f) => ({
    observedAt: f.observedAt,
    service: request.service,
    function: request.functionId,
    symbol: request.symbol,
    purl: request.purl,
    binaryPath: request.binaryPath,
    buildId: request.buildId,
    nodeHash: request.nodeHash,
    probeType: f.probeType,
    pid: f.pid,
    tid: f.tid,
    comm: f.comm,
    cgroupId: f.cgroupId,
    nodeName,
    sampleRate: f.sampleRate,
    windowStart: f.windowStart,
    windowEnd: f.windowEnd,
    algorithm: f.algorithm,
    countMode: f.countMode,
    hitCount: f.hitCount,
  });
}

/**
 * Kernel monotonic ns → ISO-8601 text, reusing the last string while the millisecond repeats
 * (a burst of events shares it; `new Date().toISOString()` per event costs ~0.3 µs).
 */
export function createIsoClock(monotonicToEpochMs: (ns: number) => number): (ns: number) => string {
  let lastMs = -1;
  let lastIso = '';
  return (ns) => {
    const ms = Math.floor(monotonicToEpochMs(ns));
    if (ms !== lastMs) {
      lastMs = ms;
      lastIso = new Date(ms).toISOString();
    }
    return lastIso;
  };
}

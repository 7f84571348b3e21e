// SPDX-License-Identifier: Apache-2.0
/** The record every probe emits and every store keeps. */

/** One observed call (or an aggregated count of calls), the NDJSON record of docs/FUNCTION-MAP.md. */
export interface Observation {
  /** ISO-8601 UTC time of the call (of the last call when aggregated). */
  observedAt: string;
  service: string;
  /** Function id, `category/symbol`. */
  function: string;
  symbol: string;
  purl?: string;
  binaryPath: string;
  buildId?: string;
  /** `sha256:` + hex(sha256(normalizedPurl + ":" + symbol)); absent only in foreign records. */
  nodeHash?: string;
  probeType: string;
  pid: number;
  tid?: number;
  comm: string;
  containerId?: string;
  cgroupId?: string;
  nodeName: string;
  /** 1 per call, or the count over the aggregation window. */
  hitCount: number;
  windowStart?: string;
  windowEnd?: string;
  /** Present when per-call events were sampled in the kernel (0 < sampleRate < 1). */
  sampleRate?: number;
  /**
   * `presence` when the probe ran in presence mode: it stopped trapping in that process once seen in
   * the window, so `hitCount` is a lower bound; whether the call happened in the window is exact.
   * Absent in count mode (every call counted).
   */
  countMode?: 'presence';
  /**
   * The algorithm the call ran (`SHA-256`, `AES-256-CBC`, `X25519`), for functions whose catalogue
   * entry says how to know it; `unknown` when it could not be read. Absent for other functions.
   */
  algorithm?: string;
}

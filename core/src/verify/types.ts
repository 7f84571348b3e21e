// SPDX-License-Identifier: Apache-2.0
/** Verification report, as docs/FUNCTION-MAP.md "The contract" states it. Times are ISO-8601 UTC strings. */

export const VERIFICATION_REPORT_SCHEMA_VERSION = '1.0.0';

export interface VerificationWindow {
  /** Inclusive. */
  from: Date;
  /** Exclusive: an observation at exactly `to` belongs to the next window. */
  to: Date;
}

export interface MissingCall {
  function: string;
  symbol: string;
  binaryPath: string;
  nodeHash: string;
}

export interface PathResult {
  pathId: string;
  tags: string[];
  optional: boolean;
  observed: boolean;
  /** Sum of `hitCount` over the observations that matched any call of the path. */
  hitCount: number;
  /**
   * Present when a matched observation came from a probe in presence mode (`countMode:
   * presence`): the function stopped trapping in that process once seen in the agent's window, so
   * `hitCount` is a lower bound. `observed` is exact either way.
   */
  hitCountIsLowerBound?: true;
  firstSeen: string | null;
  lastSeen: string | null;
  /** Required calls without a matching observation (for an any-of path: all of them, when none was seen). */
  missingCalls: MissingCall[];
}

export interface TagResult {
  rate: number;
  /** The map's `coverage.perTag` minimum, or null when the map sets none for this tag. */
  min: number | null;
  observed: number;
  required: number;
  pass: boolean;
}

export interface ObservedProcess {
  pid: number;
  comm: string;
  containerId?: string;
}

export interface UnexpectedSymbol {
  function: string;
  symbol: string;
  binaryPath: string;
  purl?: string;
  nodeHash?: string;
  hitCount: number;
  firstSeen: string;
  lastSeen: string;
  /** Distinct processes seen calling it, sorted by pid, at most 20. */
  processes: ObservedProcess[];
}

export interface ProbeHealth {
  attached: number;
  failed: number;
  failureRate: number;
}

export interface MalformedSample {
  /** `file:line` (or `source:index` for in-memory sources). */
  location: string;
  reason: string;
}

export interface VerificationReport {
  schemaVersion: string;
  functionMap: { service: string; buildId: string | null; digest: string };
  window: { from: string; to: string };
  verdict: 'pass' | 'fail';
  observationRate: number;
  minObservationRate: number;
  perTag: Record<string, TagResult>;
  paths: PathResult[];
  unexpectedSymbols: UnexpectedSymbol[];
  unexpectedSymbolsCount: number;
  /** Null when no agent status was available (offline verification). */
  probeHealth: ProbeHealth | null;
  observationsRead: number;
  observationsSkipped: {
    malformed: number;
    outOfWindow: number;
    /** Records of another service (a node's files mix services); an addition to the documented report. */
    otherService: number;
    /** Up to 20 malformed records with where and why. */
    malformedSamples: MalformedSample[];
  };
  /** One sentence per reason the verdict is `fail`; empty on pass. */
  failureReasons: string[];
  generatedAt: string;
}

export type AddResult = 'matched' | 'unexpected' | 'out-of-window' | 'other-service';

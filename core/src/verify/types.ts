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
  /** Unobserved paths only: whether the probes could have seen it (the libraries' canaries). */
  visibility?: PathVisibility;
}

/**
 * `not-exercised`: the canary of each library the path needs fired in a target process, so the
 * probes see the library and the path did not run. `not-observable`: some library showed no
 * canary (wrong binary path, another copy, statically linked, container path not reached, probe
 * failed); `reason` names it, with the probe status reason when the agent has one.
 */
export interface PathVisibility {
  verdict: 'not-exercised' | 'not-observable';
  reason: string;
}

/** One library's canary (`canary/<symbol>`) as seen in the window. */
export interface CanarySighting {
  function: string;
  binaryPath: string;
  hitCount: number;
  /** Distinct processes that called it. */
  processes: number;
  firstSeen: string;
  lastSeen: string;
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
  /** Library canaries seen in the window (never part of the rate). */
  canaries: CanarySighting[];
  /** Present while the agent learns this service's map, and once it has (issue 17). */
  learning?: LearningStatus;
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

export type AddResult = 'matched' | 'unexpected' | 'canary' | 'out-of-window' | 'other-service';

/**
 * The agent's learning of one service: `learning` until the window ends, then `completed`, or
 * `partial` when target processes were already running at the agent's start (their library init
 * ran before the probes attached, so the window may have missed calls made only then).
 */
export interface LearningStatus {
  state: 'learning' | 'completed' | 'partial' | 'failed';
  from: string;
  to: string;
  /** Where the refined map is (or will be) written. */
  output: string;
  /** One sentence: why partial or failed. */
  reason?: string;
}

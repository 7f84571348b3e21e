// SPDX-License-Identifier: Apache-2.0
/** The overhead controls (sampling, aggregation, count mode) the agent passes to every probe. */
import type { ProbeType } from './catalogue.js';

/** Overhead controls the agent passes to every probe (docs/OPERATIONS.md §5). */
export interface ProbeTuning {
  /**
   * 0 < samplingRate ≤ 1, applied in the kernel to per-call events. With aggregation on no per-call
   * event is sent (the counts carry every call), so the rate has no effect there.
   */
  samplingRate: number;
  /** 0 = per-call events; > 0 = counts aggregated in BPF maps, read every window. */
  aggregationWindowMs: number;
  maxConcurrent: number;
  attachTimeoutMs: number;
  /** Probe types the operator allows, best first (config `probes.default_types`). */
  defaultTypes: ProbeType[];
  /** Path prefixes the file probes watch, compared in the kernel (config `probes.sensitive_paths`). */
  sensitivePaths?: string[];
  /** Config `probes.mode`: absent means the catalogue's default (see `probeModesOf`): presence for hot functions without an algorithm per call, count otherwise. */
  countMode?: ProbeCountMode;
  /** Config `probes.modes`: per category or function id; the most specific key wins. */
  countModes?: Record<string, ProbeCountMode>;
  /**
   * Presence mode's window: a function seen in a process is disarmed there until the window rolls
   * over. The aggregation window when aggregating, else the verifier's interval.
   */
  presenceWindowMs?: number;
}

/**
 * `count`: every call traps and is counted (exact `hitCount`). `presence`: a function traps until
 * seen in the current window, then is disarmed for that process until the window rolls over
 * (`hitCount` is a lower bound; whether it was called in the window is exact).
 */
export type ProbeCountMode = 'count' | 'presence';

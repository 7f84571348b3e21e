// SPDX-License-Identifier: Apache-2.0
/** What the agent asks a probe plugin to watch, and the states it reports back per call. */
import type { Category, ProbeType } from './catalogue.js';

/** One expected call the agent wants observed, taken from a loaded function map. */
export interface ProbeRequest {
  service: string;
  /** `category/symbol`. */
  functionId: string;
  category: Category;
  symbol: string;
  /** Library soname or basename as in the map (`libssl.so.3`). */
  library: string;
  /** Path as in the map; may be a path inside a container image. */
  binaryPath: string;
  purl?: string;
  buildId?: string;
  nodeHash: string;
  probeTypes: ProbeType[];
}

/**
 * The life of one expected call on this node: declared → resolvable → attached → observed, or
 * failed with a reason. `detached` is a report about one attach point only (see
 * {@link ProbeStatus.attachPoint}): its link was released — the process left, or no target maps
 * that file any more — so it no longer counts. A call never reads `detached`: it reads attached
 * through its other points, failed if one failed, else resolvable.
 */
export type ProbeState = 'declared' | 'resolvable' | 'attached' | 'observed' | 'failed' | 'detached';

export type ProbeFailureReason =
  | 'library-absent'
  | 'symbol-missing'
  | 'stripped'
  | 'kernel-feature-missing'
  | 'build-id-mismatch'
  | 'attach-error'
  | 'limit-reached'
  | 'plugin-error';

export interface ProbeStatus {
  plugin: string;
  service: string;
  functionId: string;
  nodeHash: string;
  /** Resolved file on this node, when known. */
  resolvedPath?: string;
  probeType?: ProbeType;
  state: ProbeState;
  reason?: ProbeFailureReason;
  /** One sentence, e.g. "failed to attach kprobe do_sys_openat2: No such file or directory (ENOENT)". */
  detail?: string;
  pid?: number;
  /**
   * A stable id of one place this call is probed, opaque to the agent: e.g. a library file's
   * `dev:inode`, plus the pid for a per-process link. The agent keeps the latest report of each
   * point and reads the call as attached while any point is attached, else failed while any point
   * failed, else resolvable; so a later failure or a `detached` report of a point does downgrade
   * the call. Reports without it share one implicit point per (plugin, `resolvedPath`, `pid`).
   */
  attachPoint?: string;
}

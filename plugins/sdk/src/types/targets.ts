// SPDX-License-Identifier: Apache-2.0
/** Which processes belong to which service: the user's rules, what a session sees of them, the matched processes. */

/** Which processes belong to which service. Filtering happens in the kernel. */
export interface TargetSpec {
  service: string;
  /** Executable paths (exact, or globs) whose processes belong to the service. */
  executables?: string[];
  /**
   * cgroup v2 paths as /proc/<pid>/cgroup writes them (relative to the hierarchy's root, wherever
   * /proc/self/mountinfo says cgroup2 is mounted), or numeric cgroup ids.
   */
  cgroups?: string[];
  containerIds?: string[];
  pids?: number[];
  /** When true, every process on the node belongs to the service (demo/sidecar use). */
  allProcesses?: boolean;
}

/**
 * What a probe session may know of the node's target rules, and no more. The rules themselves
 * (executables by inode, cgroup ids, matched pids) stay in the core, which fills the kernel's
 * target maps from them; a session only names the service of each event and decides whether to
 * attach per process. A frozen snapshot: call `PluginContext.targetScope()` again after a target
 * change.
 */
export interface TargetScope {
  /** Service names by the index the kernel writes into each event header's `service`. */
  readonly services: readonly string[];
  /** Set when every process on the node belongs to this one service: the kernel filters nothing. */
  readonly allProcessesService?: string;
  /**
   * The running target pids when no executable, cgroup or all-processes rule is in force (the
   * rules name pids or containers only): a session may then attach per process instead of to
   * every process mapping a library. Undefined while any such rule is in force.
   */
  readonly explicitPids?: readonly number[];
}

/** Fds of the node's target maps (stella/target.bpf.h), owned by the core's target filter. */
export interface TargetMapFds {
  pids: number;
  cgroups: number;
  exes: number;
}

/** A process the agent decided to watch. */
export interface TargetProcess {
  pid: number;
  service: string;
  exe: string;
  comm: string;
  cgroupId?: bigint;
  containerId?: string;
  /** `/proc/PID/root`, through which container paths are opened. */
  root: string;
}

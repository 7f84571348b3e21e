// SPDX-License-Identifier: Apache-2.0
/** Which processes belong to which service: the user's rules, their kernel form, the matched processes. */

/** Which processes belong to which service. Filtering happens in the kernel. */
export interface TargetSpec {
  service: string;
  /** Executable paths (exact, or globs) whose processes belong to the service. */
  executables?: string[];
  /** cgroup v2 paths (relative to the cgroup root) or numeric cgroup ids. */
  cgroups?: string[];
  containerIds?: string[];
  pids?: number[];
  /** When true, every process on the node belongs to the service (demo/sidecar use). */
  allProcesses?: boolean;
}

/** Target rules resolved to what the kernel can compare cheaply. */
export interface TargetRules {
  /** Service names; the kernel refers to them by index. */
  services: string[];
  /** When set, no filtering: every process belongs to this service. */
  allProcessesService?: string;
  /** Executables by (device, inode) as the kernel sees them (`s_dev` encoding, not `st_dev`). */
  executables: { service: string; path: string; kernelDev: bigint; inode: bigint }[];
  /** cgroup v2 ids (the cgroup directory's inode number). */
  cgroups: { service: string; path: string; cgroupId: bigint }[];
  /** Processes already running that match a rule (exe, container, explicit pid). */
  pids: { service: string; pid: number }[];
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

// SPDX-License-Identifier: Apache-2.0
/**
 * The node's one target filter (stella/target_tracker.bpf.h): the agent loads one object holding
 * the target maps and the exec/fork/exit tracker, fills the maps from the target rules, and every
 * plugin object reuses those maps by fd before its own load. One tracker runs on every exec,
 * however many plugins are loaded, and a process claimed at exec is a target for all of them.
 */
import { StellaMaps, TARGET_TRACKER_PROGRAMS } from './abi.js';
import { EXE_KEY_LAYOUT, EXE_KEY_SIZE } from './layout.js';
import type { BpfApi, BpfLink, BpfObjectHandle } from './types/bpf-api.js';
import type { Logger } from './types/logger.js';
import type { TargetMapFds, TargetScope } from './types/targets.js';

/**
 * Target rules resolved to what the kernel can compare cheaply. The core's alone: it fills the
 * target maps from them, and a plugin sees only their `TargetScope`.
 */
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

/** `stella_sample_threshold`: emit when bpf_get_prandom_u32() < threshold; 2^32-1 = always. */
export function samplingThreshold(rate: number): number {
  if (!(rate > 0)) return 0;
  if (rate >= 1) return 0xffffffff;
  return Math.floor(rate * 0xffffffff);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

/**
 * The scope a plugin context hands out: a frozen copy, so a plugin can neither read the rules'
 * executables and cgroups nor change what the core and the other plugins see.
 */
export function targetScopeOf(rules: TargetRules): TargetScope {
  const pidsOnly =
    rules.allProcessesService === undefined && rules.executables.length === 0 && rules.cgroups.length === 0;
  return Object.freeze({
    services: Object.freeze([...rules.services]),
    ...(rules.allProcessesService !== undefined ? { allProcessesService: rules.allProcessesService } : {}),
    ...(pidsOnly ? { explicitPids: Object.freeze(rules.pids.map((p) => p.pid)) } : {}),
  });
}

/** Points a plugin object (before load) at the node's target maps. */
export function reuseTargetMaps(handle: BpfObjectHandle, fds: TargetMapFds): void {
  handle.reuseMap(StellaMaps.targetPids, fds.pids);
  handle.reuseMap(StellaMaps.targetCgroups, fds.cgroups);
  handle.reuseMap(StellaMaps.targetExes, fds.exes);
}

export interface TargetFilter {
  /** The shared maps' fds, for `PluginContext.targetMaps`; valid until `close`. */
  readonly maps: TargetMapFds;
  /** Whether the exec/fork/exit tracker is attached (false without filtering or without tp_btf). */
  readonly tracking: boolean;
  /** Adds the rules' executables, cgroups and running pids; the kernel forgets processes at exit. */
  update(rules: TargetRules): void;
  /** Detaches the tracker (on worker threads) and frees the maps once no plugin object holds them. */
  close(): Promise<void>;
}

/**
 * Loads the target filter object at `objectPath` and fills its maps. The tracker is attached only
 * when the rules filter (no all-processes rule); a kernel without tp_btf keeps the /proc-scanned
 * pids filtered and is told that short-lived processes will be missed.
 */
export function openTargetFilter(bpf: BpfApi, objectPath: string, rules: TargetRules, log: Logger): TargetFilter {
  const handle = bpf.open(objectPath, { name: 'target_filter' });
  const filtering = rules.allProcessesService === undefined;
  const links: BpfLink[] = [];
  try {
    for (const program of handle.programNames()) handle.setAutoload(program, filtering);
    handle.load();
    populate(handle, rules);
    if (filtering) {
      for (const program of TARGET_TRACKER_PROGRAMS) {
        try {
          links.push(handle.attachAuto(program));
        } catch (error) {
          log.warn('in-kernel process tracking unavailable: processes started after a /proc scan may be missed', {
            program,
            error: (error as Error).message,
          });
        }
      }
    }
  } catch (error) {
    handle.close();
    throw error;
  }
  const maps: TargetMapFds = {
    pids: handle.mapFd(StellaMaps.targetPids),
    cgroups: handle.mapFd(StellaMaps.targetCgroups),
    exes: handle.mapFd(StellaMaps.targetExes),
  };
  let closed: Promise<void> | undefined;
  return {
    maps,
    tracking: links.length === TARGET_TRACKER_PROGRAMS.length,
    update: (next) => populate(handle, next),
    close() {
      closed ??= (async () => {
        await Promise.all(
          links.map((link) =>
            link
              .destroyAsync()
              .catch((error) => log.warn('detach failed', { link: link.description, error: String(error) })),
          ),
        );
        handle.close();
      })();
      return closed;
    },
  };
}

function populate(handle: BpfObjectHandle, rules: TargetRules): void {
  const serviceIndex = new Map(rules.services.map((s, i) => [s, i]));
  for (const exe of rules.executables) {
    const key = Buffer.alloc(EXE_KEY_SIZE);
    key.writeBigUInt64LE(exe.kernelDev, EXE_KEY_LAYOUT.dev.offset);
    key.writeBigUInt64LE(exe.inode, EXE_KEY_LAYOUT.ino.offset);
    handle.mapUpdate(StellaMaps.targetExes, key, u32(serviceIndex.get(exe.service) ?? 0));
  }
  for (const cgroup of rules.cgroups) {
    handle.mapUpdate(StellaMaps.targetCgroups, u64(cgroup.cgroupId), u32(serviceIndex.get(cgroup.service) ?? 0));
  }
  for (const { pid, service } of rules.pids) {
    handle.mapUpdate(StellaMaps.targetPids, u32(pid), u32(serviceIndex.get(service) ?? 0));
  }
}

// SPDX-License-Identifier: Apache-2.0
import { StellaMaps } from './abi.js';
import { EXE_KEY_LAYOUT, EXE_KEY_SIZE } from './layout.js';
import type { BpfObjectHandle, TargetRules } from './types.js';

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
 * Loads the target rules into an object's maps (stella/target.bpf.h): executables by
 * kernel (dev, inode) — claimed at exec time in the kernel —, cgroup ids, and running pids.
 * Entries are only added: the kernel itself forgets processes at exit.
 */
export function populateTargetMaps(handle: BpfObjectHandle, rules: TargetRules): void {
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

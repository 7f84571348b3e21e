// SPDX-License-Identifier: Apache-2.0
/** Which syscalls a syscall session's requests need, and which requests no syscall carries. */
import type { SyscallProbe } from './syscall-plan.js';
import type { ProbeRequest } from './types/probe-requests.js';

export interface SyscallNeeds {
  /** Each request a probe can observe → the syscalls that carry its symbol. */
  carriedBy: Map<ProbeRequest, string[]>;
  /** Requests whose symbol no probe of the object observes. */
  uncarried: ProbeRequest[];
  /** The probes to attach: every carrying syscall plus what those require. */
  probes: SyscallProbe[];
}

export function syscallNeeds(
  requests: readonly ProbeRequest[],
  probes: readonly SyscallProbe[],
  symbolSyscalls: Readonly<Record<string, readonly string[]>>,
  requires: Readonly<Record<string, readonly string[]>> = {},
): SyscallNeeds {
  const known = new Set(probes.map((p) => p.syscall));
  const wanted = new Set<string>();
  const carriedBy = new Map<ProbeRequest, string[]>();
  const uncarried: ProbeRequest[] = [];
  for (const request of requests) {
    const syscalls = (symbolSyscalls[request.symbol] ?? []).filter((s) => known.has(s));
    if (syscalls.length === 0) {
      uncarried.push(request);
      continue;
    }
    carriedBy.set(request, syscalls);
    for (const s of syscalls) wanted.add(s);
  }
  const pending = [...wanted];
  for (let syscall = pending.pop(); syscall !== undefined; syscall = pending.pop()) {
    for (const dep of requires[syscall] ?? []) {
      if (known.has(dep) && !wanted.has(dep)) {
        wanted.add(dep);
        pending.push(dep);
      }
    }
  }
  return { carriedBy, uncarried, probes: probes.filter((p) => wanted.has(p.syscall)) };
}

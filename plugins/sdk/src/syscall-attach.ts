// SPDX-License-Identifier: Apache-2.0
/** Attaching a syscall session's probes: per syscall, the first candidate mechanism that attaches. */
import { type SyscallMechanism, type SyscallPlan, type SyscallProbe, syscallPrograms } from './syscall-plan.js';
import type { BpfLink, BpfObjectHandle } from './types/bpf-api.js';

/** How one syscall ended up observed (or not). */
export interface SyscallAttachment {
  syscall: string;
  mechanism?: SyscallMechanism;
  /** The decision, in order: skipped mechanisms and failed attaches with their reasons. */
  decisions: string[];
  /** True when the kernel lacks every mechanism (none detected, or each attach said so). */
  kernelMissing: boolean;
  /** True when `probes.max_concurrent` stopped the attach. */
  limitReached?: boolean;
}

/** Attach errors that mean the kernel lacks the mechanism rather than a transient fault. */
const KERNEL_MISSING_ERRNOS = new Set(['ENOENT', 'EOPNOTSUPP', 'ENOTSUPP', 'ENOSYS', 'EPERM']);

export function attachSyscalls(
  handle: BpfObjectHandle,
  plans: readonly SyscallPlan[],
  probeBySyscall: ReadonlyMap<string, SyscallProbe>,
  maxConcurrent: number,
): { attachments: Map<string, SyscallAttachment>; links: BpfLink[] } {
  const attachments = new Map<string, SyscallAttachment>();
  const links: BpfLink[] = [];
  for (const plan of plans) {
    const probe = probeBySyscall.get(plan.syscall)!;
    const attachment: SyscallAttachment = {
      syscall: plan.syscall,
      decisions: plan.skipped.map((s) => `${s.mechanism}: ${s.reason}`),
      kernelMissing: plan.candidates.length === 0,
    };
    let lastErrno: string | undefined;
    for (const mechanism of plan.candidates) {
      const programs = syscallPrograms(probe, mechanism);
      if (links.length + programs.length > maxConcurrent) {
        attachment.decisions.push(`${mechanism}: probes.max_concurrent (${maxConcurrent}) reached`);
        lastErrno = 'limit';
        break;
      }
      const made: BpfLink[] = [];
      try {
        for (const program of programs) made.push(handle.attachAuto(program));
        links.push(...made);
        attachment.mechanism = mechanism;
        attachment.decisions.push(`${mechanism}: attached ${programs.join(' + ')}`);
        break;
      } catch (error) {
        for (const link of made) link.destroy();
        lastErrno = (error as { code?: string }).code;
        attachment.decisions.push(`${mechanism}: ${(error as Error).message}`);
      }
    }
    if (!attachment.mechanism && plan.candidates.length > 0 && lastErrno !== 'limit')
      attachment.kernelMissing = lastErrno !== undefined && KERNEL_MISSING_ERRNOS.has(lastErrno);
    if (lastErrno === 'limit') attachment.limitReached = true;
    attachments.set(plan.syscall, attachment);
  }
  return { attachments, links };
}

/** `connect via tracepoint, sendto via tracepoint, …` grouped by mechanism. */
export function describeMechanisms(attachments: ReadonlyMap<string, SyscallAttachment>): string {
  const by = new Map<string, string[]>();
  for (const [syscall, a] of attachments) {
    const key = a.mechanism ?? 'not attached';
    by.set(key, [...(by.get(key) ?? []), syscall]);
  }
  return [...by].map(([mechanism, syscalls]) => `${syscalls.join(', ')} via ${mechanism}`).join('; ');
}

// SPDX-License-Identifier: Apache-2.0
/** A syscall session's statuses: a request is attached when a syscall carrying it is, with its needs. */
import type { SyscallAttachment } from './syscall-attach.js';
import type { PluginContext } from './types/probe-plugin.js';
import type { ProbeFailureReason, ProbeRequest } from './types/probe-requests.js';

export function reportSyscallStatuses(
  ctx: PluginContext,
  plugin: string,
  carriedBy: ReadonlyMap<ProbeRequest, string[]>,
  attachments: ReadonlyMap<string, SyscallAttachment>,
  requires: Readonly<Record<string, readonly string[]>> = {},
): void {
  for (const [request, syscalls] of carriedBy) {
    const base = { plugin, service: request.service, functionId: request.functionId, nodeHash: request.nodeHash };
    const carried = syscalls.map((s) => attachments.get(s)!);
    const attached = carried.find((a) => a.mechanism);
    const missingDeps = syscalls.flatMap((s) => requires[s] ?? []).filter((dep) => !attachments.get(dep)?.mechanism);
    const decisionText = carried.map((a) => `${a.syscall} [${a.decisions.join('; ')}]`).join(' ');
    if (attached && missingDeps.length === 0) {
      ctx.reportStatus({
        ...base,
        probeType: attached.mechanism!,
        state: 'attached',
        resolvedPath: request.binaryPath,
        detail: `observed at the syscall boundary: ${decisionText}`,
      });
      continue;
    }
    const reason: ProbeFailureReason = carried.some((a) => a.limitReached)
      ? 'limit-reached'
      : carried.every((a) => a.kernelMissing)
        ? 'kernel-feature-missing'
        : 'attach-error';
    ctx.reportStatus({
      ...base,
      state: 'failed',
      reason: attached ? 'kernel-feature-missing' : reason,
      detail: attached
        ? `${request.symbol} is matched through ${missingDeps.join(', ')}, which could not attach`
        : `no mechanism could observe ${syscalls.join('/')}: ${decisionText}`,
    });
  }
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Which capability each kernel operation the agent makes really needs, read from the kernel source
 * and measured as uid 65534 on Linux 6.18 (docs/SECURITY.md "Privileges the agent needs"). Used to
 * turn a bare EACCES/EPERM into one sentence naming the missing capability.
 */
import { readFileSync } from 'node:fs';

export const CAPABILITY_BITS = {
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
} as const;
export type CapabilityName = keyof typeof CAPABILITY_BITS;

/** The effective capabilities of this process among those the agent cares about. */
export function effectiveCapabilities(statusText?: string): Set<CapabilityName> {
  let text = statusText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      text = '';
    }
  }
  const eff = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)/m.exec(text)?.[1] ?? '0'}`);
  const held = new Set<CapabilityName>();
  for (const [name, bit] of Object.entries(CAPABILITY_BITS))
    if ((eff >> BigInt(bit)) & 1n) held.add(name as CapabilityName);
  return held;
}

const EACCES = 13;
const EPERM = 1;

/**
 * The sentence to add to a failed `verb object` (the addon's wording) when the errno is a
 * permission error and a capability this process lacks explains it; undefined otherwise.
 */
export function missingCapabilityHint(
  verb: string,
  object: string,
  errno: number,
  held: Set<CapabilityName> = effectiveCapabilities(),
): string | undefined {
  if (errno !== EACCES && errno !== EPERM) return undefined;
  const lacks = (...names: CapabilityName[]) => names.filter((n) => !held.has(n));
  if (verb === 'load' || verb === 'open') {
    if (held.has('CAP_SYS_ADMIN')) return undefined;
    const missing = lacks('CAP_BPF', 'CAP_PERFMON');
    return missing.length > 0
      ? `missing capability ${missing.join(' and ')}: loading tracing BPF programs needs CAP_BPF and CAP_PERFMON`
      : undefined;
  }
  if (verb !== 'attach') return undefined;
  // kernel/events/core.c perf_uprobe_event_init: capable(CAP_SYS_ADMIN) again since Linux 6.16
  // (commit ba677dbe, "perf: Revert to requiring CAP_SYS_ADMIN for uprobes"), whatever
  // CAP_PERFMON says; uprobe_multi links (kernel/trace/bpf_trace.c) check no capability at attach.
  if (/^u(ret)?probe /.test(object) && !held.has('CAP_SYS_ADMIN'))
    return 'missing capability CAP_SYS_ADMIN: Linux 6.16 and later require it for perf-event uprobes (uprobe_multi links need only CAP_BPF and CAP_PERFMON)';
  const viaProcRoot = /\/proc\/\d+\/root\//.test(object);
  if (/^u(ret)?probe_multi /.test(object)) {
    if (viaProcRoot && !held.has('CAP_SYS_PTRACE'))
      return "missing capability CAP_SYS_PTRACE: the library is opened through /proc/PID/root, which needs ptrace access to another user's process";
    if (lacks('CAP_DAC_READ_SEARCH', 'CAP_DAC_OVERRIDE').length === 2)
      return 'missing capability CAP_DAC_READ_SEARCH: the kernel opens the probed file with the agent’s own permissions';
    return undefined;
  }
  // libbpf reads the tracepoint id from tracefs, which is mode 0700 root.
  if (/^tracepoint /.test(object) && lacks('CAP_DAC_READ_SEARCH', 'CAP_DAC_OVERRIDE').length === 2)
    return 'missing capability CAP_DAC_READ_SEARCH: tracepoint ids are read from tracefs, which only root may read';
  return undefined;
}

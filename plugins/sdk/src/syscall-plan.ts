// SPDX-License-Identifier: Apache-2.0
/**
 * Which mechanism observes each syscall: kprobe → fentry → syscall tracepoint, decided from what
 * this kernel offers (detect, degrade, then load). Pure except for `detectSyscallMechanisms`,
 * which reads tracefs and may trial-load the object's fentry program once.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BpfApi } from './types/bpf-api.js';
import type { ProbeType } from './types/catalogue.js';
import type { ProbePluginDetection } from './types/probe-plugin.js';

/** Mechanisms a syscall object carries a program for (stella/syscall.bpf.h). */
export type SyscallMechanism = 'kprobe' | 'fentry' | 'tracepoint';

/** The built-in chain, best first: kprobes see every caller cheaply; tracepoints always exist. */
export const SYSCALL_MECHANISM_CHAIN: readonly SyscallMechanism[] = ['kprobe', 'fentry', 'tracepoint'];

/** Program name prefixes per mechanism, entry and exit (`tp_openat`, `tpx_openat`). */
export const SYSCALL_PROGRAM_PREFIX: Record<SyscallMechanism, { enter: string; exit: string }> = {
  kprobe: { enter: 'kp_', exit: 'kpx_' },
  fentry: { enter: 'fe_', exit: 'fex_' },
  tracepoint: { enter: 'tp_', exit: 'tpx_' },
};

/** One syscall a plugin's object probes. */
export interface SyscallProbe {
  /** Name as tracefs spells it: `connect`, `openat`. */
  syscall: string;
  /** The id the object's programs write into the record's cookie. */
  id: number;
  /** Has exit programs (`tpx_`, `kpx_`, `fex_`) that must attach together with the entry. */
  exit?: boolean;
}

export interface MechanismVerdict {
  ok: boolean;
  /** Why not, when `ok` is false. */
  reason?: string;
}

/** What this kernel offers, per mechanism (tracepoints per syscall). */
export interface SyscallMechanismAvailability {
  kprobe: MechanismVerdict;
  fentry: MechanismVerdict;
  tracepoint: Record<string, MechanismVerdict>;
}

export interface SyscallPlan {
  syscall: string;
  /** Mechanisms to try, in order. */
  candidates: SyscallMechanism[];
  /** Mechanisms passed over before attaching, with the reason. */
  skipped: { mechanism: SyscallMechanism; reason: string }[];
}

/**
 * The order to try mechanisms in: `probes.default_types` decides the order of the mechanisms it
 * names (`kretprobe` counts as `kprobe`); the rest follow in the built-in chain's order. So the
 * default `[uprobe, kprobe]` keeps kprobe first, and `[tracepoint]` puts tracepoints first.
 * Naming a mechanism never removes the others: a fallback the kernel needs stays possible.
 */
export function mechanismOrder(defaultTypes: readonly ProbeType[] = []): SyscallMechanism[] {
  const order: SyscallMechanism[] = [];
  for (const type of defaultTypes) {
    const mechanism: ProbeType = type === 'kretprobe' ? 'kprobe' : type;
    if ((SYSCALL_MECHANISM_CHAIN as readonly string[]).includes(mechanism) && !order.includes(mechanism as never))
      order.push(mechanism as SyscallMechanism);
  }
  for (const mechanism of SYSCALL_MECHANISM_CHAIN) if (!order.includes(mechanism)) order.push(mechanism);
  return order;
}

/** Per syscall: the mechanisms to try in `order`, minus those the kernel lacks (with why). */
export function planSyscalls(
  probes: readonly SyscallProbe[],
  availability: SyscallMechanismAvailability,
  order: readonly SyscallMechanism[],
): SyscallPlan[] {
  return probes.map(({ syscall }) => {
    const plan: SyscallPlan = { syscall, candidates: [], skipped: [] };
    for (const mechanism of order) {
      const verdict =
        mechanism === 'tracepoint'
          ? (availability.tracepoint[syscall] ?? { ok: false, reason: 'not detected' })
          : availability[mechanism];
      if (verdict.ok) plan.candidates.push(mechanism);
      else plan.skipped.push({ mechanism, reason: verdict.reason ?? 'not available' });
    }
    return plan;
  });
}

const fentryTrials = new Map<string, MechanismVerdict>();

/**
 * Detects, without attaching anything, which mechanisms can carry `probes` here. Kprobes and
 * tracepoints are read from sysfs/tracefs (docs/KERNEL.md §1); fentry needs a trial load, made once per
 * object and process with only one fentry program switched on.
 */
export function detectSyscallMechanisms(
  bpf: BpfApi,
  objectPath: string,
  probes: readonly SyscallProbe[],
): SyscallMechanismAvailability {
  const features = bpf.features();
  const kprobe: MechanismVerdict = features.kprobes
    ? { ok: true }
    : {
        ok: false,
        reason:
          'the kernel has no kprobes (no /sys/bus/event_source/devices/kprobe/type nor kprobe_events: CONFIG_KPROBES off)',
      };
  let fentry: MechanismVerdict;
  if (features.fentry === true) fentry = { ok: true };
  else if (features.fentry === false) fentry = { ok: false, reason: 'fentry programs do not load on this kernel' };
  else fentry = trialLoadFentry(bpf, objectPath, probes);
  const tracepoint: Record<string, MechanismVerdict> = {};
  for (const { syscall, exit } of probes) {
    if (!features.tracefsPath) {
      tracepoint[syscall] = {
        ok: false,
        reason: features.tracefsUnreadable
          ? `${features.tracefsUnreadable} is not readable: missing capability CAP_DAC_READ_SEARCH (tracefs is readable only by root)`
          : 'tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)',
      };
      continue;
    }
    const dir = join(features.tracefsPath, 'events', 'syscalls');
    const missing = [`sys_enter_${syscall}`, ...(exit ? [`sys_exit_${syscall}`] : [])].filter(
      // stat, not access(): access() drops a non-root agent's CAP_DAC_READ_SEARCH (tracefs is 0700).
      (name) => statSync(join(dir, name), { throwIfNoEntry: false }) === undefined,
    );
    tracepoint[syscall] =
      missing.length === 0
        ? { ok: true }
        : { ok: false, reason: `no syscall tracepoint ${missing.join(', ')} in ${dir} (CONFIG_FTRACE_SYSCALLS)` };
  }
  return { kprobe, fentry, tracepoint };
}

function trialLoadFentry(bpf: BpfApi, objectPath: string, probes: readonly SyscallProbe[]): MechanismVerdict {
  const cached = fentryTrials.get(objectPath);
  if (cached) return cached;
  let verdict: MechanismVerdict;
  let handle: ReturnType<BpfApi['open']> | undefined;
  try {
    handle = bpf.open(objectPath, { name: 'fentry-trial' });
    const programs = handle.programNames();
    const trial = probes
      .map((p) => `${SYSCALL_PROGRAM_PREFIX.fentry.enter}${p.syscall}`)
      .find((name) => programs.includes(name));
    if (!trial) {
      verdict = { ok: false, reason: `${objectPath} has no fentry program` };
    } else {
      for (const program of programs) handle.setAutoload(program, program === trial);
      handle.setMaxEntries('stella_events', 4096);
      handle.load();
      verdict = { ok: true };
    }
  } catch (error) {
    verdict = { ok: false, reason: `trial load of an fentry program failed: ${(error as Error).message}` };
  } finally {
    try {
      handle?.close();
    } catch {
      // closing a half-opened object: nothing left to release
    }
  }
  fentryTrials.set(objectPath, verdict);
  return verdict;
}

/** Programs implementing `syscall` with `mechanism`: the entry, then the exit when paired. */
export function syscallPrograms(probe: SyscallProbe, mechanism: SyscallMechanism): string[] {
  const prefix = SYSCALL_PROGRAM_PREFIX[mechanism];
  return [`${prefix.enter}${probe.syscall}`, ...(probe.exit ? [`${prefix.exit}${probe.syscall}`] : [])];
}

/**
 * A syscall plugin's `detect`: available when at least one of its syscalls has a mechanism here;
 * `mechanisms[category]` is what the built-in chain picks first; `notes` say why the better
 * mechanisms were passed over (on this machine kind: no kprobes, fentry refused).
 */
export function detectSyscallPlugin(
  bpf: BpfApi,
  objectPath: string,
  probes: readonly SyscallProbe[],
  category: string,
): ProbePluginDetection {
  if (!existsSync(objectPath))
    return { available: false, reason: `BPF object ${objectPath} is missing: run npm run build:bpf` };
  const availability = detectSyscallMechanisms(bpf, objectPath, probes);
  const plans = planSyscalls(probes, availability, mechanismOrder());
  const usable = plans.filter((p) => p.candidates.length > 0);
  const notes = [...new Set(plans.flatMap((p) => p.skipped.map((s) => `${s.mechanism}: ${s.reason}`)))];
  if (usable.length === 0)
    return {
      available: false,
      reason: `no mechanism can observe ${category} syscalls here: ${notes.join('; ')}`,
      notes,
    };
  const mechanism = usable[0]!.candidates[0]!;
  return { available: true, mechanisms: { [category]: mechanism }, notes: [`${category} via ${mechanism}`, ...notes] };
}

// SPDX-License-Identifier: Apache-2.0
/** What this kernel offers, detected from sysfs/tracefs without loading programs (docs/KERNEL.md §1). */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { ATTACH_COOKIES_MISSING, type KernelFeatures } from '@stella/sdk';
import { nativeAddon, packageDir } from './native.js';
import { BpfObject } from './object.js';

/** enum bpf_map_type BPF_MAP_TYPE_RINGBUF (the kernel's uapi/linux/bpf.h). */
const BPF_MAP_TYPE_RINGBUF = 27;

const TRACEFS_PATHS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

export interface DetectOptions {
  /** Mount tracefs at /sys/kernel/tracing when it is absent and we are root (default true). */
  mountTracefs?: boolean;
  /** Try loading a tiny fentry program to learn whether fentry works (default false). */
  trialLoadFentry?: boolean;
}

export interface KernelFeatureReport extends KernelFeatures {
  /** Why a feature is off, or what detection did (e.g. mounted tracefs). */
  notes: string[];
}

/**
 * stat(2), not access(2): access() checks with the real uid and, for a non-root uid, no
 * capabilities, so an agent given CAP_DAC_READ_SEARCH for tracefs (mode 0700) would still find it
 * "missing" while libbpf, which opens files, can read it.
 */
function pathVisible(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

function mountedTracefs(): string | undefined {
  return TRACEFS_PATHS.find((p) => pathVisible(join(p, 'events')));
}

/** The tracefs mount this uid may not read (EACCES), as opposed to one that is not mounted. */
function unreadableTracefs(): string | undefined {
  return TRACEFS_PATHS.find((p) => {
    try {
      statSync(join(p, 'events'));
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EACCES';
    }
  });
}

/** Why syscall tracepoints cannot be used when tracefs is mounted but unreadable. */
const TRACEFS_UNREADABLE =
  'missing capability CAP_DAC_READ_SEARCH: tracefs is readable only by root, and syscall tracepoint ids are read from it';

/** The one sentence every place that refuses uprobes on a pre-5.15 kernel says (defined by the SDK). */
export { ATTACH_COOKIES_MISSING } from '@stella/sdk';

function kernelAtLeast(kernelRelease: string, major: number, minor: number): boolean {
  const [maj = 0, min = 0] = kernelRelease.split(/[.-]/).map(Number);
  return maj > major || (maj === major && min >= minor);
}

/** The compiled fentry trial object (built by `npm run build:bpf`). */
export const FENTRY_PROBE_OBJECT = join(packageDir, 'probes', 'fentry_probe.bpf.o');

/** Whether an fentry program loads here (false with EPERM on the project's kernel). */
export function trialLoadFentry(objectPath = FENTRY_PROBE_OBJECT): { ok: boolean; reason?: string } {
  let obj: BpfObject | undefined;
  try {
    obj = new BpfObject(objectPath);
    obj.load();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  } finally {
    obj?.close();
  }
}

/** The node's target filter: the target maps every plugin object reuses, and the exec/fork/exit tracker. */
export const TARGET_FILTER_OBJECT = join(packageDir, 'probes', 'target_filter.bpf.o');

/** The compiled uprobe_multi trial object (built by `npm run build:bpf`). */
export const UPROBE_MULTI_PROBE_OBJECT = join(packageDir, 'probes', 'uprobe_multi_probe.bpf.o');

export interface UprobeMultiSupport {
  supported: boolean;
  /** Why not (the failing step's error), when unsupported. */
  reason?: string;
}

const uprobeMultiVerdicts = new Map<string, Promise<UprobeMultiSupport>>();

/**
 * Whether this kernel and libbpf make uprobe_multi links (Linux >= 6.6, libbpf >= 1.4): a real
 * trial, not a version check. Loads a do-nothing `uprobe.multi` program and links it at offset 0
 * of the object file itself for this process only; that file is never mapped executable, so no
 * breakpoint is ever written. Load, link and release happen off the event loop except the load
 * (one tiny program). The verdict is kept for the life of the process.
 */
export function uprobeMultiSupported(objectPath = UPROBE_MULTI_PROBE_OBJECT): Promise<UprobeMultiSupport> {
  let verdict = uprobeMultiVerdicts.get(objectPath);
  if (!verdict) {
    verdict = trialUprobeMulti(objectPath);
    uprobeMultiVerdicts.set(objectPath, verdict);
  }
  return verdict;
}

async function trialUprobeMulti(objectPath: string): Promise<UprobeMultiSupport> {
  let obj: BpfObject | undefined;
  try {
    obj = new BpfObject(objectPath);
    obj.load();
    const link = await obj.attachUprobeMulti({
      program: 'stella_uprobe_multi_probe',
      binaryPath: objectPath,
      offsets: [0],
      pid: process.pid,
    });
    await link.destroyAsync();
    return { supported: true };
  } catch (error) {
    return { supported: false, reason: (error as Error).message };
  } finally {
    await obj?.closeAsync();
  }
}

export function detectKernelFeatures(options: DetectOptions = {}): KernelFeatureReport {
  const notes: string[] = [];
  const kernelRelease = release();
  let tracefsPath = mountedTracefs();
  if (!tracefsPath && (options.mountTracefs ?? true) && process.getuid?.() === 0) {
    const res = spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { encoding: 'utf8' });
    tracefsPath = mountedTracefs();
    if (tracefsPath) notes.push(`mounted tracefs at ${tracefsPath}`);
    else
      notes.push(`tracefs is not mounted and mounting it failed: ${(res.stderr || res.error?.message || '').trim()}`);
  }
  const tracefsUnreadable = tracefsPath ? undefined : unreadableTracefs();
  if (tracefsUnreadable) notes.push(`${tracefsUnreadable}: ${TRACEFS_UNREADABLE}`);
  else if (!tracefsPath && !((options.mountTracefs ?? true) && process.getuid?.() === 0)) {
    notes.push('tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing, as root)');
  }

  const btf = existsSync('/sys/kernel/btf/vmlinux');
  if (!btf) notes.push('no kernel BTF at /sys/kernel/btf/vmlinux: CO-RE objects cannot load');
  const uprobes = existsSync('/sys/bus/event_source/devices/uprobe/type');
  if (!uprobes) notes.push('no uprobe PMU (/sys/bus/event_source/devices/uprobe)');
  const kprobes =
    existsSync('/sys/bus/event_source/devices/kprobe/type') ||
    (tracefsPath !== undefined && pathVisible(join(tracefsPath, 'kprobe_events')));
  if (!kprobes) notes.push('kprobes are not available (kernel built without CONFIG_KPROBES)');
  const syscallTracepoints =
    tracefsPath !== undefined && pathVisible(join(tracefsPath, 'events', 'syscalls', 'sys_enter_connect'));
  if (!syscallTracepoints) notes.push('syscall tracepoints are not available (no tracefs events/syscalls)');

  let ringbuf: boolean;
  try {
    ringbuf = nativeAddon().probeMapType(BPF_MAP_TYPE_RINGBUF);
  } catch {
    ringbuf = kernelAtLeast(kernelRelease, 5, 8); // BPF ring buffer arrived in Linux 5.8
  }
  if (!ringbuf) notes.push('BPF ring buffers are not available (Linux >= 5.8)');

  // The helper arrived with BPF cookies in Linux 5.15 (perf-event links); there is no cheaper probe
  // for a helper than loading a program that calls it, and the release is exact for it.
  const attachCookies = kernelAtLeast(kernelRelease, 5, 15);
  if (!attachCookies) notes.push(ATTACH_COOKIES_MISSING);

  const features: KernelFeatureReport = {
    kernelRelease,
    btf,
    uprobes,
    kprobes,
    syscallTracepoints,
    ringbuf,
    attachCookies,
    notes,
  };
  if (tracefsPath) features.tracefsPath = tracefsPath;
  if (tracefsUnreadable) features.tracefsUnreadable = tracefsUnreadable;
  if (options.trialLoadFentry) {
    const trial = trialLoadFentry();
    features.fentry = trial.ok;
    if (!trial.ok) notes.push(`fentry does not load here: ${trial.reason}`);
  }
  return features;
}

// SPDX-License-Identifier: Apache-2.0
/**
 * The checklist of docs/OPERATIONS.md "When probes do not attach", automated: kernel version, BTF,
 * capabilities, probe types, tracefs, the map's binary paths and build-ids, SELinux/AppArmor, and a
 * real trial attach per plugin (its object loaded, one uprobe attached to libc and detached).
 */
import { existsSync, readFileSync } from 'node:fs';
import { ATTACH_COOKIES_MISSING, type CapabilityName, detectKernelFeatures, effectiveCapabilities } from '@stella/bpf';
import {
  type BpfApi,
  type Logger,
  type ProbePlugin,
  readElfSymbols,
  SYSCALL_PROGRAM_PREFIX,
  type SyscallMechanism,
} from '@stella/sdk';
import type { FunctionMap } from '../function-map/index.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';
export interface DoctorCheck {
  check: string;
  status: CheckStatus;
  detail: string;
}

/**
 * One row per kernel feature and the capability it needs (docs/SECURITY.md): loading BPF at all,
 * perf-event uprobes (CAP_SYS_ADMIN since Linux 6.16), other users' /proc/PID entries, tracefs.
 */
export function capabilityChecks(
  statusText = readFileSync('/proc/self/status', 'utf8'),
  uid = process.getuid?.() ?? 0,
): DoctorCheck[] {
  const held = effectiveCapabilities(statusText);
  const has = (name: CapabilityName) => held.has(name);
  const names = [...held].join(', ') || 'none';
  const canLoad = has('CAP_SYS_ADMIN') || (has('CAP_BPF') && has('CAP_PERFMON'));
  return [
    {
      check: 'capabilities',
      status: canLoad ? 'pass' : 'fail',
      detail: canLoad
        ? `effective: ${names}`
        : `need CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN) to load BPF; have: ${names}`,
    },
    {
      check: 'capability for perf-event uprobes',
      status: has('CAP_SYS_ADMIN') ? 'pass' : 'warn',
      detail: has('CAP_SYS_ADMIN')
        ? 'CAP_SYS_ADMIN'
        : 'missing capability CAP_SYS_ADMIN: uprobe_multi links work, but perf-event uprobes (kernels without uprobe_multi, the dlopen watcher) fail EACCES on Linux 6.16 and later',
    },
    {
      check: "capability for other users' processes",
      status: has('CAP_SYS_PTRACE') ? 'pass' : 'warn',
      detail: has('CAP_SYS_PTRACE')
        ? 'CAP_SYS_PTRACE'
        : `missing capability CAP_SYS_PTRACE: processes of a uid other than ${uid} cannot be read in /proc and are not observed`,
    },
    {
      check: 'capability for tracefs',
      status: uid === 0 || has('CAP_DAC_READ_SEARCH') || has('CAP_DAC_OVERRIDE') ? 'pass' : 'warn',
      detail:
        uid === 0
          ? 'uid 0 owns tracefs'
          : has('CAP_DAC_READ_SEARCH') || has('CAP_DAC_OVERRIDE')
            ? 'CAP_DAC_READ_SEARCH'
            : 'missing capability CAP_DAC_READ_SEARCH: syscall tracepoints (net, file) cannot read their ids from tracefs',
    },
  ];
}

export function kernelVersionCheck(release: string): DoctorCheck {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  const ok = major > 5 || (major === 5 && minor >= 8);
  return { check: 'kernel version', status: ok ? 'pass' : 'fail', detail: `${release} (need ≥ 5.8: ring buffer, BTF)` };
}

function lsmChecks(): DoctorCheck[] {
  const out: DoctorCheck[] = [];
  const selinux = existsSync('/sys/fs/selinux/enforce')
    ? readFileSync('/sys/fs/selinux/enforce', 'utf8').trim()
    : undefined;
  out.push({
    check: 'SELinux',
    status: selinux === '1' ? 'warn' : 'pass',
    detail:
      selinux === undefined
        ? 'not enabled'
        : selinux === '1'
          ? 'enforcing: a policy may deny bpf()/perf_event_open'
          : 'permissive',
  });
  const apparmor = existsSync('/sys/module/apparmor/parameters/enabled')
    ? readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim()
    : 'N';
  out.push({
    check: 'AppArmor',
    status: 'pass',
    detail: apparmor === 'Y' ? 'enabled (the agent runs unconfined unless a profile says otherwise)' : 'not enabled',
  });
  const lockdown = existsSync('/sys/kernel/security/lockdown')
    ? readFileSync('/sys/kernel/security/lockdown', 'utf8').trim()
    : '';
  if (lockdown)
    out.push({ check: 'lockdown', status: /\[confidentiality\]/.test(lockdown) ? 'warn' : 'pass', detail: lockdown });
  return out;
}

/** Binary paths named by the maps exist here, and their GNU build-ids match the map's. */
export function binaryPathChecks(maps: FunctionMap[]): DoctorCheck[] {
  const seen = new Map<string, string | undefined>();
  for (const map of maps)
    for (const path of map.predicate.expectedPaths)
      for (const call of path.expectedCalls)
        if (!seen.has(call.binaryPath) || call.buildId) seen.set(call.binaryPath, call.buildId);
  const out: DoctorCheck[] = [];
  for (const [binaryPath, buildId] of seen) {
    if (!existsSync(binaryPath)) {
      out.push({
        check: `binary ${binaryPath}`,
        status: 'fail',
        detail: 'missing on this node (is the map for this deployment?)',
      });
      continue;
    }
    try {
      const elf = readElfSymbols(binaryPath);
      if (buildId && elf.buildId && buildId.toLowerCase() !== elf.buildId)
        out.push({
          check: `binary ${binaryPath}`,
          status: 'fail',
          detail: `build-id ${elf.buildId}, map expects ${buildId}: regenerate the map`,
        });
      else
        out.push({
          check: `binary ${binaryPath}`,
          status: 'pass',
          detail: `present${elf.buildId ? `, build-id ${elf.buildId}` : ''}`,
        });
    } catch (error) {
      out.push({ check: `binary ${binaryPath}`, status: 'fail', detail: (error as Error).message });
    }
  }
  return out;
}

/**
 * A real trial per plugin: its own detection first (what it would use here, and why not the
 * better mechanisms), then its object loaded with that mechanism's programs only and one program
 * attached and detached — a uprobe on libc's getpid for uprobe objects, a syscall program (entry
 * tracepoint, kprobe or fentry, whichever the plugin picked) for syscall objects.
 */
export async function trialAttach(
  bpf: BpfApi,
  plugins: ProbePlugin<unknown>[],
  logger: Logger,
): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  const libc = ['/usr/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6'].find(
    existsSync,
  );
  for (const plugin of plugins) {
    const check = `trial attach ${plugin.name}`;
    let detection: Awaited<ReturnType<ProbePlugin<unknown>['detect']>>;
    try {
      detection = await plugin.detect({ bpf, logger });
    } catch (error) {
      out.push({ check, status: 'fail', detail: `detect threw: ${(error as Error).message}` });
      continue;
    }
    if (!detection.available) {
      out.push({ check, status: 'fail', detail: detection.reason ?? 'not available on this kernel' });
      continue;
    }
    const mechanism = Object.values(detection.mechanisms ?? {})[0];
    for (const objectPath of plugin.bpfObjects) {
      if (!existsSync(objectPath)) {
        out.push({ check, status: 'fail', detail: `${objectPath} missing: run npm run build:bpf` });
        continue;
      }
      let handle: ReturnType<BpfApi['open']> | undefined;
      try {
        handle = bpf.open(objectPath, { name: `doctor:${plugin.name}` });
        const programs = handle.programNames();
        if (programs.includes('stella_uprobe_call') && libc) {
          // The agent's own mechanism: a uprobe_multi link where the kernel has them (they need no
          // CAP_SYS_ADMIN), a perf-event uprobe otherwise.
          const multi = (await bpf.uprobeMultiSupported?.())?.supported === true;
          if (multi) handle.setProgramAttachType('stella_uprobe_call', 'uprobe.multi');
          handle.load();
          const offset = readElfSymbols(libc).offsetOf('getpid') ?? 0;
          const attach = { program: 'stella_uprobe_call', binaryPath: libc, pid: process.pid };
          if (multi) await (await handle.attachUprobeMulti({ ...attach, offsets: [offset] })).destroyAsync();
          else handle.attachUprobe({ ...attach, offset }).destroy();
          out.push({
            check,
            status: 'pass',
            detail: `loaded ${objectPath}; ${multi ? 'uprobe_multi link' : 'uprobe'} attached to ${libc}:getpid and detached`,
          });
          continue;
        }
        const prefix =
          mechanism && mechanism in SYSCALL_PROGRAM_PREFIX
            ? SYSCALL_PROGRAM_PREFIX[mechanism as SyscallMechanism]
            : undefined;
        const chosen = prefix
          ? programs.filter((p) => p.startsWith(prefix.enter) || p.startsWith(prefix.exit))
          : programs;
        for (const program of programs) handle.setAutoload(program, chosen.includes(program));
        handle.load();
        const trial = chosen.find((p) => prefix === undefined || p.startsWith(prefix.enter));
        if (trial) handle.attachAuto(trial).destroy();
        out.push({
          check,
          status: 'pass',
          detail: `loaded ${objectPath} with its ${mechanism ?? 'default'} programs (${chosen.length})${trial ? `; ${trial} attached and detached` : ''}`,
        });
      } catch (error) {
        out.push({ check, status: 'fail', detail: (error as Error).message });
      } finally {
        handle?.close();
      }
    }
  }
  return out;
}

export async function runDoctor(opts: {
  bpf: BpfApi;
  plugins: ProbePlugin<unknown>[];
  maps: FunctionMap[];
  logger: Logger;
}): Promise<DoctorCheck[]> {
  const f = detectKernelFeatures({ trialLoadFentry: true });
  const checks: DoctorCheck[] = [
    kernelVersionCheck(f.kernelRelease),
    {
      check: 'BTF',
      status: f.btf ? 'pass' : 'fail',
      detail: f.btf ? '/sys/kernel/btf/vmlinux' : 'no /sys/kernel/btf/vmlinux',
    },
    ...capabilityChecks(),
    {
      check: 'tracefs',
      status: f.tracefsPath ? 'pass' : 'warn',
      detail:
        f.tracefsPath ??
        (f.tracefsUnreadable
          ? `${f.tracefsUnreadable} is not readable: missing capability CAP_DAC_READ_SEARCH`
          : 'not mounted: mount -t tracefs nodev /sys/kernel/tracing'),
    },
    {
      check: 'uprobe',
      status: f.uprobes ? 'pass' : 'fail',
      detail: f.uprobes ? 'available (crypto, tls, auth)' : 'missing',
    },
    {
      check: 'attach cookies',
      status: f.attachCookies === false ? 'fail' : 'pass',
      detail: f.attachCookies === false ? ATTACH_COOKIES_MISSING : 'available (Linux ≥ 5.15)',
    },
    {
      check: 'kprobe',
      status: f.kprobes ? 'pass' : 'warn',
      detail: f.kprobes ? 'available' : 'missing (CONFIG_KPROBES off): net/file fall back',
    },
    {
      check: 'fentry',
      status: f.fentry ? 'pass' : 'warn',
      detail: f.fentry ? 'trial load ok' : 'trial load failed: net/file fall back to tracepoints',
    },
    {
      check: 'syscall tracepoints',
      status: f.syscallTracepoints ? 'pass' : 'warn',
      detail: f.syscallTracepoints ? 'available' : 'missing',
    },
    {
      check: 'ring buffer',
      status: f.ringbuf ? 'pass' : 'fail',
      detail: f.ringbuf ? 'available' : 'missing (Linux ≥ 5.8)',
    },
    ...lsmChecks(),
    ...binaryPathChecks(opts.maps),
    ...(await trialAttach(opts.bpf, opts.plugins, opts.logger)),
  ];
  return checks;
}

export function formatChecks(checks: DoctorCheck[]): string {
  const width = Math.max(...checks.map((c) => c.check.length));
  const mark = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;
  return `${checks.map((c) => `${mark[c.status]}  ${c.check.padEnd(width)}  ${c.detail}`).join('\n')}\n`;
}

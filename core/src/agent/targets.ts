// SPDX-License-Identifier: Apache-2.0
import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { effectiveCapabilities } from '@stella/bpf';
import type { Logger, TargetProcess, TargetSpec } from '@stella/sdk';
import type { TargetRules } from '@stella/sdk/target-filter';
import picomatch from 'picomatch';
import { kernelExecutableIdentity } from './exe-identity.js';
import { cgroupDirectory, hostCgroup2Mount, type MountEntry } from './mountinfo.js';

export { userDevToKernelDev } from './exe-identity.js';

const CONTAINER_ID = /([0-9a-f]{64})(?:\.scope)?$/;

/** Container id from a cgroup v2 path (docker, containerd, cri-o, podman all end in the 64-hex id). */
export function containerIdFromCgroup(cgroupPath: string): string | undefined {
  for (const part of cgroupPath.split('/').reverse()) {
    const m = CONTAINER_ID.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

interface ProcInfo {
  pid: number;
  exe: string;
  comm: string;
  cgroupPath?: string;
  cgroupId?: bigint;
}

export interface TargetResolverOptions {
  procRoot?: string;
  /** Where the cgroup v2 hierarchy is mounted; default: the cgroup2 mount in /proc/self/mountinfo. */
  cgroupRoot?: string;
  logger: Logger;
}

/**
 * Resolves the configured target specs to kernel-level rules and to the set of running processes.
 * User space only seeds the kernel: processes started later are claimed in BPF at exec time by
 * (device, inode) of their executable, so a 5 ms curl is never missed.
 */
export class TargetResolver {
  private readonly procRoot: string;
  private readonly cgroup2: Pick<MountEntry, 'root' | 'mountPoint'>;
  private readonly services: string[];
  private rules: TargetRules;
  private processes: TargetProcess[] = [];
  /** Whether the "cannot read other users' processes" warning was given (once per agent). */
  private warnedUnreadable = false;
  private unreadableInScan = 0;

  constructor(
    private readonly specs: TargetSpec[],
    private readonly options: TargetResolverOptions,
  ) {
    this.procRoot = options.procRoot ?? '/proc';
    this.cgroup2 = options.cgroupRoot ? { root: '/', mountPoint: options.cgroupRoot } : hostCgroup2Mount();
    this.services = [...new Set(specs.map((s) => s.service))];
    this.rules = this.resolveRules();
  }

  targetRules(): TargetRules {
    return this.rules;
  }

  targets(): TargetProcess[] {
    return this.processes;
  }

  /** Rescans /proc; returns true when the target set changed. */
  refresh(): boolean {
    this.rules = this.resolveRules();
    const next = this.scanProcesses();
    const changed =
      next.length !== this.processes.length ||
      next.some((p, i) => p.pid !== this.processes[i]?.pid || p.service !== this.processes[i]?.service);
    this.processes = next;
    this.rules = { ...this.rules, pids: next.map((p) => ({ service: p.service, pid: p.pid })) };
    return changed;
  }

  private resolveRules(): TargetRules {
    const executables: TargetRules['executables'] = [];
    const cgroups: TargetRules['cgroups'] = [];
    let allProcessesService: string | undefined;
    for (const spec of this.specs) {
      if (spec.allProcesses && allProcessesService === undefined) allProcessesService = spec.service;
      for (const pattern of spec.executables ?? []) {
        for (const path of expandExecutable(pattern)) {
          try {
            const real = realpathSync(path);
            const { kernelDev, inode } = kernelExecutableIdentity(real);
            if (!executables.some((e) => e.inode === inode && e.kernelDev === kernelDev)) {
              executables.push({ service: spec.service, path: real, kernelDev, inode });
            }
          } catch (error) {
            this.options.logger.debug('target executable not present', { path, error: (error as Error).message });
          }
        }
      }
      for (const cgroup of spec.cgroups ?? []) {
        if (/^\d+$/.test(cgroup)) {
          cgroups.push({ service: spec.service, path: cgroup, cgroupId: BigInt(cgroup) });
          continue;
        }
        const id = this.cgroupId(cgroup);
        if (id !== undefined) cgroups.push({ service: spec.service, path: cgroup, cgroupId: id });
        else this.options.logger.warn('target cgroup not found', { cgroup, cgroup2Mount: this.cgroup2.mountPoint });
      }
    }
    return { services: this.services, allProcessesService, executables, cgroups, pids: this.rules?.pids ?? [] };
  }

  private scanProcesses(): TargetProcess[] {
    const found: TargetProcess[] = [];
    let entries: string[];
    try {
      entries = readdirSync(this.procRoot);
    } catch {
      return found;
    }
    const exeIndex = new Map(this.rules.executables.map((e) => [e.path, e.service]));
    this.unreadableInScan = 0;
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      const info = this.readProc(Number(entry));
      if (!info) continue;
      const service = this.matchService(info, exeIndex);
      if (service === undefined) continue;
      found.push({
        pid: info.pid,
        service,
        exe: info.exe,
        comm: info.comm,
        cgroupId: info.cgroupId,
        containerId: info.cgroupPath ? containerIdFromCgroup(info.cgroupPath) : undefined,
        root: join(this.procRoot, String(info.pid), 'root'),
      });
    }
    this.warnUnreadable();
    return found.sort((a, b) => a.pid - b.pid);
  }

  /**
   * /proc/PID/exe of another user's process needs ptrace access (PTRACE_MODE_READ): without
   * CAP_SYS_PTRACE a non-root agent silently saw no target at all, so say so once.
   */
  private warnUnreadable(): void {
    if (this.unreadableInScan === 0 || this.warnedUnreadable) return;
    // With CAP_SYS_PTRACE a refusal is no capability problem (a process exiting, another namespace's
    // rules): not worth a warning.
    if (effectiveCapabilities().has('CAP_SYS_PTRACE')) {
      this.options.logger.debug('processes whose /proc/PID/exe cannot be read', { count: this.unreadableInScan });
      return;
    }
    this.warnedUnreadable = true;
    this.options.logger.warn(
      `${this.unreadableInScan} processes cannot be matched to a target (missing capability CAP_SYS_PTRACE, which the agent needs to read another user's /proc/PID/exe); they are not observed`,
    );
  }

  private matchService(info: ProcInfo, exeIndex: Map<string, string>): string | undefined {
    for (const spec of this.specs) {
      if (spec.pids?.includes(info.pid)) return spec.service;
    }
    const byExe = exeIndex.get(info.exe);
    if (byExe !== undefined) return byExe;
    const containerId = info.cgroupPath ? containerIdFromCgroup(info.cgroupPath) : undefined;
    for (const spec of this.specs) {
      if (containerId && spec.containerIds?.some((id) => containerId.startsWith(id))) return spec.service;
      if (info.cgroupPath && spec.cgroups?.some((c) => !/^\d+$/.test(c) && isUnder(info.cgroupPath!, c)))
        return spec.service;
      if (info.cgroupId !== undefined && spec.cgroups?.some((c) => /^\d+$/.test(c) && BigInt(c) === info.cgroupId)) {
        return spec.service;
      }
    }
    return this.rules.allProcessesService;
  }

  /** A cgroup v2 id is its directory's inode number (what bpf_get_current_cgroup_id returns). */
  private cgroupId(cgroupPath: string): bigint | undefined {
    const dir = cgroupDirectory(this.cgroup2, cgroupPath);
    if (dir === undefined) return undefined;
    try {
      return statSync(dir, { bigint: true }).ino;
    } catch {
      return undefined; // removed meanwhile, or not a cgroup
    }
  }

  private readProc(pid: number): ProcInfo | undefined {
    const dir = join(this.procRoot, String(pid));
    try {
      const exe = readlinkSync(join(dir, 'exe')).replace(/ \(deleted\)$/, '');
      const comm = readFileSync(join(dir, 'comm'), 'utf8').trim();
      let cgroupPath: string | undefined;
      let cgroupId: bigint | undefined;
      try {
        const line = readFileSync(join(dir, 'cgroup'), 'utf8')
          .split('\n')
          .find((l) => l.startsWith('0::'));
        cgroupPath = line?.slice(3);
        if (cgroupPath) cgroupId = this.cgroupId(cgroupPath);
      } catch {
        // cgroup v1 hosts or a process that just exited: no cgroup rule can match it.
      }
      return { pid, exe, comm, cgroupPath, cgroupId };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EACCES') this.unreadableInScan++;
      return undefined; // kernel thread (no exe) or already gone
    }
  }
}

function isUnder(path: string, prefix: string): boolean {
  const p = prefix.startsWith('/') ? prefix : `/${prefix}`;
  return path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`);
}

function expandExecutable(pattern: string): string[] {
  if (!picomatch.scan(pattern).isGlob) return [pattern];
  const dir = dirname(pattern);
  const isMatch = picomatch(basename(pattern));
  try {
    return readdirSync(dir)
      .filter((name) => isMatch(name))
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

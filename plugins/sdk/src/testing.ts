// SPDX-License-Identifier: Apache-2.0
/**
 * `@stella/sdk/testing`: what a probe plugin's tests need and every plugin would otherwise copy: a
 * plugin context that records what the session emits and reports, workload children driven over
 * stdin, an independent bpftrace count, and a BPF API wrapper that fails attaches on demand.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { openTargetFilter, type TargetFilter, type TargetRules, targetScopeOf } from './target-filter.js';
import {
  type CatalogueRequests,
  type CountedCall,
  catalogueRequests,
  countCatalogueCalls,
  createWorkloadFiles,
  WORKLOAD_UNREACHED,
  type WorkloadPart,
} from './testing-workloads.js';
import type { BpfApi, BpfObjectHandle } from './types/bpf-api.js';
import type { CatalogueEntry } from './types/catalogue.js';
import type { Logger } from './types/logger.js';
import type { Observation } from './types/observation.js';
import type { PluginContext, ProbePlugin } from './types/probe-plugin.js';
import type { ProbeRequest, ProbeStatus } from './types/probe-requests.js';
import type { TargetMapFds } from './types/targets.js';
import type { ProbeTuning } from './types/tuning.js';

/** Debian's interpreter, not a pyenv shim: the pid we target must be the one making the calls. */
export const PYTHON = existsSync('/usr/bin/python3.11') ? '/usr/bin/python3.11' : 'python3';

/**
 * Why BPF objects cannot be built and checked here (clang compiles them, bpftool reads their BTF),
 * printed once; undefined when both tools are on PATH. The unprivileged CI run hides them on purpose.
 */
export function bpfBuildToolsMissing(): string | undefined {
  const missing = ['clang', 'bpftool'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`]);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return undefined;
  const reason = `${missing.join(' and ')} not on PATH`;
  console.warn(`BPF object build and ABI check skipped: ${reason}`);
  return reason;
}

export function bpfUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'BPF tests need root';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'the kernel has no BTF';
  return undefined;
}

export interface TestContext {
  ctx: PluginContext;
  observations: Observation[];
  statuses: ProbeStatus[];
  logs: string[];
}

function memoryLogger(lines: string[], bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push(`${level} ${msg} ${JSON.stringify({ ...bindings, ...fields })}`);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => memoryLogger(lines, { ...bindings, ...more }),
  };
}

/** `/proc/PID/exe`, or '' once the process is gone. */
function exeOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

/** Target filters opened for test contexts; each lives until the test process exits, as the agent's would. */
const testFilters: TargetFilter[] = [];

/** The node's target maps as the agent's plugin host would load them, when `bpf` ships the object. */
function targetMapsFor(bpf: BpfApi, rules: TargetRules, log: Logger): TargetMapFds | undefined {
  if (!bpf.targetFilterObject || bpfUnavailableReason()) return undefined;
  const filter = openTargetFilter(bpf, bpf.targetFilterObject, rules, log);
  testFilters.push(filter);
  return filter.maps;
}

/** The context the agent's plugin host would build, for one service whose processes are `pids`. */
export function testContext(
  bpf: BpfApi,
  service: string,
  pids: number[],
  tuning: Partial<ProbeTuning> = {},
): TestContext {
  const observations: Observation[] = [];
  const statuses: ProbeStatus[] = [];
  const logs: string[] = [];
  const rules: TargetRules = {
    services: [service],
    executables: [],
    cgroups: [],
    pids: pids.map((pid) => ({ service, pid })),
  };
  const ctx: PluginContext = {
    bpf,
    logger: memoryLogger(logs),
    nodeName: 'test-node',
    tuning: {
      samplingRate: 1,
      aggregationWindowMs: 0,
      maxConcurrent: 256,
      attachTimeoutMs: 5000,
      defaultTypes: ['uprobe', 'kprobe'],
      ...tuning,
    },
    targets: () =>
      pids
        .filter((pid) => existsSync(`/proc/${pid}`))
        .map((pid) => ({
          pid,
          service,
          exe: exeOf(pid),
          comm: '',
          root: `/proc/${pid}/root`,
        })),
    targetScope: () => targetScopeOf(rules),
    targetMaps: targetMapsFor(bpf, rules, memoryLogger(logs)),
    onTargetsChanged: () => () => {},
    emit: (batch) => observations.push(...batch),
    reportStatus: (status) => statuses.push(status),
    reportKernelDrops: () => {},
  };
  return { ctx, observations, statuses, logs };
}

/** An expected libc call as the agent would build it from a function map. */
export function libcRequest(service: string, category: string, symbol: string): ProbeRequest {
  return {
    service,
    functionId: `${category}/${symbol}`,
    category,
    symbol,
    library: 'libc.so.6',
    binaryPath: '/usr/lib/x86_64-linux-gnu/libc.so.6',
    purl: 'pkg:deb/debian/libc6@2.36-9',
    nodeHash: `sha256:test-${category}-${symbol}`,
    probeTypes: ['kprobe', 'tracepoint'],
  };
}

/** hitCount summed per function id, for one pid. */
export function countsFor(observations: Observation[], pid: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of observations) if (o.pid === pid) counts[o.function] = (counts[o.function] ?? 0) + o.hitCount;
  return counts;
}

/**
 * A python3 script that prints `ready`, waits for a line, does its calls, prints `done`, waits
 * for a line and exits: the calls happen only while the probes are attached.
 */
export class ScriptWorkload {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  readonly #waiters: ((line: string) => void)[] = [];

  constructor(script: string, args: string[] = []) {
    this.child = spawn(PYTHON, ['-c', script, ...args], { stdio: 'pipe' });
    this.child.stderr.on('data', (d) => process.stderr.write(d));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  nextLine(): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async ready(): Promise<void> {
    const line = await this.nextLine();
    if (line !== 'ready') throw new Error(`workload said ${line}`);
  }

  /** Lets the workload make its calls; resolves when it says `done`. */
  async go(): Promise<void> {
    this.child.stdin.write('go\n');
    const line = await this.nextLine();
    if (line !== 'done') throw new Error(`workload said ${line}`);
  }

  async exit(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.end('bye\n');
    await exited;
  }
}

/** Wraps a real BpfApi: lie about features, make chosen program attaches fail like the kernel would. */
export function faultyBpf(
  real: BpfApi,
  faults: { kprobes?: boolean; failAttach?: (program: string) => boolean },
): BpfApi {
  return {
    targetFilterObject: real.targetFilterObject,
    features: () => ({ ...real.features(), ...(faults.kprobes !== undefined ? { kprobes: faults.kprobes } : {}) }),
    open(path, options) {
      const handle = real.open(path, options);
      return new Proxy(handle, {
        get(target, prop) {
          if (prop === 'attachAuto' && faults.failAttach) {
            return (program: string) => {
              if (faults.failAttach!(program)) {
                throw Object.assign(
                  new Error(`failed to attach program ${program}: No such file or directory (ENOENT)`),
                  { code: 'ENOENT' },
                );
              }
              return target.attachAuto(program);
            };
          }
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as BpfObjectHandle;
    },
  };
}

/**
 * Interrupts a bpftrace process and resolves when it has exited. bpftrace 0.17 can miss a SIGINT
 * that lands just before it blocks in epoll_wait: it then waits for an event that never comes, and
 * a test or benchmark holding the kernel lock hangs (seen three times on this machine). So the
 * signal is sent again each second until the process is gone; one that was heard ends it at once.
 */
export async function interruptBpftrace(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  const again = setInterval(() => child.kill('SIGINT'), 1000);
  try {
    await exited;
  } finally {
    clearInterval(again);
  }
}

/**
 * Runs a bpftrace program until `stop()` interrupts it and returns everything it printed. Resolves
 * once every probe is attached: a BEGIN probe is added that prints a marker, and BEGIN fires only
 * after "Attaching N probes" has succeeded.
 */
export async function startBpftrace(program: string): Promise<{ stop(): Promise<string> }> {
  const child = spawn('bpftrace', ['-B', 'line', '-e', `${program}\nBEGIN { printf("armed\\n"); }`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += String(d);
      if (output.includes('armed')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`bpftrace exited ${code}: ${output}`)));
  });
  return {
    async stop() {
      await interruptBpftrace(child);
      return output;
    },
  };
}

/**
 * An independent count for one process: bpftrace `count()` on each probe spec (label → e.g.
 * `tracepoint:syscalls:sys_enter_connect` or `uprobe:/usr/lib/…/libcrypto.so.3:EVP_DigestUpdate`),
 * read when `stop()` interrupts it.
 */
export async function bpftraceCounts(
  probes: Readonly<Record<string, string>>,
  pid: number,
): Promise<{ stop(): Promise<Record<string, number>> }> {
  const tracer = await startBpftrace(
    Object.entries(probes)
      .map(([label, probe]) => `${probe} /pid == ${pid}/ { @calls["${label}"] = count(); }`)
      .join('\n'),
  );
  return {
    async stop() {
      const output = await tracer.stop();
      const counts: Record<string, number> = {};
      for (const [, label, n] of output.matchAll(/@calls\[([^\]]+)\]: (\d+)/g)) counts[label!] = Number(n);
      return counts;
    },
  };
}

/** What {@link countCatalogueInCountMode} runs: one plugin over its catalogue's libraries. */
export interface CountModeRun {
  plugin: ProbePlugin;
  bpf: BpfApi;
  catalogue: readonly CatalogueEntry[];
  /** File names under {@link SYSTEM_LIBRARY_DIR}; functions a file does not export are `absent`. */
  libraries: readonly string[];
  /** The workload parts that call those libraries' functions. */
  parts: readonly WorkloadPart[];
  aggregationWindowMs: number;
}

/** The two count-mode paths a count must survive: a record per call, and in-kernel aggregates. */
export const COUNT_MODE_WINDOWS = [
  { window: 0, what: 'per-call events' },
  { window: 1000, what: 'aggregation_window_ms 1000' },
] as const;

/**
 * The plugin's real session in count mode and one bpftrace count the workload's calls of every
 * catalogue function the libraries export (20 calls each), on the same pid. The workload's
 * certificate and PAM service exist for this run only.
 */
export async function countCatalogueInCountMode(
  run: CountModeRun,
): Promise<CatalogueRequests & { rows: CountedCall[] }> {
  const service = 'catalogue-svc';
  const { requests, absent } = catalogueRequests(run.catalogue, service, run.libraries);
  const files = createWorkloadFiles();
  try {
    const rows = await countCatalogueCalls(
      {
        python: PYTHON,
        bpftraceCounts,
        async startPlugin(pid, wanted) {
          const t = testContext(run.bpf, service, [pid], {
            countMode: 'count',
            aggregationWindowMs: run.aggregationWindowMs,
          });
          const session = await run.plugin.start(t.ctx, wanted);
          return {
            async stop() {
              await session.stop();
              return t;
            },
          };
        },
      },
      requests,
      run.parts,
      20,
      files,
    );
    return { requests, absent, rows };
  } finally {
    files.remove();
  }
}

/**
 * Where the plugin's counts differ from bpftrace's, one sentence each; none when counts are exact.
 * A function nobody counted must be one `WORKLOAD_UNREACHED` explains, and each it lists must stay
 * uncounted; every call's probe must have attached.
 */
export function countGaps(rows: readonly CountedCall[]): string[] {
  const gaps: string[] = [];
  for (const r of rows) {
    if (r.agent !== r.bpftrace) gaps.push(`${r.symbol}: agent ${r.agent}, bpftrace ${r.bpftrace}`);
    const unreached = r.symbol in WORKLOAD_UNREACHED;
    if (r.bpftrace === 0 && !unreached) gaps.push(`${r.symbol}: uncounted, and WORKLOAD_UNREACHED does not say why`);
    if (r.bpftrace > 0 && unreached) gaps.push(`${r.symbol}: counted, yet listed in WORKLOAD_UNREACHED`);
    if (r.placement === 'never attached') gaps.push(`${r.symbol}: never attached`);
  }
  return gaps;
}

export * from './testing-workloads.js';

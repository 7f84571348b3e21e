// SPDX-License-Identifier: Apache-2.0
/**
 * Helpers for the probe end-to-end tests: a function map from a few calls, the real agent composed
 * in-process from a YAML config (statuses and reports are inspected directly), NDJSON read back,
 * an independent bpftrace count, and child processes driven over stdin/stdout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATTACH_COOKIES_MISSING, detectKernelFeatures } from '@stella/bpf';
import { type Observation, readElfSymbols } from '@stella/sdk';
import { interruptBpftrace } from '@stella/sdk/testing';
import { type ComposedAgent, composeAgent } from '../../../core/src/agent/compose.js';
import type { CallStatus } from '../../../core/src/agent/status.js';
import { nodeHash, pathHash } from '../../../core/src/function-map/index.js';
import { readObservations } from '../../support/ndjson.js';

export { hits } from '../../support/ndjson.js';

export const LIBDIR = '/usr/lib/x86_64-linux-gnu';
export const canBpf = process.getuid?.() === 0;
/** Why the uprobe plugins cannot run on this kernel (they refuse it, docs/KERNELS.md), or undefined. */
export const uprobeRefusal =
  canBpf && detectKernelFeatures({ mountTracefs: false }).attachCookies === false ? ATTACH_COOKIES_MISSING : undefined;
if (uprobeRefusal) console.warn(`skipping uprobe workload tests: ${uprobeRefusal}`);

export interface CallSpec {
  function: string;
  library: string;
  binaryPath: string;
  purl: string;
  buildId?: string;
  optional?: boolean;
}

/** One required path per call (so each call's observation shows in the report on its own). */
export function functionMap(service: string, calls: CallSpec[]): unknown {
  const subject = `pkg:generic/${service}@1.0.0`;
  const entry = { symbol: 'main', purl: subject, nodeHash: nodeHash(subject, 'main') };
  return {
    _type: 'https://stella.ops/predicates/function-map/v1',
    subject: { purl: subject, digest: { sha256: '1'.repeat(64) } },
    predicate: {
      schemaVersion: '1.0.0',
      service,
      coverage: { minObservationRate: 0.95, windowSeconds: 600, failOnUnexpected: false },
      expectedPaths: calls.map((c) => {
        const symbol = c.function.split('/')[1]!;
        const call = {
          function: c.function,
          symbol,
          library: c.library,
          purl: c.purl,
          binaryPath: c.binaryPath,
          ...(c.buildId ? { buildId: c.buildId } : {}),
          probeTypes: ['uprobe'],
          nodeHash: nodeHash(c.purl, symbol),
          optional: c.optional ?? false,
        };
        return {
          pathId: c.function.replace('/', '-'),
          tags: [c.function.split('/')[0]!],
          priority: 'crypto',
          optional: c.optional ?? false,
          entrypoint: entry,
          expectedCalls: [call],
          pathHash: pathHash([entry.nodeHash, call.nodeHash]),
        };
      }),
    },
  };
}

export interface AgentRun {
  dir: string;
  composed: ComposedAgent;
  /** One row per call: its effective state and its attach points. */
  statuses(): CallStatus[];
  status(functionId: string): CallStatus | undefined;
  /** Stops the agent (drains the ring buffer, flushes NDJSON) and returns every record on disk. */
  stop(): Promise<Observation[]>;
}

export interface AgentSetup {
  service: string;
  calls: CallSpec[];
  /** YAML flow mapping of a target spec, e.g. `{service: s, pids: [1]}`. */
  targets: string[];
  probes?: string;
  aggregationWindowMs?: number;
  extraMaps?: { service: string; calls: CallSpec[] }[];
  extraTargets?: string[];
  /** Serve Prometheus metrics on 127.0.0.1 at this port (off by default). */
  metricsPort?: number;
}

export async function startAgent(setup: AgentSetup): Promise<AgentRun> {
  const dir = await mkdtemp(join(tmpdir(), 'stella-probes-'));
  const maps: string[] = [];
  for (const m of [{ service: setup.service, calls: setup.calls }, ...(setup.extraMaps ?? [])]) {
    const path = join(dir, `${m.service}.map.json`);
    await writeFile(path, JSON.stringify(functionMap(m.service, m.calls)));
    maps.push(path);
  }
  const outDir = join(dir, 'observations');
  const configPath = join(dir, 'stella.yaml');
  await writeFile(
    configPath,
    [
      'runtime_agent:',
      '  node_name: probes-e2e',
      `  function_maps: ${JSON.stringify(maps)}`,
      `  targets: [${[...setup.targets, ...(setup.extraTargets ?? [])].join(', ')}]`,
      '  observation_store: {type: memory}',
      `  probes: ${setup.probes ?? '{max_concurrent: 256, attach_timeout_ms: 5000, sampling_rate: 1.0}'}`,
      `  export: {flush_interval_ms: 200, output_path: ${JSON.stringify(outDir)}, aggregation_window_ms: ${setup.aggregationWindowMs ?? 0}}`,
      `  telemetry: {prometheus: ${
        setup.metricsPort ? `{enabled: true, host: 127.0.0.1, port: ${setup.metricsPort}}` : '{enabled: false}'
      }, verify_interval_ms: 500}`,
      '  log: {level: warn}',
      '',
    ].join('\n'),
  );
  const composed = await composeAgent({ configPath });
  await composed.agent.start();
  return {
    dir,
    composed,
    statuses: () => composed.agent.statuses.all(),
    status: (functionId) => composed.agent.statuses.all().find((s) => s.functionId === functionId),
    async stop() {
      await composed.dispose();
      const out = await readObservations(outDir);
      await rm(dir, { recursive: true, force: true });
      return out;
    },
  };
}

/** A child driven line by line: `await child.line('ready')`, `child.send('go')`. */
export interface Driven {
  process: ChildProcess;
  pid: number;
  line(text: string, timeoutMs?: number): Promise<void>;
  send(text: string): void;
  exited: Promise<number | null>;
  output(): string;
}

/**
 * Children still running. A test that fails or times out must not leave a bpftrace or a client
 * behind: a leftover bpftrace keeps its uprobes in every later test's libssl (seen: it tripled the
 * TLS benchmark's baseline and slowed the next suite until it timed out).
 */
const driven = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of driven) child.kill('SIGKILL');
});

/** Kills every child `drive` started that is still running, and waits for them. */
export async function stopDriven(): Promise<void> {
  await Promise.all(
    [...driven].map(async (child) => {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }),
  );
}

export function drive(command: string, args: string[], env?: NodeJS.ProcessEnv): Driven {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  driven.add(child);
  child.once('exit', () => driven.delete(child));
  let out = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const onData = (d: Buffer) => {
    out += String(d);
    for (const w of [...waiters]) {
      if (out.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    pid: child.pid!,
    exited,
    output: () => out,
    send: (text) => child.stdin?.write(`${text}\n`),
    line(text, timeoutMs = 30_000) {
      if (out.includes(text)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for "${text}"; output:\n${out}`)),
          timeoutMs,
        );
        waiters.push({
          text,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        void exited.then((code) => reject(new Error(`exited ${code} before "${text}"; output:\n${out}`)));
      });
    },
  };
}

/** An independent count: a bpftrace count() per probe spec, printed at SIGINT. */
export async function bpftraceCount(probes: string[], filter: string): Promise<{ stop(): Promise<number> }> {
  const program = probes.map((p) => `${p} /${filter}/ { @calls = count(); }`).join('\n');
  const child = drive('bpftrace', ['-e', program]);
  await child.line('Attaching');
  return {
    async stop() {
      await interruptBpftrace(child.process);
      await child.exited;
      return Number(/@calls: (\d+)/.exec(child.output())?.[1] ?? 0);
    },
  };
}

/** Polls until `check` holds (statuses flip asynchronously after a dlopen or a rescan). */
export async function until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

/**
 * Copies an ELF file with its GNU build-id replaced by `buildId` (same length, hex), as a rebuild of
 * the same source would differ: the note's bytes are rewritten, the code is the same.
 */
export async function copyWithBuildId(from: string, to: string, buildId: string): Promise<void> {
  const current = readElfSymbols(from).buildId;
  if (!current || current.length !== buildId.length)
    throw new Error(`${from} has no ${buildId.length / 2}-byte build-id`);
  const bytes = await readFile(from);
  const at = bytes.indexOf(Buffer.concat([Buffer.from('GNU\0', 'latin1'), Buffer.from(current, 'hex')]));
  if (at < 0) throw new Error(`the build-id note of ${from} was not found`);
  Buffer.from(buildId, 'hex').copy(bytes, at + 4);
  await writeFile(to, bytes);
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

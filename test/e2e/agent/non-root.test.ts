// SPDX-License-Identifier: Apache-2.0
/**
 * The agent as uid 65534 with exactly the capabilities docs/SECURITY.md names for uprobes
 * (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE) counts a root workload's TLS handshakes exactly as the
 * root agent and bpftrace do; without CAP_SYS_PTRACE it says in one sentence what is missing.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { interruptBpftrace } from '@stella/sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { runStella, startStella } from '../../support/cli.js';
import { LIBSSL, libsslCallMap, stdoutLines } from '../../support/maps.js';
import { hits, readObservations } from '../../support/ndjson.js';

const HANDSHAKES = 20;
const NOBODY = 65534;

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to start BPF and to drop to uid 65534';
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'setpriv (util-linux) is missing';
  }
  const [major = 0, minor = 0] = release().split('.').map(Number);
  if (major < 6 || (major === 6 && minor < 6))
    return `Linux ${release()} has no uprobe_multi, which non-root uprobes need`;
  return undefined;
}
const skip = skipReason();
if (skip) console.warn(`[skip] non-root agent e2e: ${skip}`);

/** setpriv arguments for uid/gid 65534 with exactly `caps` (inheritable, ambient and bounding). */
function asNobody(caps: string[]): string[] {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return [
    'setpriv',
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    '--clear-groups',
    `--inh-caps=${set}`,
    `--ambient-caps=${set}`,
    `--bounding-set=${set}`,
  ];
}

describe.skipIf(skip !== undefined)('agent as a non-root user with the documented capabilities', () => {
  let dir: string;
  let server: TlsServer;
  let client: ChildProcess;
  let bpftrace: ChildProcess;
  let bpftraceOut = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-nonroot-'));
    await chmod(dir, 0o755);
    server = await startOpensslServer(dir);
    client = spawn(
      'python3',
      [join(import.meta.dirname, 'fixtures/tls_client.py'), String(server.port), server.certPath, String(HANDSHAKES)],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    await stdoutLines(client, 'ready');
    bpftrace = spawn(
      'bpftrace',
      [
        '-B',
        'line',
        '-e',
        `uprobe:${LIBSSL}:SSL_do_handshake /pid == ${client.pid}/ { @calls = count(); }\nBEGIN { printf("armed\\n"); }`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    bpftrace.stdout?.on('data', (d) => {
      bpftraceOut += String(d);
    });
    await stdoutLines(bpftrace, 'armed');
  });
  afterAll(async () => {
    client?.stdin?.end();
    if (bpftrace) await interruptBpftrace(bpftrace);
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** One agent run over one round of handshakes; returns the agent's count and its stderr. */
  async function round(name: string, wrapper: string[] | undefined): Promise<{ hits: number; log: string }> {
    const mapPath = join(dir, `${name}-map.json`);
    await writeFile(mapPath, JSON.stringify(libsslCallMap('nonroot-e2e')), { mode: 0o644 });
    const outDir = join(dir, `${name}-out`);
    await mkdir(outDir);
    await chown(outDir, NOBODY, NOBODY);
    const configPath = join(dir, `${name}.yaml`);
    await writeFile(
      configPath,
      [
        'runtime_agent:',
        `  function_maps: [${JSON.stringify(mapPath)}]`,
        `  targets: [{service: nonroot-e2e, pids: [${client.pid}]}]`,
        '  observation_store: {type: memory}',
        `  export: {flush_interval_ms: 200, output_path: ${JSON.stringify(outDir)}}`,
        '  telemetry: {prometheus: {enabled: false}, verify_interval_ms: 500}',
      ].join('\n'),
      { mode: 0o644 },
    );
    const agent = startStella(['agent', '--config', configPath], wrapper ? { wrapper } : {});
    await agent.waitFor(/\bready metrics=/, 60_000);
    client.stdin?.write('\n');
    await stdoutLines(client, 'done');
    agent.child.kill('SIGTERM');
    expect(await agent.exited, agent.stderr()).toBe(0);
    return { hits: hits(await readObservations(outDir), 'tls/SSL_do_handshake', client.pid!), log: agent.stderr() };
  }

  it(`uid ${NOBODY} with CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE counts what root and bpftrace count`, async () => {
    const root = await round('root', undefined);
    const nobody = await round('nobody', asNobody(['bpf', 'perfmon', 'sys_ptrace']));
    const noPtrace = await round('no-ptrace', asNobody(['bpf', 'perfmon']));
    await interruptBpftrace(bpftrace);

    expect(Number(/@calls: (\d+)/.exec(bpftraceOut)?.[1])).toBe(3 * HANDSHAKES);
    expect(root.hits, root.log).toBe(HANDSHAKES);
    expect(nobody.hits, nobody.log).toBe(HANDSHAKES);
    // The only perf-event uprobe (the dlopen watcher on libc) names the capability it lacks.
    expect(nobody.log).toMatch(/Permission denied \(EACCES\); missing capability CAP_SYS_ADMIN: Linux 6\.16/);
    // Without CAP_SYS_PTRACE the root workload is invisible, and the agent says why once.
    expect(noPtrace.hits).toBe(0);
    expect(noPtrace.log).toMatch(
      /processes cannot be matched to a target \(missing capability CAP_SYS_PTRACE, which the agent needs to read another user's \/proc\/PID\/exe\)/,
    );
    expect(noPtrace.log.match(/missing capability CAP_SYS_PTRACE/g)).toHaveLength(1);
  }, 240_000);

  it(`stella doctor as uid ${NOBODY}: every plugin's trial attach passes with CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; without the last, it names it`, async () => {
    const full = await runStella(['doctor'], {
      wrapper: asNobody(['bpf', 'perfmon', 'sys_ptrace', 'dac_read_search']),
    });
    const trials = full.stdout.split('\n').filter((l) => / trial attach /.test(l));
    expect(trials.length, full.stdout).toBeGreaterThanOrEqual(4);
    expect(
      trials.every((l) => l.startsWith('PASS')),
      full.stdout,
    ).toBe(true);
    expect(full.stdout).toMatch(/PASS {2}trial attach @stella\/probes-crypto .*uprobe_multi link attached/);

    const noDac = await runStella(['doctor'], { wrapper: asNobody(['bpf', 'perfmon', 'sys_ptrace']) });
    expect(noDac.stdout).toMatch(
      /FAIL {2}trial attach @stella\/probes-net .*tracepoint: \/sys\/kernel\/tracing is not readable: missing capability CAP_DAC_READ_SEARCH/,
    );
    expect(noDac.stdout).toMatch(/PASS {2}trial attach @stella\/probes-crypto /);
  }, 120_000);
});

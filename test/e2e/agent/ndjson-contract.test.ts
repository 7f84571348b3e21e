// SPDX-License-Identifier: Apache-2.0
/**
 * The NDJSON contract with real records: the crypto (uprobe), net and file (syscall) plugins
 * observe one python3 process per call, per call with 0.5 sampling, and aggregated in the kernel;
 * what they emit goes through the agent's exporter, and the verifier reads every line of every
 * kind on its fast lane, with the hit counts the plugins emitted.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBpf } from '@stella/bpf';
import { cryptoProbes } from '@stella/probes-crypto';
import { fileProbes } from '@stella/probes-file';
import { netProbes } from '@stella/probes-net';
import type { Observation, ProbeRequest, ProbeTuning, ProbeType } from '@stella/sdk';
import { bpfUnavailableReason, PYTHON, ScriptWorkload, testContext } from '@stella/sdk/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeHash, pathHash } from '../../../core/src/function-map/hash.js';
import { parseFunctionMap } from '../../../core/src/function-map/parse.js';
import { exportThenVerify } from '../../support/ndjson.js';

const SERVICE = 'contract-svc';
const LIBC = { library: 'libc.so.6', path: '/usr/lib/x86_64-linux-gnu/libc.so.6', purl: 'pkg:deb/debian/libc6@2.36-9' };
const LIBCRYPTO = {
  library: 'libcrypto.so.3',
  path: '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
  purl: 'pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64',
};

const SCRIPT = `
import hashlib, os, socket, sys
secrets = sys.argv[1]
print('ready', flush=True)
sys.stdin.readline()
for _ in range(50): hashlib.sha256(b'x' * 100).digest()
u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u1.bind(('127.0.0.1', 0)); addr = u1.getsockname()
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(20): u2.sendto(b'x', addr); u1.recvfrom(16)
for _ in range(5):
    fd = os.open(os.path.join(secrets, 'key.pem'), os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, b'abc'); os.close(fd)
print('done', flush=True)
sys.stdin.readline()
`;

function request(category: string, symbol: string, lib: typeof LIBC, probeTypes: ProbeType[]): ProbeRequest {
  return {
    service: SERVICE,
    functionId: `${category}/${symbol}`,
    category,
    symbol,
    library: lib.library,
    binaryPath: lib.path,
    purl: lib.purl,
    nodeHash: nodeHash(lib.purl, symbol),
    probeTypes,
  };
}

const crypto = [request('crypto', 'EVP_DigestUpdate', LIBCRYPTO, ['uprobe'])];
const net = ['sendto', 'recvfrom'].map((s) => request('net', s, LIBC, ['kprobe', 'tracepoint']));
const file = ['openat', 'write'].map((s) => request('file', s, LIBC, ['kprobe', 'tracepoint']));

/** A map whose one path expects every requested call: each record is an expected call's. */
function contractMap() {
  const subject = `pkg:generic/${SERVICE}@1.0.0`;
  const entry = { symbol: 'main', purl: subject, nodeHash: nodeHash(subject, 'main') };
  const calls = [...crypto, ...net, ...file].map((r) => ({
    function: r.functionId,
    symbol: r.symbol,
    library: r.library,
    purl: r.purl,
    binaryPath: r.binaryPath,
    probeTypes: r.probeTypes,
    nodeHash: r.nodeHash,
    optional: false,
  }));
  return parseFunctionMap(
    {
      _type: 'https://stella.ops/predicates/function-map/v1',
      subject: { purl: subject, digest: { sha256: '3'.repeat(64) } },
      predicate: {
        schemaVersion: '1.0.0',
        service: SERVICE,
        coverage: { minObservationRate: 0.95, windowSeconds: 600, failOnUnexpected: false },
        expectedPaths: [
          {
            pathId: 'contract',
            tags: ['crypto'],
            priority: 'crypto',
            optional: false,
            entrypoint: entry,
            expectedCalls: calls,
            pathHash: pathHash([entry.nodeHash, ...calls.map((c) => c.nodeHash)]),
          },
        ],
      },
    },
    'test',
  );
}

const skip = bpfUnavailableReason();
const root = mkdtempSync(join(tmpdir(), 'stella-contract-'));
const workloads: ScriptWorkload[] = [];
afterAll(() => {
  for (const w of workloads) if (w.child.exitCode === null) w.child.kill();
  rmSync(root, { recursive: true, force: true });
});

/** Runs the workload once with all three plugins attached under `tuning`; returns what they emitted. */
async function record(bpf: ReturnType<typeof createBpf>, tuning: Partial<ProbeTuning>): Promise<Observation[]> {
  const secrets = join(root, `secrets-${workloads.length}`);
  mkdirSync(secrets);
  const workload = new ScriptWorkload(SCRIPT, [secrets]);
  workloads.push(workload);
  await workload.ready();
  const t = testContext(bpf, SERVICE, [workload.pid], { ...tuning, sensitivePaths: [`${secrets}/`] });
  // The uprobe session finds libcrypto through the target processes the agent's resolver lists.
  const pid = workload.pid;
  t.ctx.targets = () => [
    { pid, service: SERVICE, exe: realpathSync(PYTHON), comm: 'python3', root: `/proc/${pid}/root` },
  ];
  const sessions = [
    await cryptoProbes().start(t.ctx, crypto),
    await netProbes().start(t.ctx, net),
    await fileProbes().start(t.ctx, file),
  ];
  await workload.go();
  for (const s of sessions) await s.stop();
  await workload.exit();
  return t.observations;
}

const hits = (records: Observation[]) => records.reduce((n, o) => n + o.hitCount, 0);

describe.skipIf(skip)('records of every plugin kind take the verifier fast lane', () => {
  const bpf = createBpf();

  for (const [mode, tuning] of [
    ['per call', { samplingRate: 1, aggregationWindowMs: 0 }],
    ['per call, sampled 0.5', { samplingRate: 0.5, aggregationWindowMs: 0 }],
    ['aggregated in the kernel', { samplingRate: 1, aggregationWindowMs: 60_000 }],
  ] as const) {
    it(mode, async () => {
      const records = await record(bpf, tuning);
      for (const category of ['crypto', 'net', 'file']) {
        expect(records.some((o) => o.function.startsWith(`${category}/`))).toBe(true);
      }
      if (tuning.aggregationWindowMs > 0) expect(records.every((o) => o.windowStart !== undefined)).toBe(true);
      if (tuning.samplingRate < 1) expect(records.some((o) => o.sampleRate === 0.5)).toBe(true);
      const { stats, report } = await exportThenVerify(records, contractMap(), mkdtempSync(join(root, 'out-')));
      expect(stats.lines).toBe(records.length);
      expect(stats.fastLane).toBe(records.length);
      expect(report.paths[0]!.hitCount).toBe(hits(records));
    });
  }
});

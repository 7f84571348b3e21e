// SPDX-License-Identifier: Apache-2.0
/**
 * The net probes against real loopback traffic from a python3 child: exact counts per function
 * for the target pid, nothing for a process that is not a target, the kprobe → fentry →
 * tracepoint decision with its reasons, and one probe that cannot attach not stopping the others.
 */
import { createBpf, detectKernelFeatures } from '@stella/bpf';
import type { SyscallSession } from '@stella/sdk';
import {
  bpftraceCounts,
  bpfUnavailableReason,
  countsFor,
  faultyBpf,
  libcRequest,
  ScriptWorkload,
  testContext,
} from '@stella/sdk/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { netProbes } from '../src/index.js';

const NET_SCRIPT = `
import socket, sys
print('ready', flush=True)
sys.stdin.readline()
u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u1.bind(('127.0.0.1', 0)); addr = u1.getsockname()
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3): u2.sendto(b'x', addr)
for _ in range(3): u1.recvfrom(16)
for _ in range(2): u2.sendmsg([b'y'], [], 0, addr)
for _ in range(2): u1.recvmsg(16)
lst = socket.socket(); lst.bind(('127.0.0.1', 0)); lst.listen(4)
cli = socket.socket(); cli.connect(lst.getsockname())
conn, _ = lst.accept()
print('done', flush=True)
sys.stdin.readline()
`;

/** 300 UDP connects, 3000 datagrams sent and received: enough calls that a double count shows. */
const BUSY_SCRIPT = `
import socket, sys
print('ready', flush=True)
sys.stdin.readline()
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(('127.0.0.1', 0)); addr = rx.getsockname()
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(300): tx.connect(addr)
tx2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3000):
    tx2.sendto(b'x', addr)
    rx.recvfrom(16)
print('done', flush=True)
sys.stdin.readline()
`;

/** Python's socket.accept() enters the kernel as accept4; `accept` is carried by both. */
const EXPECTED = {
  'net/connect': 1,
  'net/accept': 1,
  'net/accept4': 1,
  'net/sendto': 3,
  'net/recvfrom': 3,
  'net/sendmsg': 2,
  'net/recvmsg': 2,
};
const SYMBOLS = ['connect', 'accept', 'accept4', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg'];
const SERVICE = 'net-svc';

const skip = bpfUnavailableReason();
/** What this kernel offers decides the mechanism: the first of kprobe → fentry → tracepoint. */
const kernel = skip ? undefined : detectKernelFeatures({ trialLoadFentry: true });
const MECHANISM = kernel?.kprobes ? 'kprobe' : kernel?.fentry ? 'fentry' : 'tracepoint';
/** Each mechanism's decision trail in a status, as the session writes it. */
const DECISIONS = {
  kprobe: /kprobe: attached kp_/,
  fentry: /kprobe: the kernel has no kprobes.*fentry: attached fe_/,
  tracepoint: /kprobe: the kernel has no kprobes.*fentry: trial load .*tracepoint: attached tp_/,
}[MECHANISM];
const workloads: ScriptWorkload[] = [];
afterAll(async () => {
  for (const w of workloads) if (w.child.exitCode === null) w.child.kill();
});

async function startWorkloads(n: number): Promise<ScriptWorkload[]> {
  const started = Array.from({ length: n }, () => new ScriptWorkload(NET_SCRIPT));
  workloads.push(...started);
  await Promise.all(started.map((w) => w.ready()));
  return started;
}

describe.skipIf(skip)('net probes on loopback', () => {
  const bpf = createBpf();
  const requests = SYMBOLS.map((s) => libcRequest(SERVICE, 'net', s));

  it(`detects ${MECHANISM} on this kernel and says why earlier mechanisms were passed over`, async () => {
    const detection = await netProbes().detect({ bpf, logger: testContext(bpf, SERVICE, []).ctx.logger });
    expect(detection.available).toBe(true);
    expect(detection.mechanisms).toEqual({ net: MECHANISM });
    const notes = detection.notes?.join('\n') ?? '';
    if (MECHANISM !== 'kprobe') expect(notes).toMatch(/kprobe: the kernel has no kprobes/);
    if (MECHANISM === 'tracepoint') expect(notes).toMatch(/fentry: trial load of an fentry program failed: .*EPERM/);
  });

  it('counts every call of the target pid exactly, and nothing of a process that is not a target', async () => {
    const [target, bystander] = await startWorkloads(2);
    const t = testContext(bpf, SERVICE, [target!.pid]);
    const session = (await netProbes().start(t.ctx, requests)) as SyscallSession;
    await Promise.all([target!.go(), bystander!.go()]);
    await session.stop();
    await Promise.all([target!.exit(), bystander!.exit()]);

    expect(countsFor(t.observations, target!.pid)).toEqual(EXPECTED);
    expect(t.observations.filter((o) => o.pid === bystander!.pid)).toEqual([]);
    expect(t.observations.every((o) => o.pid === target!.pid)).toBe(true);

    const sample = t.observations.find((o) => o.function === 'net/connect')!;
    expect(sample).toMatchObject({
      service: SERVICE,
      symbol: 'connect',
      probeType: MECHANISM,
      binaryPath: '/usr/lib/x86_64-linux-gnu/libc.so.6',
      purl: 'pkg:deb/debian/libc6@2.36-9',
      nodeHash: 'sha256:test-net-connect',
      comm: 'python3.11',
      nodeName: 'test-node',
      hitCount: 1,
    });
    expect(sample.tid).toBe(target!.pid);
    expect(Number(sample.cgroupId)).toBeGreaterThan(0);

    // The mechanism, and why: in the statuses, the session, and one log line.
    expect(t.statuses).toHaveLength(SYMBOLS.length);
    for (const status of t.statuses) {
      expect(status).toMatchObject({ state: 'attached', probeType: MECHANISM, plugin: '@stella/probes-net' });
      expect(status.detail).toMatch(DECISIONS);
    }
    expect(session.attachments.get('connect')?.mechanism).toBe(MECHANISM);
    const line = new RegExp(`info net probes: connect, accept, accept4, .* via ${MECHANISM}`);
    expect(t.logs.some((l) => line.test(l))).toBe(true);
  });

  it('falls back kprobe → tracepoint at attach time, and one probe that cannot attach does not stop the others', async () => {
    const [target] = await startWorkloads(1);
    // Claim kprobes exist: the kprobe programs load, their attach fails (ENOENT) as on any kernel
    // without CONFIG_KPROBES, and the chain moves on; fentry's attach is made to fail as well where
    // the kernel has it, so tracepoints are reached on every kernel. sendmsg's tracepoint fails too.
    const faulty = faultyBpf(bpf, {
      kprobes: true,
      failAttach: (program) => /^(kp|fe)_/.test(program) || program === 'tp_sendmsg',
    });
    const t = testContext(faulty, SERVICE, [target!.pid], { defaultTypes: ['uprobe', 'kprobe'] });
    const session = (await netProbes().start(t.ctx, requests)) as SyscallSession;
    await target!.go();
    await session.stop();
    await target!.exit();

    const connect = t.statuses.find((s) => s.functionId === 'net/connect')!;
    expect(connect.state).toBe('attached');
    expect(connect.probeType).toBe('tracepoint');
    expect(connect.detail).toMatch(
      /kprobe: failed to attach program kp_connect\b.*ENOENT.*tracepoint: attached tp_connect/,
    );
    const sendmsg = t.statuses.find((s) => s.functionId === 'net/sendmsg')!;
    expect(sendmsg).toMatchObject({ state: 'failed', reason: 'kernel-feature-missing' });
    expect(sendmsg.detail).toMatch(/kp_sendmsg.*ENOENT.*tp_sendmsg.*ENOENT/);
    expect(t.statuses.filter((s) => s.state === 'failed')).toHaveLength(1);
    expect(session.attachments.get('sendmsg')?.mechanism).toBeUndefined();

    const { 'net/sendmsg': _missing, ...others } = EXPECTED;
    expect(countsFor(t.observations, target!.pid)).toEqual(others);
  });

  it('keeps exact counts in BPF maps while per-call events are sampled at 1 %', async () => {
    const [target] = await startWorkloads(1);
    const t = testContext(bpf, SERVICE, [target!.pid], { aggregationWindowMs: 200, samplingRate: 0.01 });
    const session = await netProbes().start(t.ctx, requests);
    await target!.go();
    await session.stop();
    await target!.exit();
    const aggregated = t.observations.filter((o) => o.windowStart !== undefined);
    expect(countsFor(aggregated, target!.pid)).toEqual(EXPECTED);
    expect(aggregated.every((o) => o.probeType === MECHANISM && o.windowEnd !== undefined)).toBe(true);
  });

  it('counts exactly with aggregation and sampling both on: no sampled event on top of the counts', async () => {
    const busy = new ScriptWorkload(BUSY_SCRIPT);
    workloads.push(busy);
    await busy.ready();
    const syscalls = ['connect', 'sendto', 'recvfrom'];
    const reference = await bpftraceCounts(
      Object.fromEntries(syscalls.map((s) => [s, `tracepoint:syscalls:sys_enter_${s}`])),
      busy.pid,
    );
    const t = testContext(bpf, SERVICE, [busy.pid], { aggregationWindowMs: 1000, samplingRate: 0.5 });
    const session = await netProbes().start(
      t.ctx,
      syscalls.map((s) => libcRequest(SERVICE, 'net', s)),
    );
    await busy.go();
    await session.stop();
    const expected = await reference.stop();
    await busy.exit();
    expect(expected).toEqual({ connect: 300, sendto: 3000, recvfrom: 3000 });
    expect(countsFor(t.observations, busy.pid)).toEqual({
      'net/connect': expected.connect,
      'net/sendto': expected.sendto,
      'net/recvfrom': expected.recvfrom,
    });
    expect(t.observations.every((o) => o.windowStart !== undefined && o.sampleRate === undefined)).toBe(true);
  });

  it('reports a symbol no syscall carries, without stopping the rest', async () => {
    const t = testContext(bpf, SERVICE, [process.pid]);
    const session = await netProbes().start(t.ctx, [
      libcRequest(SERVICE, 'net', 'getaddrinfo'),
      libcRequest(SERVICE, 'net', 'connect'),
    ]);
    await session.stop();
    expect(t.statuses.find((s) => s.functionId === 'net/getaddrinfo')).toMatchObject({
      state: 'failed',
      reason: 'symbol-missing',
    });
    expect(t.statuses.find((s) => s.functionId === 'net/connect')?.state).toBe('attached');
  });
});

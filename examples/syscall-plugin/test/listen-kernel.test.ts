// SPDX-License-Identifier: Apache-2.0
/**
 * The syscall example against real sockets from a python3 child: exact counts per function for
 * the target pid against bpftrace on the same syscalls and pid, per-call and aggregated with
 * sampling; the object's ABI and its syscall ids checked through its BTF.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createBpf } from '@stella/bpf';
import { checkObjectAbi } from '@stella/sdk/abi-check';
import {
  bpftraceCounts,
  bpfUnavailableReason,
  countsFor,
  libcRequest,
  ScriptWorkload,
  testContext,
} from '@stella/sdk/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { LISTEN_SYSCALLS, listenProbes } from '../src/index.js';

const OBJECT = fileURLToPath(new URL('../bpf/listen_syscalls.bpf.o', import.meta.url));
const SERVICE = 'listen-svc';

/** 50 listening sockets: each one bind and one listen. */
const SCRIPT = `
import socket, sys
print('ready', flush=True)
sys.stdin.readline()
for _ in range(50):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1); s.close()
print('done', flush=True)
sys.stdin.readline()
`;

const skip = bpfUnavailableReason();
const workloads: ScriptWorkload[] = [];
afterAll(async () => {
  for (const w of workloads) if (w.child.exitCode === null) w.child.kill();
});

describe.skipIf(skip)('the syscall example plugin', () => {
  const bpf = createBpf();

  it('speaks the SDK ABI, and its syscall ids match enum listen_syscall in the BTF', () => {
    expect(checkObjectAbi(OBJECT).problems).toEqual([]);
    const btf = execFileSync('bpftool', ['btf', 'dump', 'file', OBJECT], { encoding: 'utf8' });
    const fromBtf = Object.fromEntries(
      [...btf.slice(btf.indexOf("ENUM 'listen_syscall'")).matchAll(/^\s+'LISTEN_(\w+)' val=(\d+)/gm)].map((m) => [
        m[1]!.toLowerCase(),
        Number(m[2]),
      ]),
    );
    expect(Object.fromEntries(LISTEN_SYSCALLS.map((p) => [p.syscall, p.id]))).toEqual(fromBtf);
  });

  for (const tuning of [{}, { aggregationWindowMs: 1000, samplingRate: 0.5 }]) {
    it(`counts bind and listen like bpftrace (${JSON.stringify(tuning)})`, async () => {
      const w = new ScriptWorkload(SCRIPT);
      workloads.push(w);
      await w.ready();
      const reference = await bpftraceCounts(
        { bind: 'tracepoint:syscalls:sys_enter_bind', listen: 'tracepoint:syscalls:sys_enter_listen' },
        w.pid,
      );
      const t = testContext(bpf, SERVICE, [w.pid], tuning);
      const plugin = listenProbes();
      expect((await plugin.detect({ bpf, logger: t.ctx.logger })).available).toBe(true);
      const session = await plugin.start(t.ctx, [
        libcRequest(SERVICE, 'listen', 'bind'),
        libcRequest(SERVICE, 'listen', 'listen'),
      ]);
      await w.go();
      await session.stop();
      const expected = await reference.stop();
      await w.exit();
      expect(expected).toEqual({ bind: 50, listen: 50 });
      expect(countsFor(t.observations, w.pid)).toEqual({ 'listen/bind': 50, 'listen/listen': 50 });
      expect(t.statuses.map((s) => s.state)).toEqual(['attached', 'attached']);
    });
  }
});

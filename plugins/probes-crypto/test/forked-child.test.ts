// SPDX-License-Identifier: Apache-2.0
/**
 * What a per-process link means for a child the process forks (a pre-forking server): the child
 * inherits its parent's breakpoints, but a pid-scoped link runs its program for the parent only,
 * so the child's calls trap uncounted until the child gets a link of its own, and from then on
 * count exactly. The attached status of a per-process link says so. bpftrace counts the child's
 * calls by its parent's pid.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createBpf } from '@stella/bpf';
import { bpfUnavailableReason, countsFor, ScriptWorkload, startBpftrace, testContext } from '@stella/sdk/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { cryptoProbes } from '../src/index.js';
import { LIBCRYPTO, libcryptoRequest } from './algorithm-support.js';

const SERVICE = 'prefork-svc';

/** On `go`: forks a child that hashes 1,000 times at once, waits for the parent, hashes 1,000 more. */
const PREFORK = `
import hashlib, os, sys
h = hashlib.sha256()
print('ready', flush=True)
sys.stdin.readline()
r, w = os.pipe()
child = os.fork()
if child == 0:
    for _ in range(1000): h.update(b'y')
    os.read(r, 1)
    for _ in range(1000): h.update(b'z')
    os._exit(0)
print(child, flush=True)
sys.stdin.readline()
os.write(w, b'g')
os.waitpid(child, 0)
print('done', flush=True)
sys.stdin.readline()
`;

const request = libcryptoRequest(SERVICE, 'EVP_DigestUpdate');

const workloads: ScriptWorkload[] = [];
afterAll(() => {
  for (const w of workloads) if (w.child.exitCode === null) w.child.kill();
});

/** bpftrace count of the calls made by children of `parent`. */
async function childCalls(parent: number): Promise<{ stop(): Promise<number> }> {
  const tracer = await startBpftrace(
    `uprobe:${LIBCRYPTO}:EVP_DigestUpdate /curtask->real_parent->tgid == ${parent}/ { @child = count(); }`,
  );
  return {
    async stop() {
      const output = await tracer.stop();
      return Number(/@child: (\d+)/.exec(output)?.[1] ?? 0);
    },
  };
}

describe.skipIf(bpfUnavailableReason())('a child forked from a process with per-process links', () => {
  it('traps uncounted until it has a link of its own, then counts exactly', async () => {
    const parent = new ScriptWorkload(PREFORK);
    workloads.push(parent);
    await parent.ready();
    const reference = await childCalls(parent.pid);
    const pids = [parent.pid];
    const t = testContext(createBpf(), SERVICE, pids, { countMode: 'count' });
    const session = await cryptoProbes({ rescanIntervalMs: 200 }).start(t.ctx, [request]);
    parent.child.stdin.write('go\n');
    const child = Number(await parent.nextLine());
    await sleep(300); // the child's first 1,000 calls, under its parent's breakpoints only
    pids.push(child); // the tracker's view: the forked child is a target of its own
    const own = (s: { pid?: number; state: string }) => s.pid === child && s.state === 'attached';
    for (let i = 0; i < 300 && !t.statuses.some(own); i++) await sleep(10);
    expect(t.statuses.some(own)).toBe(true);
    parent.child.stdin.write('go\n');
    expect(await parent.nextLine()).toBe('done');
    await session.stop();
    const calls = await reference.stop();

    expect(calls).toBe(2000);
    expect(countsFor(t.observations, child)['crypto/EVP_DigestUpdate']).toBe(1000);
    const status = t.statuses.find((s) => s.pid === parent.pid && s.state === 'attached');
    expect(status?.detail).toMatch(/forks? .*counted once it has a link of its own/);
  });
});

// SPDX-License-Identifier: Apache-2.0
/**
 * Presence mode on the kernel: a hot function called 100,000 times in a window traps a handful of
 * times (bpftrace on the same pid counts every call), records say `countMode: presence`, the probe
 * traps again after the window rolls over, a function first called in the second window is seen,
 * and disarming one process leaves another process's probe armed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createBpf } from '@stella/bpf';
import { bpftraceCounts, bpfUnavailableReason, countsFor, ScriptWorkload, testContext } from '@stella/sdk/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { cryptoProbes } from '../src/index.js';
import { LIBCRYPTO, libcryptoRequest } from './algorithm-support.js';

const SERVICE = 'hashing-svc';
const CALLS = 100_000;

/**
 * `update N`: N EVP_DigestUpdate calls; `final`: one digest (EVP_DigestFinal_ex); `fork`: a child
 * that calls EVP_DigestUpdate 1,000 times 1.5 s later (its pid is printed first). Answers `done`.
 */
const HASHER = `
import hashlib, os, sys, time
h = hashlib.sha256()
print('ready', flush=True)
for line in sys.stdin:
    cmd, _, n = line.strip().partition(' ')
    if cmd == 'bye':
        break
    if cmd == 'update':
        for _ in range(int(n)): h.update(b'x')
    elif cmd == 'final':
        h.hexdigest()
    elif cmd == 'fork':
        child = os.fork()
        if child == 0:
            time.sleep(1.5)
            for _ in range(1000): h.update(b'y')
            os._exit(0)
        print(child, flush=True)
    print('done', flush=True)
`;

const request = (symbol: string) => libcryptoRequest(SERVICE, symbol);

const workloads: ScriptWorkload[] = [];
afterAll(() => {
  for (const w of workloads) if (w.child.exitCode === null) w.child.kill();
});

async function hasher(): Promise<ScriptWorkload> {
  const w = new ScriptWorkload(HASHER);
  workloads.push(w);
  await w.ready();
  return w;
}

async function send(w: ScriptWorkload, command: string): Promise<void> {
  w.child.stdin.write(`${command}\n`);
  const line = await w.nextLine();
  if (line !== 'done') throw new Error(`hasher said ${line}`);
}

/** Waits until the session's links are made (they are made on worker threads). */
async function armed(statuses: { state: string }[], count: number): Promise<void> {
  for (let i = 0; i < 200 && statuses.filter((s) => s.state === 'attached').length < count; i++) await sleep(10);
}

describe.skipIf(bpfUnavailableReason())('presence mode', () => {
  it('a hot function called 100,000 times in a window runs the program a handful of times', async () => {
    const a = await hasher();
    const reference = await bpftraceCounts({ update: `uprobe:${LIBCRYPTO}:EVP_DigestUpdate` }, a.pid);
    // Aggregating, stella_agg counts every run of the program: the agent's own trap counter.
    const t = testContext(createBpf(), SERVICE, [a.pid], { aggregationWindowMs: 60_000, presenceWindowMs: 60_000 });
    const session = await cryptoProbes().start(t.ctx, [request('EVP_DigestUpdate')]); // hot: presence by default
    await armed(t.statuses, 1);
    await send(a, `update ${CALLS}`);
    await session.stop();
    const expected = await reference.stop();

    expect(expected.update).toBeGreaterThanOrEqual(CALLS);
    const runs = countsFor(t.observations, a.pid)['crypto/EVP_DigestUpdate'] ?? 0;
    process.stdout.write(`presence: ${runs} program runs for ${expected.update} calls (bpftrace)\n`);
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThan(CALLS / 100);
    expect(t.observations.every((o) => o.countMode === 'presence')).toBe(true);
  });

  it('re-arms at the roll-over, sees a function first called in the second window, and leaves other processes armed', async () => {
    const [a, b] = [await hasher(), await hasher()];
    const t = testContext(createBpf(), SERVICE, [a.pid, b.pid], { countMode: 'presence', presenceWindowMs: 1000 });
    const session = await cryptoProbes().start(t.ctx, [request('EVP_DigestUpdate'), request('EVP_DigestFinal_ex')]);
    await armed(t.statuses, 4);
    await send(a, `update ${CALLS}`);
    await sleep(50); // A's first hit disarms A's probe only
    await send(b, `update ${CALLS}`);
    await sleep(1200); // the window rolls over
    await send(a, 'update 1000');
    await send(a, 'final');
    await sleep(50);
    await session.stop();

    const updatesOfA = t.observations.filter((o) => o.pid === a.pid && o.symbol === 'EVP_DigestUpdate');
    expect(updatesOfA.length).toBeGreaterThanOrEqual(2); // once per window
    expect(updatesOfA.length).toBeLessThan(10);
    const firstOfA = Date.parse(updatesOfA[0]!.observedAt);
    expect(Date.parse(updatesOfA.at(-1)!.observedAt) - firstOfA).toBeGreaterThanOrEqual(1000);
    expect(countsFor(t.observations, b.pid)['crypto/EVP_DigestUpdate']).toBeGreaterThanOrEqual(1);
    expect(countsFor(t.observations, a.pid)['crypto/EVP_DigestFinal_ex']).toBeGreaterThanOrEqual(1);
    expect(t.observations.every((o) => o.countMode === 'presence' && o.hitCount === 1)).toBe(true);
  });

  it('gives a forked child that becomes a target its own link, after the parent was disarmed', async () => {
    const parent = await hasher();
    const pids = [parent.pid];
    const t = testContext(createBpf(), SERVICE, pids, { presenceWindowMs: 60_000 });
    const session = await cryptoProbes({ rescanIntervalMs: 200 }).start(t.ctx, [request('EVP_DigestUpdate')]);
    await armed(t.statuses, 1);
    await send(parent, `update ${CALLS}`); // seen: the parent's link is released
    await sleep(50);
    parent.child.stdin.write('fork\n');
    const child = Number(await parent.nextLine());
    expect(await parent.nextLine()).toBe('done');
    pids.push(child); // the tracker's view: the child is a target of its own
    await armed(t.statuses, 2);
    await sleep(1800); // the child calls 1.5 s after the fork
    await session.stop();

    expect(countsFor(t.observations, parent.pid)['crypto/EVP_DigestUpdate']).toBe(1);
    expect(countsFor(t.observations, child)['crypto/EVP_DigestUpdate']).toBe(1);
  });
});

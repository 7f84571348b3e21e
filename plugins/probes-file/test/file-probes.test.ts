// SPDX-License-Identifier: Apache-2.0
/**
 * The file probes against a python3 child: opens, reads and writes of a file under a sensitive
 * prefix counted exactly, the same calls on a file outside the prefixes (in a sibling directory
 * whose name merely starts like the prefix, reusing the closed descriptor's number) not reported;
 * with aggregation and sampling both on, counts equal bpftrace's on the same syscalls and pid.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBpf, detectKernelFeatures } from '@stella/bpf';
import {
  bpftraceCounts,
  bpfUnavailableReason,
  countsFor,
  libcRequest,
  ScriptWorkload,
  testContext,
} from '@stella/sdk/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { fileProbes } from '../src/index.js';

const FILE_SCRIPT = `
import os, sys
sensitive, other = sys.argv[1], sys.argv[2]
print('ready', flush=True)
sys.stdin.readline()
fd = os.open(os.path.join(sensitive, 'key.pem'), os.O_RDWR | os.O_CREAT, 0o600)
for _ in range(4): os.write(fd, b'abc')
os.lseek(fd, 0, 0)
for _ in range(3): os.read(fd, 3)
os.close(fd)
fd2 = os.open(os.path.join(other, 'notes.txt'), os.O_RDWR | os.O_CREAT, 0o600)
for _ in range(5): os.write(fd2, b'x')
os.lseek(fd2, 0, 0)
for _ in range(5): os.read(fd2, 1)
os.close(fd2)
print('reused fd' if fd2 == fd else 'new fd', flush=True)
print('done', flush=True)
sys.stdin.readline()
`;

/**
 * 300 opens, 3000 writes and 3000 reads, all on one file under the prefix: enough calls that a
 * double count shows. Then the process stops itself (kill(2), not read/write/openat), so every
 * read, write and openat bpftrace sees from this pid while armed is one the plugin must count;
 * the read that waits for `go` was entered before bpftrace armed.
 */
const BUSY_SCRIPT = `
import os, signal, sys
path = os.path.join(sys.argv[1], 'key.pem')
print('ready', flush=True)
sys.stdin.readline()
for _ in range(300):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    for _ in range(10): os.write(fd, b'abc')
    os.lseek(fd, 0, 0)
    for _ in range(10): os.read(fd, 3)
    os.close(fd)
os.kill(os.getpid(), signal.SIGSTOP)
sys.stdin.readline()
`;

/** Resolves once `pid` is stopped by a signal (state `T` in /proc/PID/stat). */
async function stopped(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'T') {
    if (Date.now() > deadline) throw new Error(`pid ${pid} did not stop`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const SERVICE = 'file-svc';
const skip = bpfUnavailableReason();
/** What this kernel offers decides the mechanism: the first of kprobe → fentry → tracepoint. */
const kernel = skip ? undefined : detectKernelFeatures({ trialLoadFentry: true });
const MECHANISM = kernel?.kprobes ? 'kprobe' : kernel?.fentry ? 'fentry' : 'tracepoint';
const root = mkdtempSync(join(tmpdir(), 'stella-file-'));
const sensitive = join(root, 'secrets');
const other = join(root, 'secrets-other');
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(skip)('file probes on sensitive prefixes', () => {
  const bpf = createBpf();
  const requests = ['open', 'openat', 'read', 'write'].map((s) => libcRequest(SERVICE, 'file', s));

  it('counts open/read/write under the prefix exactly and nothing outside it or from other processes', async () => {
    rmSync(sensitive, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
    mkdirSync(sensitive);
    mkdirSync(other);
    const target = new ScriptWorkload(FILE_SCRIPT, [sensitive, other]);
    const bystander = new ScriptWorkload(FILE_SCRIPT, [sensitive, other]);
    try {
      await Promise.all([target.ready(), bystander.ready()]);
      // The prefix comes from the agent's probes.sensitive_paths (tuning), with a trailing slash.
      const t = testContext(bpf, SERVICE, [target.pid], { sensitivePaths: [`${sensitive}/`, '/etc/shadow'] });
      const session = await fileProbes().start(t.ctx, requests);
      for (const w of [target, bystander]) {
        w.child.stdin.write('go\n');
        expect(await w.nextLine()).toBe('reused fd'); // the outside file got the closed descriptor's number
        expect(await w.nextLine()).toBe('done');
      }
      await session.stop();

      // glibc's open() enters the kernel as openat: one openat carries both declared functions.
      expect(countsFor(t.observations, target.pid)).toEqual({
        'file/open': 1,
        'file/openat': 1,
        'file/write': 4,
        'file/read': 3,
      });
      expect(t.observations.filter((o) => o.pid !== target.pid)).toEqual([]);
      expect(t.observations.every((o) => o.probeType === MECHANISM && o.service === SERVICE)).toBe(true);
      for (const status of t.statuses) expect(status).toMatchObject({ state: 'attached', probeType: MECHANISM });
      expect(
        t.logs.some((l) => l.includes('sensitive path prefixes compared in the kernel') && l.includes(sensitive)),
      ).toBe(true);
      const line = new RegExp(`info file probes: .*openat.* via ${MECHANISM}`);
      expect(t.logs.some((l) => line.test(l))).toBe(true);
    } finally {
      await Promise.all([target.exit(), bystander.exit()]);
    }
  });

  it('ignores prefixes the kernel cannot compare, with a warning, and keeps the rest', async () => {
    const t = testContext(bpf, SERVICE, [process.pid]);
    const plugin = fileProbes({ sensitivePaths: ['relative/path', `/${'x'.repeat(200)}`, `${sensitive}/`] });
    const session = await plugin.start(t.ctx, [libcRequest(SERVICE, 'file', 'openat')]);
    await session.stop();
    expect(t.logs.filter((l) => l.startsWith('warn sensitive path ignored'))).toHaveLength(2);
    expect(t.statuses).toEqual([expect.objectContaining({ state: 'attached', functionId: 'file/openat' })]);
  });

  it('counts exactly with aggregation and sampling both on: no sampled event on top of the counts', async () => {
    rmSync(sensitive, { recursive: true, force: true });
    mkdirSync(sensitive);
    const busy = new ScriptWorkload(BUSY_SCRIPT, [sensitive]);
    try {
      await busy.ready();
      const syscalls = ['openat', 'read', 'write'];
      const reference = await bpftraceCounts(
        Object.fromEntries(syscalls.map((s) => [s, `tracepoint:syscalls:sys_enter_${s}`])),
        busy.pid,
      );
      const t = testContext(bpf, SERVICE, [busy.pid], {
        aggregationWindowMs: 1000,
        samplingRate: 0.5,
        sensitivePaths: [`${sensitive}/`],
      });
      const session = await fileProbes().start(
        t.ctx,
        syscalls.map((s) => libcRequest(SERVICE, 'file', s)),
      );
      busy.child.stdin.write('go\n');
      await stopped(busy.pid);
      await session.stop();
      const expected = await reference.stop();
      busy.child.kill('SIGCONT');
      expect(expected).toEqual({ openat: 300, read: 3000, write: 3000 });
      expect(countsFor(t.observations, busy.pid)).toEqual({
        'file/openat': expected.openat,
        'file/read': expected.read,
        'file/write': expected.write,
      });
      expect(t.observations.every((o) => o.windowStart !== undefined && o.sampleRate === undefined)).toBe(true);
    } finally {
      if (busy.child.exitCode === null) busy.child.kill('SIGCONT');
      await busy.exit();
    }
  });
});

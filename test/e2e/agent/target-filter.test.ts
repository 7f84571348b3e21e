// SPDX-License-Identifier: Apache-2.0
/**
 * One target filter per node: with all four probe plugins running, the kernel carries exactly one
 * exec/fork/exit tracker (the agent's), and a process claimed by it at exec is a target for every
 * plugin at once, with counts equal to bpftrace's on the same process.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { bpftraceCount, canBpf, drive, hits, LIBDIR, startAgent, stopDriven, tempDir } from '../probes/support.js';

const LIBC_PURL = 'pkg:deb/debian/libc6@2.36-9?arch=amd64';
const CRYPTO_PURL = 'pkg:deb/debian/libssl3@3.0.11?arch=amd64';
const PAM_PURL = 'pkg:deb/debian/libpam0g@1.5.2-6?arch=amd64';
const DIGESTS = 300;
const CONNECTS = 25;

/**
 * Programs this process has attached, by name, with how many links each: the prog_id of every
 * bpf_link fd in /proc/self/fdinfo, named by bpftool (the kernel keeps names to 15 characters).
 */
function attachedPrograms(): Map<string, number> {
  const names = new Map<number, string>();
  const programs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' })) as {
    id: number;
    name?: string;
  }[];
  for (const p of programs) names.set(p.id, p.name ?? '');
  const counts = new Map<string, number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let info: string;
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:bpf_link') continue;
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile (readdir's own fd, a link released on a worker)
    }
    const id = Number(/^prog_id:\s*(\d+)/m.exec(info)?.[1]);
    const name = names.get(id) ?? `prog ${id}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

describe.skipIf(!canBpf)('one target filter per node', () => {
  afterAll(stopDriven);

  it('four plugins, one exec tracker; a process claimed at exec is seen by the crypto and net plugins at once', async () => {
    const dir = await tempDir('stella-target-');
    // A copy of the interpreter: its own inode for the executable rule, its own comm for bpftrace.
    const comm = `stltgt${process.pid % 100000}`;
    const exe = join(dir, comm);
    await copyFile('/usr/bin/python3.11', exe);
    const libc = `${LIBDIR}/libc.so.6`;
    const agent = await startAgent({
      service: 'claimed',
      calls: [
        {
          function: 'crypto/EVP_DigestUpdate',
          library: 'libcrypto.so.3',
          binaryPath: `${LIBDIR}/libcrypto.so.3`,
          purl: CRYPTO_PURL,
        },
        { function: 'net/connect', library: 'libc.so.6', binaryPath: libc, purl: LIBC_PURL },
        { function: 'file/openat', library: 'libc.so.6', binaryPath: libc, purl: LIBC_PURL, optional: true },
        {
          function: 'auth/pam_start',
          library: 'libpam.so.0',
          binaryPath: `${LIBDIR}/libpam.so.0`,
          purl: PAM_PURL,
          optional: true,
        },
      ],
      targets: [`{service: claimed, executables: [${JSON.stringify(exe)}]}`],
      // Counted, not presence: EVP_DigestUpdate is hot in the catalogue, and this test compares counts.
      probes: '{max_concurrent: 256, attach_timeout_ms: 5000, sampling_rate: 1.0, mode: count}',
    });
    let stopped = false;
    try {
      const held = attachedPrograms();
      expect(held.get('stella_track_exec')).toBe(1);
      expect(held.get('stella_track_fork')).toBe(1);
      expect(held.get('stella_track_exit')).toBe(1);
      for (const functionId of ['crypto/EVP_DigestUpdate', 'net/connect', 'file/openat', 'auth/pam_start'])
        expect(agent.status(functionId)?.plugin, functionId).toBeDefined();
      expect(new Set(agent.statuses().map((s) => s.plugin)).size).toBe(4);

      const filter = `comm == "${comm}"`;
      const digests = await bpftraceCount([`uprobe:${LIBDIR}/libcrypto.so.3:EVP_DigestUpdate`], filter);
      const connects = await bpftraceCount(['tracepoint:syscalls:sys_enter_connect'], filter);
      const script = [
        'import hashlib, socket',
        'h = hashlib.sha256()',
        `for _ in range(${DIGESTS}): h.update(b"x")`,
        `for _ in range(${CONNECTS}):`,
        '    s = socket.socket(); s.connect_ex(("127.0.0.1", 9)); s.close()',
        'print("done", flush=True)',
      ].join('\n');
      // Started after the agent: only the in-kernel tracker can claim it, at exec.
      const child = drive(exe, ['-c', script]);
      await child.line('done');
      await child.exited;
      const [expectedDigests, expectedConnects] = [await digests.stop(), await connects.stop()];
      await sleep(400);
      stopped = true;
      const observations = await agent.stop();
      expect(expectedDigests).toBeGreaterThanOrEqual(DIGESTS);
      expect(expectedConnects).toBe(CONNECTS);
      expect(hits(observations, 'crypto/EVP_DigestUpdate', child.pid)).toBe(expectedDigests);
      expect(hits(observations, 'net/connect', child.pid)).toBe(expectedConnects);
      expect(attachedPrograms().get('stella_track_exec')).toBeUndefined();
    } finally {
      if (!stopped) await agent.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

// SPDX-License-Identifier: Apache-2.0
/**
 * The task fields of a per-call record (pid, tid, comm, cgroup id) are read from the task_struct
 * through BTF where the kernel allows it (task.bpf.h), not through the helpers. They must still
 * be what the kernel says about the process: checked against /proc and the cgroup v2 directory's
 * inode (a cgroup's id is its kernfs node id, which cgroupfs shows as the inode number), for a
 * process in a cgroup of its own whose comm the kernel truncated to 15 bytes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, forEachRecord, readEventHeader } from '../src/index.js';
import {
  bpfUnavailableReason,
  callTarget,
  ensureBuilt,
  fixtureObject,
  fixtureSymbol,
  Workload,
  waitFor,
} from './helpers.js';

/** Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or `…/unified` on a hybrid host). */
function cgroupV2Mount(): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [mountFields, fsFields] = line.split(' - ');
    if (fsFields?.startsWith('cgroup2 ')) return mountFields!.split(' ')[4];
  }
  return undefined;
}

const cgroupRoot = cgroupV2Mount();
const skipReason = bpfUnavailableReason() ?? (cgroupRoot ? undefined : 'no cgroup v2 hierarchy is mounted');
if (skipReason) console.warn(`skipping record task-field tests: ${skipReason}`);

describe.skipIf(skipReason)('task fields of a per-call record', () => {
  const cgroupDir = join(cgroupRoot ?? '/nonexistent', `stella-task-fields-${process.pid}`);
  const linkDir = mkdtempSync(join(tmpdir(), 'stella-task-fields-'));
  // 27 bytes: the kernel keeps the first 15 and a NUL, so the record's comm fills all 16 bytes.
  const longName = 'stella_comm_longer_than_16b';

  beforeAll(() => {
    ensureBuilt();
    mkdirSync(cgroupDir);
    symlinkSync(callTarget, join(linkDir, longName));
  });
  afterAll(() => {
    rmdirSync(cgroupDir);
    rmSync(linkDir, { recursive: true, force: true });
  });

  it('carries the pid, tid, comm and cgroup id the kernel reports for the process', async () => {
    const obj = new BpfObject(fixtureObject);
    const w = await Workload.start(join(linkDir, longName));
    try {
      writeFileSync(join(cgroupDir, 'cgroup.procs'), String(w.pid));
      obj.load();
      obj.attachUprobe({
        program: 'stella_uprobe_call',
        binaryPath: callTarget,
        symbol: fixtureSymbol,
        pid: w.pid,
        cookie: 5n,
      });
      const headers: ReturnType<typeof readEventHeader>[] = [];
      const consumer = obj.consumeRingBuffer('stella_events', (batch) => {
        forEachRecord(batch, (buf, off) => headers.push(readEventHeader(buf, off)));
      });
      await w.run('call 3');
      await waitFor(() => headers.length >= 3);
      await consumer.stop();

      const comm = readFileSync(`/proc/${w.pid}/comm`, 'utf8').trimEnd();
      expect(comm).toBe(longName.slice(0, 15));
      const cgroupId = statSync(cgroupDir, { bigint: true }).ino;
      expect(cgroupId).not.toBe(statSync(cgroupRoot!, { bigint: true }).ino);
      expect(headers).toHaveLength(3);
      for (const h of headers) expect(h).toMatchObject({ pid: w.pid, tid: w.pid, comm, cgroupId, cookie: 5n });
    } finally {
      obj.close();
      await w.end();
    }
  });
});

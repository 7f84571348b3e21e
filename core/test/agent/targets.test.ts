// SPDX-License-Identifier: Apache-2.0
import { spawn } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { containerIdFromCgroup, TargetResolver, userDevToKernelDev } from '../../src/agent/targets.js';
import { createLogger } from '../../src/logger.js';

const logger = createLogger({ level: 'silent' });

describe('target resolution', () => {
  it('re-encodes st_dev (glibc makedev) as the kernel s_dev (MKDEV: major << 20 | minor)', () => {
    // major 8, minor 1 (sda1): st_dev 0x801; s_dev 0x800001
    expect(userDevToKernelDev(0x801n)).toBe(0x800001n);
    // major 259, minor 65536 exercises both high-bit groups
    const major = 259n;
    const minor = 65536n;
    const st = ((major & 0xfffn) << 8n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n) | ((major & ~0xfffn) << 32n);
    expect(userDevToKernelDev(st)).toBe((major << 20n) | minor);
  });

  it('reads container ids from docker, containerd and cri-o cgroup paths', () => {
    const id = 'a'.repeat(64);
    expect(containerIdFromCgroup(`/system.slice/docker-${id}.scope`)).toBe(id);
    expect(containerIdFromCgroup(`/kubepods/besteffort/pod1/cri-containerd-${id}.scope`)).toBe(id);
    expect(containerIdFromCgroup(`/docker/${id}`)).toBe(id);
    expect(containerIdFromCgroup('/user.slice/session-1.scope')).toBeUndefined();
  });

  it('finds running processes by executable (through symlinks) and by pid, and nothing else', async () => {
    const sleeper = spawn('sleep', ['30']);
    try {
      const resolver = new TargetResolver(
        [
          { service: 'sleepy', executables: ['/usr/bin/sleep'] },
          { service: 'me', pids: [process.pid] },
        ],
        { logger },
      );
      await new Promise((r) => setTimeout(r, 100));
      expect(resolver.refresh()).toBe(true);
      const found = resolver.targets();
      expect(found.find((t) => t.pid === sleeper.pid)?.service).toBe('sleepy');
      expect(found.find((t) => t.pid === process.pid)?.service).toBe('me');
      expect(found.every((t) => t.service === 'sleepy' || t.service === 'me')).toBe(true);
      const exe = resolver.targetRules().executables[0]!;
      const st = statSync(realpathSync('/usr/bin/sleep'), { bigint: true });
      expect(exe.inode).toBe(st.ino);
      expect(resolver.targetRules().services.indexOf('me')).toBe(1);
    } finally {
      sleeper.kill();
    }
  });
});

// SPDX-License-Identifier: Apache-2.0
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cgroup2Mount, cgroupDirectory, hostCgroup2Mount, parseMountinfo } from '../../src/agent/mountinfo.js';

/** A hybrid v1/v2 host (systemd's hybrid mode, and this project's CI machine): v2 under unified/. */
const HYBRID = [
  '23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:9 - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 master:3 - cgroup2 cgroup2 rw,nsdelegate',
  '',
].join('\n');

/** A unified host, with a second, bind-mounted view of one subtree inside a container's rootfs. */
const UNIFIED = [
  '29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate',
  '612 600 0:26 /system.slice/app.scope /var/lib/c\\0401/sys/fs/cgroup ro,relatime - cgroup2 cgroup2 rw',
].join('\n');

describe('mountinfo', () => {
  it('reads root, mount point (octal escapes undone), type after the separator, and device as s_dev', () => {
    const [sys, tmpfs, , , unified] = parseMountinfo(HYBRID);
    expect(sys).toEqual({ root: '/', mountPoint: '/sys', fsType: 'sysfs', kernelDev: (0n << 20n) | 21n });
    expect(tmpfs?.fsType).toBe('tmpfs');
    // Two optional fields (shared:, master:) before the separator do not shift the type.
    expect(unified).toMatchObject({ mountPoint: '/sys/fs/cgroup/unified', fsType: 'cgroup2', kernelDev: 38n });
    const [, bind] = parseMountinfo(UNIFIED);
    expect(bind).toMatchObject({ root: '/system.slice/app.scope', mountPoint: '/var/lib/c 1/sys/fs/cgroup' });
  });

  it('finds the cgroup2 mount on a hybrid host and prefers the whole hierarchy over a subtree', () => {
    expect(cgroup2Mount(parseMountinfo(HYBRID))?.mountPoint).toBe('/sys/fs/cgroup/unified');
    expect(cgroup2Mount(parseMountinfo(UNIFIED.split('\n').reverse().join('\n')))?.mountPoint).toBe('/sys/fs/cgroup');
    expect(cgroup2Mount(parseMountinfo(HYBRID.replace(/.*cgroup2.*\n/, '')))).toBeUndefined();
  });

  it('places a /proc/<pid>/cgroup path under the mount, relative to the mount root', () => {
    const whole = { root: '/', mountPoint: '/sys/fs/cgroup/unified' };
    expect(cgroupDirectory(whole, '/')).toBe('/sys/fs/cgroup/unified');
    expect(cgroupDirectory(whole, '/system.slice/a.service')).toBe('/sys/fs/cgroup/unified/system.slice/a.service');
    expect(cgroupDirectory(whole, 'system.slice')).toBe('/sys/fs/cgroup/unified/system.slice');
    const subtree = { root: '/system.slice/app.scope', mountPoint: '/mnt/cg' };
    expect(cgroupDirectory(subtree, '/system.slice/app.scope')).toBe('/mnt/cg');
    expect(cgroupDirectory(subtree, '/system.slice/app.scope/worker')).toBe('/mnt/cg/worker');
    // Outside the subtree, and a sibling whose name merely starts the same: not visible there.
    expect(cgroupDirectory(subtree, '/user.slice')).toBeUndefined();
    expect(cgroupDirectory(subtree, '/system.slice/app.scope2')).toBeUndefined();
  });

  it("on this machine: this process's cgroup directory exists under the mount mountinfo names", () => {
    const mount = hostCgroup2Mount();
    const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (own === undefined) return; // a v1-only host has no 0:: line
    const dir = cgroupDirectory(mount, own);
    expect(dir).toBeDefined();
    expect(statSync(`${dir}/cgroup.procs`).isFile()).toBe(true);
    expect(hostCgroup2Mount(() => '').mountPoint).toBe('/sys/fs/cgroup');
  });
});

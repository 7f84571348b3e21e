// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One line of /proc/<pid>/mountinfo (the kernel's Documentation/filesystems/proc.rst, 3.5). */
export interface MountEntry {
  /** The directory of the filesystem that is mounted here ("/" unless a subtree is bind-mounted). */
  root: string;
  mountPoint: string;
  fsType: string;
  /** The superblock's device, `major:minor` packed as the kernel's s_dev (MKDEV). */
  kernelDev: bigint;
}

/** Paths in mountinfo escape space, tab, newline and backslash as octal (fs/proc_namespace.c). */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/**
 * Parses mountinfo text. The optional fields between the mount options and the " - " separator vary
 * in number (shared:N, master:N, ...), so the filesystem type is read after the separator.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    const [major = 0n, minor = 0n] = (fields[2] ?? '0:0').split(':').map((n) => BigInt(n));
    mounts.push({
      root: unescapeOctal(fields[3] ?? '/'),
      mountPoint: unescapeOctal(fields[4] ?? ''),
      fsType: separator > 0 ? (fields[separator + 1] ?? '') : '',
      kernelDev: (major << 20n) | minor,
    });
  }
  return mounts;
}

/**
 * Where the cgroup v2 hierarchy is mounted: `/sys/fs/cgroup` on a unified host, but e.g.
 * `/sys/fs/cgroup/unified` on a hybrid v1/v2 one (systemd's hybrid mode), and anywhere an
 * administrator chose. Of several mounts, one of the whole hierarchy (root "/") is preferred.
 */
export function cgroup2Mount(mounts: MountEntry[]): MountEntry | undefined {
  const cgroup2 = mounts.filter((m) => m.fsType === 'cgroup2');
  return cgroup2.find((m) => m.root === '/') ?? cgroup2[0];
}

/**
 * The directory of a cgroup given as in /proc/<pid>/cgroup's `0::` line (relative to the cgroup
 * namespace root) under the given cgroup2 mount; undefined when the mount does not show it.
 */
export function cgroupDirectory(
  mount: Pick<MountEntry, 'root' | 'mountPoint'>,
  cgroupPath: string,
): string | undefined {
  const path = cgroupPath.startsWith('/') ? cgroupPath : `/${cgroupPath}`;
  let inside: string;
  if (mount.root === '/') inside = path;
  else if (path === mount.root || path.startsWith(`${mount.root}/`)) inside = path.slice(mount.root.length);
  else return undefined;
  const dir = join(mount.mountPoint, inside);
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

/** The cgroup2 mount this process sees, or the conventional place when mountinfo is unreadable. */
export function hostCgroup2Mount(
  readMountinfo: () => string = () => readFileSync('/proc/self/mountinfo', 'utf8'),
): Pick<MountEntry, 'root' | 'mountPoint'> {
  try {
    const found = cgroup2Mount(parseMountinfo(readMountinfo()));
    if (found) return found;
  } catch {
    // No /proc (a test's fake root): fall through to the conventional place.
  }
  return { root: '/', mountPoint: '/sys/fs/cgroup' };
}

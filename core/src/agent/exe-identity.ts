// SPDX-License-Identifier: Apache-2.0
import { readFileSync, statfsSync, statSync } from 'node:fs';
import { type MountEntry, parseMountinfo } from './mountinfo.js';

/** statfs(2) f_type of overlayfs (the kernel's uapi linux/magic.h). */
const OVERLAYFS_SUPER_MAGIC = 0x794c7630;

/**
 * glibc's `st_dev` packs major/minor as makedev(3) does; the kernel's `sb->s_dev` (what a BPF
 * program reads from `file->f_inode->i_sb`) is MKDEV = major << 20 | minor (the kernel's linux/kdev_t.h).
 */
export function userDevToKernelDev(dev: bigint): bigint {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return (major << 20n) | minor;
}

/**
 * (device, inode) of an executable as the exec tracker reads them from `bprm->file->f_inode`.
 *
 * On overlayfs the two disagree with stat(2) whenever the layers are on different filesystems and
 * xino is off (a container image over tmpfs or 9p, or an upper on another disk): exec opens the
 * overlay's own inode, whose i_sb is the overlay superblock, while stat reports the lower layer's
 * pseudo device. The inode number is the real one in both views (overlayfs's
 * ovl_map_ino), so only the device is taken from the overlay mount that holds the path.
 */
export function kernelExecutableIdentity(
  realPath: string,
  readMountinfo: () => string = () => readFileSync('/proc/self/mountinfo', 'utf8'),
): { kernelDev: bigint; inode: bigint } {
  const st = statSync(realPath, { bigint: true });
  if (Number(statfsSync(realPath, { bigint: true }).type) !== OVERLAYFS_SUPER_MAGIC) {
    return { kernelDev: userDevToKernelDev(st.dev), inode: st.ino };
  }
  // The innermost mount over the path: the last listed among the longest matching mount points.
  let best: MountEntry | undefined;
  for (const mount of parseMountinfo(readMountinfo())) {
    const prefix = mount.mountPoint === '/' ? '/' : `${mount.mountPoint}/`;
    if (realPath !== mount.mountPoint && !realPath.startsWith(prefix)) continue;
    if (!best || mount.mountPoint.length >= best.mountPoint.length) best = mount;
  }
  return { kernelDev: best?.kernelDev ?? userDevToKernelDev(st.dev), inode: st.ino };
}

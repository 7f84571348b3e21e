// SPDX-License-Identifier: Apache-2.0
import type { SyscallProbe } from '@stella/sdk';

/** Mirrors `enum stella_file_syscall` (bpf/file_access.h); plugins/probes-net/test/syscall-plan.test.ts checks it. */
export const FILE_SYSCALLS: readonly SyscallProbe[] = [
  { syscall: 'open', id: 1, exit: true },
  { syscall: 'openat', id: 2, exit: true },
  { syscall: 'openat2', id: 3, exit: true },
  { syscall: 'read', id: 4 },
  { syscall: 'write', id: 5 },
  { syscall: 'close', id: 6 },
];

/** Limits of the in-kernel prefix table (bpf/file_access.h). */
export const MAX_PREFIXES = 16;
export const PREFIX_BYTES = 128;

const OPENS = ['open', 'openat', 'openat2'];

/**
 * libc symbol (catalogue) → the syscalls that carry it. glibc's `open()`/`open64()` enter the
 * kernel as `openat(AT_FDCWD, …)` on x86-64 (the `open` syscall remains for static or old
 * binaries), so they accept either; `openat2` has no glibc wrapper and is matched by its own name.
 */
export const FILE_SYMBOL_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  open: ['open', 'openat'],
  open64: ['open', 'openat'],
  openat: ['openat'],
  openat64: ['openat'],
  openat2: ['openat2'],
  read: ['read'],
  write: ['write'],
};

/** read/write are matched by descriptor: the opens record it, close forgets it. */
export const FILE_REQUIRES: Readonly<Record<string, readonly string[]>> = {
  open: ['close'],
  openat: ['close'],
  openat2: ['close'],
  read: OPENS,
  write: OPENS,
};

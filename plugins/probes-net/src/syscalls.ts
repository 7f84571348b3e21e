// SPDX-License-Identifier: Apache-2.0
import type { SyscallProbe } from '@stella/sdk';

/** Mirrors `enum stella_net_syscall` (bpf/net_syscalls.h); test/syscall-plan.test.ts checks the BTF. */
export const NET_SYSCALLS: readonly SyscallProbe[] = [
  { syscall: 'connect', id: 1 },
  { syscall: 'accept', id: 2 },
  { syscall: 'accept4', id: 3 },
  { syscall: 'sendto', id: 4 },
  { syscall: 'recvfrom', id: 5 },
  { syscall: 'sendmsg', id: 6 },
  { syscall: 'recvmsg', id: 7 },
];

/**
 * libc symbol (catalogue) → the syscalls that carry it. Observed at the syscall boundary, one
 * kernel event satisfies the libc call it implements: glibc's and musl's `accept()` may enter the
 * kernel as `accept4` (and Python's `socket.accept()` always does), so `accept` accepts both;
 * `send`/`recv` enter as `sendto`/`recvfrom` on x86-64 and are reported under those names.
 */
export const NET_SYMBOL_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  connect: ['connect'],
  accept: ['accept', 'accept4'],
  accept4: ['accept4'],
  sendto: ['sendto'],
  recvfrom: ['recvfrom'],
  sendmsg: ['sendmsg'],
  recvmsg: ['recvmsg'],
};

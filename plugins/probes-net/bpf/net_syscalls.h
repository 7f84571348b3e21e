// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Syscall ids of the net probes, written into each record's cookie. src/syscalls.ts mirrors them;
 * test/syscall-plan.test.ts ("syscall ids") checks the two against this enum in the object's BTF.
 */
#ifndef __STELLA_NET_SYSCALLS_H
#define __STELLA_NET_SYSCALLS_H

enum stella_net_syscall {
	STELLA_NET_CONNECT = 1,
	STELLA_NET_ACCEPT = 2,
	STELLA_NET_ACCEPT4 = 3,
	STELLA_NET_SENDTO = 4,
	STELLA_NET_RECVFROM = 5,
	STELLA_NET_SENDMSG = 6,
	STELLA_NET_RECVMSG = 7,
};

#endif /* __STELLA_NET_SYSCALLS_H */

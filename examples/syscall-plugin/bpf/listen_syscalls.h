// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The id each program writes into its record's cookie. src/plugin.ts mirrors it; the test compares
 * the two through the object's BTF.
 */
#ifndef __LISTEN_SYSCALLS_H
#define __LISTEN_SYSCALLS_H

enum listen_syscall {
	LISTEN_BIND = 1,
	LISTEN_LISTEN = 2,
};

#endif /* __LISTEN_SYSCALLS_H */

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Shared between file_access.bpf.c and user space: syscall ids written into each record's cookie
 * (src/syscalls.ts mirrors them; a test checks them against this enum in the object's BTF) and the
 * limits of the sensitive-prefix table user space fills before load.
 */
#ifndef __STELLA_FILE_ACCESS_H
#define __STELLA_FILE_ACCESS_H

/* Prefixes compared in the kernel; longer prefixes or more of them are refused by user space. */
#define STELLA_FILE_MAX_PREFIXES 16
#define STELLA_FILE_PREFIX_LEN 128
/* Bytes of the opened path read from user memory (the compare needs at most PREFIX_LEN). */
#define STELLA_FILE_PATH_LEN 256

enum stella_file_syscall {
	STELLA_FILE_OPEN = 1,
	STELLA_FILE_OPENAT = 2,
	STELLA_FILE_OPENAT2 = 3,
	STELLA_FILE_READ = 4,
	STELLA_FILE_WRITE = 5,
	STELLA_FILE_CLOSE = 6,
};

/* Key of stella_file_fds: a descriptor of one process opened on a sensitive path. */
struct stella_file_fd_key {
	__u32 tgid;
	__u32 fd;
};

#endif /* __STELLA_FILE_ACCESS_H */

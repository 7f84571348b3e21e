// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The record layout shared by every Stella probe and user space. Plain __u32/__u64 and fixed
 * arrays only (no vmlinux.h) so that user-space tooling can include it too. Every record a probe
 * writes to the `stella_events` ring buffer starts with struct stella_event_header. The SDK's
 * layout.ts and abi.ts mirror every struct and enum here, and `@stella/sdk/abi-check` compares
 * them with a compiled object's BTF (each plugin's tests run it on its own object).
 */
#ifndef __STELLA_EVENT_H
#define __STELLA_EVENT_H

/* Inside BPF programs vmlinux.h already provides the __u* types. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define STELLA_COMM_LEN 16

/*
 * Record kinds, an enum so that BTF carries the numbers and user space can check them. Plugins
 * define their own kinds at STELLA_EVENT_PLUGIN_BASE and above.
 */
enum stella_event_kind {
	STELLA_EVENT_CALL = 1,             /* struct stella_call_event: a uprobe hit (function entry) */
	STELLA_EVENT_SYSCALL = 2,          /* the header alone: a syscall */
	STELLA_EVENT_FILE = 3,             /* the header alone: a file access */
	STELLA_EVENT_RETURN = 4,           /* struct stella_call_event: a uretprobe hit (function return) */
	STELLA_EVENT_PLUGIN_BASE = 100,
	STELLA_EVENT_LIBRARY_LOADED = 190, /* a target returned from dlopen (library_load.bpf.h) */
};

/*
 * 64 bytes, 8-byte aligned, no implicit padding:
 *   0 ts_ns      bpf_ktime_get_ns(): CLOCK_MONOTONIC nanoseconds
 *   8 cookie     bpf_get_attach_cookie(): the probe id user space passed at attach time
 *  16 cgroup_id  the task's cgroup v2 id, as bpf_get_current_cgroup_id() returns it (task.bpf.h)
 *  24 pid        process id (kernel tgid)
 *  28 tid        thread id (kernel pid)
 *  32 hit_count  1 per call; N when the record stands for N aggregated calls
 *  36 kind       STELLA_EVENT_*
 *  38 size       total record size in bytes, header included
 *  40 comm       the task's comm (task.bpf.h), NUL-terminated unless exactly 16 bytes long
 *  56 service    index of the target service (user space's numbering), STELLA_SERVICE_NONE when
 *                the object runs unfiltered; carried in the record because short-lived
 *                processes (a 5 ms curl) are gone before user space could look their pid up
 *  60 flags      reserved, 0
 * 64 bytes in all.
 */
struct stella_event_header {
	__u64 ts_ns;
	__u64 cookie;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 hit_count;
	__u16 kind;
	__u16 size;
	char comm[STELLA_COMM_LEN];
	__u32 service;
	__u32 flags;
};

/*
 * Numbers user space and the kernel agree on beyond the structs, in an enum for the same reason.
 *   STELLA_SERVICE_NONE        `service` of a record from an object that runs unfiltered
 *   STELLA_NOT_TARGET          stella_current_service() of a process no rule claims
 *   STELLA_TARGET_VIA_EXEC     set in a stella_target_pids value claimed at exec: a later exec clears it
 *   STELLA_SYSCALL_COOKIE_SHIFT a syscall aggregate's cookie is service << 32 | syscall id
 *                              (a uprobe's cookie is the index of its request, set at attach time)
 *   STELLA_COOKIE_FLAGS_SHIFT  a uprobe's attach cookie carries flags above its request index;
 *                              records and aggregate keys carry the index alone
 *   STELLA_COOKIE_COUNT_ONLY   flag: count the call in stella_agg, send no record
 *   STELLA_ARG_COOKIES         cookies below this may read an argument (argument.bpf.h)
 *   STELLA_ARG_UNREAD          `arg` when the probe reads none, or the read failed
 *   STELLA_ARG_NULL            `arg` when the pointer to read through was NULL
 */
enum stella_abi {
	STELLA_SERVICE_NONE = 0xffffffffu,
	STELLA_NOT_TARGET = 0xfffffffeu,
	STELLA_TARGET_VIA_EXEC = 0x80000000u,
	STELLA_SERVICE_MASK = 0x7fffffffu,
	STELLA_SYSCALL_COOKIE_SHIFT = 32,
	STELLA_COOKIE_FLAGS_SHIFT = 32,
	STELLA_COOKIE_COUNT_ONLY = 1,
	STELLA_ARG_COOKIES = 1024,
	STELLA_ARG_UNREAD = 0xffffffffu,
	STELLA_ARG_NULL = 0xfffffffeu,
};

/* A plain function call or return: nothing beyond the header. */
struct stella_call_event {
	struct stella_event_header h;
};

/*
 * A call from the generic uprobe program (uprobe_call.bpf.h): the header and the value its probe
 * read at the call (argument.bpf.h), STELLA_ARG_UNREAD when it reads none. 72 bytes.
 */
struct stella_call_arg_event {
	struct stella_event_header h;
	__u32 arg;
	__u32 _pad;
};

/*
 * Key and value of the per-CPU hash `stella_agg` (see aggregate.bpf.h); user space sums CPUs.
 * `arg` is the value read at the call (argument.bpf.h; STELLA_ARG_UNREAD when none): calls of one
 * function with different algorithms count apart.
 */
struct stella_agg_key {
	__u64 cookie;
	__u32 pid;
	__u32 arg;
};

struct stella_agg_value {
	__u64 count;
	__u64 last_ts_ns; /* 0 from aggregate.bpf.h (no clock read per hit); a plugin may set it */
};

/* Key of `stella_target_exes`: an executable as the kernel sees it, sb->s_dev (MKDEV encoding,
 * not stat's st_dev) and i_ino. */
struct stella_exe_key {
	__u64 dev;
	__u64 ino;
};

#endif /* __STELLA_EVENT_H */

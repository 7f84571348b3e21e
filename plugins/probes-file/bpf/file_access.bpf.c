// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * open/openat/openat2 on sensitive path prefixes, and read/write on the descriptors they returned.
 *
 * The prefix compare happens here, in the kernel, against a table set before load (const
 * volatile: it never changes at run time). Opens are counted at entry (a refused open of
 * /etc/shadow is still a call); the descriptor comes back at exit and is remembered per
 * {tgid, fd} until close, so read/write are counted only on sensitive files. Limits, by design:
 * paths are compared as the process passed them (a relative path or one through a symlink does
 * not match an absolute prefix), descriptors duplicated with dup()/inherited across fork are not
 * followed, and pread/readv/writev/sendfile/mmap are not probed.
 */
#include "stella/syscall.bpf.h"
#include "file_access.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum stella_file_syscall stella__btf_file_syscall __attribute__((unused));
struct stella_file_fd_key *stella__btf_file_fd_key __attribute__((unused));

/* Sensitive path prefixes: bytes, lengths, count. Defaults match nothing. */
const volatile char stella_file_prefixes[STELLA_FILE_MAX_PREFIXES][STELLA_FILE_PREFIX_LEN] = {};
const volatile __u32 stella_file_prefix_lens[STELLA_FILE_MAX_PREFIXES] = {};
const volatile __u32 stella_file_prefix_count = 0;

struct stella_file_path {
	char path[STELLA_FILE_PATH_LEN];
};

/* The path being compared: 256 bytes do not fit the 512-byte BPF stack beside the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stella_file_path);
} stella_file_scratch SEC(".maps");

/* tid -> 1 between a matching open's entry and its exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} stella_file_pending SEC(".maps");

/*
 * Sensitive descriptors. LRU: a process that exits without closing leaves entries behind (there
 * is no cheap per-process sweep), the oldest are recycled instead of the map filling up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stella_file_fd_key);
	__type(value, __u32);
} stella_file_fds SEC(".maps");

static __always_inline bool stella_file_matches(const char *path)
{
	for (__u32 i = 0; i < STELLA_FILE_MAX_PREFIXES; i++) {
		__u32 len;
		bool same = true;

		if (i >= stella_file_prefix_count)
			break;
		len = stella_file_prefix_lens[i];
		if (len == 0 || len > STELLA_FILE_PREFIX_LEN)
			continue;
		for (__u32 j = 0; j < STELLA_FILE_PREFIX_LEN; j++) {
			if (j >= len)
				break;
			if (path[j] != stella_file_prefixes[i][j]) {
				same = false;
				break;
			}
		}
		if (same)
			return true;
	}
	return false;
}

static __always_inline int stella_file_open_enter(const char *filename, __u32 syscall_id)
{
	struct stella_file_path *buf;
	__u32 service, zero = 0, tid, one = 1;

	if (stella_file_prefix_count == 0)
		return 0;
	service = stella_current_service();
	if (service == STELLA_NOT_TARGET)
		return 0;
	buf = bpf_map_lookup_elem(&stella_file_scratch, &zero);
	if (!buf)
		return 0;
	if (bpf_probe_read_user_str(buf->path, sizeof(buf->path), filename) <= 0)
		return 0;
	if (!stella_file_matches(buf->path))
		return 0;
	stella_syscall_hit(service, syscall_id, STELLA_EVENT_FILE);
	tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&stella_file_pending, &tid, &one, BPF_ANY);
	return 0;
}

static __always_inline int stella_file_open_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, one = 1;
	struct stella_file_fd_key key;

	if (!bpf_map_lookup_elem(&stella_file_pending, &tid))
		return 0;
	bpf_map_delete_elem(&stella_file_pending, &tid);
	if (ret < 0)
		return 0;
	key.tgid = pid_tgid >> 32;
	key.fd = (__u32)ret;
	bpf_map_update_elem(&stella_file_fds, &key, &one, BPF_ANY);
	return 0;
}

/* read/write: the fd lookup first, since only targets ever have entries (one lookup per miss). */
static __always_inline int stella_file_fd_access(__u64 fd, __u32 syscall_id)
{
	struct stella_file_fd_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .fd = (__u32)fd };
	__u32 service;

	if (!bpf_map_lookup_elem(&stella_file_fds, &key))
		return 0;
	service = stella_current_service();
	if (service != STELLA_NOT_TARGET)
		stella_syscall_hit(service, syscall_id, STELLA_EVENT_FILE);
	return 0;
}

static __always_inline int stella_file_close(__u64 fd)
{
	struct stella_file_fd_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .fd = (__u32)fd };

	bpf_map_delete_elem(&stella_file_fds, &key);
	return 0;
}

/* An open-like syscall whose path is argument `argn` (0-based; PARM is the 1-based macro). */
#define STELLA_FILE_OPEN_PROBES(name, id, argn, PARM)                                              \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int tp_##name(void *ctx)                                                                   \
	{                                                                                          \
		return stella_file_open_enter((const char *)STELLA_TP_ARG(ctx, argn), id);         \
	}                                                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int tpx_##name(void *ctx)                                                                  \
	{                                                                                          \
		return stella_file_open_exit(STELLA_TP_RET(ctx));                                  \
	}                                                                                          \
	SEC("kprobe/" STELLA_SYS_WRAPPER(name))                                                    \
	int kp_##name(void *ctx)                                                                   \
	{                                                                                          \
		return stella_file_open_enter((const char *)PARM(STELLA_KP_REGS(ctx)), id);        \
	}                                                                                          \
	SEC("kretprobe/" STELLA_SYS_WRAPPER(name))                                                 \
	int kpx_##name(void *ctx)                                                                  \
	{                                                                                          \
		return stella_file_open_exit(STELLA_KP_RET(ctx));                                  \
	}                                                                                          \
	SEC("fentry/" STELLA_SYS_WRAPPER(name))                                                    \
	int fe_##name(void *ctx)                                                                   \
	{                                                                                          \
		return stella_file_open_enter((const char *)PARM(STELLA_FE_REGS(ctx)), id);        \
	}                                                                                          \
	SEC("fexit/" STELLA_SYS_WRAPPER(name))                                                     \
	int fex_##name(void *ctx)                                                                  \
	{                                                                                          \
		return stella_file_open_exit(STELLA_FE_RET(ctx));                                  \
	}

/* A syscall whose first argument is a descriptor: read, write, close. */
#define STELLA_FILE_FD_PROBES(name, handler, ...)                                                  \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int tp_##name(void *ctx)                                                                   \
	{                                                                                          \
		return handler(STELLA_TP_ARG(ctx, 0) __VA_ARGS__);                                 \
	}                                                                                          \
	SEC("kprobe/" STELLA_SYS_WRAPPER(name))                                                    \
	int kp_##name(void *ctx)                                                                   \
	{                                                                                          \
		return handler(PT_REGS_PARM1_CORE_SYSCALL(STELLA_KP_REGS(ctx)) __VA_ARGS__);       \
	}                                                                                          \
	SEC("fentry/" STELLA_SYS_WRAPPER(name))                                                    \
	int fe_##name(void *ctx)                                                                   \
	{                                                                                          \
		return handler(PT_REGS_PARM1_CORE_SYSCALL(STELLA_FE_REGS(ctx)) __VA_ARGS__);       \
	}

STELLA_FILE_OPEN_PROBES(open, STELLA_FILE_OPEN, 0, PT_REGS_PARM1_CORE_SYSCALL)
STELLA_FILE_OPEN_PROBES(openat, STELLA_FILE_OPENAT, 1, PT_REGS_PARM2_CORE_SYSCALL)
STELLA_FILE_OPEN_PROBES(openat2, STELLA_FILE_OPENAT2, 1, PT_REGS_PARM2_CORE_SYSCALL)
STELLA_FILE_FD_PROBES(read, stella_file_fd_access, , STELLA_FILE_READ)
STELLA_FILE_FD_PROBES(write, stella_file_fd_access, , STELLA_FILE_WRITE)
STELLA_FILE_FD_PROBES(close, stella_file_close)

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * In-kernel target filtering: which processes belong to a watched service, and which service.
 *
 * User space seeds three maps: running pids, cgroup ids, and executables by (s_dev, i_ino).
 * Processes started later are claimed here, in the kernel, at exec time (and inherited across
 * fork), so a process that lives 5 ms is filtered as reliably as a daemon: user space polling
 * /proc would see it only after its TLS handshake is over.
 */
#ifndef __STELLA_TARGET_BPF_H
#define __STELLA_TARGET_BPF_H

#include "stella/common.bpf.h"

#ifndef STELLA_MAX_TARGETS
#define STELLA_MAX_TARGETS 10240
#endif

/* 0 (default): every process is a target. 1: only tgids/cgroups in the maps below. */
const volatile __u32 stella_filter_targets = 0;

/* tgid -> service index (user space's numbering), maybe | STELLA_TARGET_VIA_EXEC. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STELLA_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u32);
} stella_target_pids SEC(".maps");

/* cgroup v2 id -> service index. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STELLA_MAX_TARGETS);
	__type(key, __u64);
	__type(value, __u32);
} stella_target_cgroups SEC(".maps");

/* executable (dev, ino) -> service index. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct stella_exe_key);
	__type(value, __u32);
} stella_target_exes SEC(".maps");

/* Service index of process `tgid`, STELLA_SERVICE_NONE when unfiltered, else STELLA_NOT_TARGET. */
static __always_inline __u32 stella_service_of(__u32 tgid)
{
	__u32 *svc;
	__u64 cgroup_id;

	if (!stella_filter_targets)
		return STELLA_SERVICE_NONE;
	svc = bpf_map_lookup_elem(&stella_target_pids, &tgid);
	if (svc)
		return *svc & STELLA_SERVICE_MASK;
	cgroup_id = bpf_get_current_cgroup_id();
	svc = bpf_map_lookup_elem(&stella_target_cgroups, &cgroup_id);
	return svc ? *svc : STELLA_NOT_TARGET;
}

static __always_inline __u32 stella_current_service(void)
{
	return stella_service_of(bpf_get_current_pid_tgid() >> 32);
}

static __always_inline bool stella_is_target(void)
{
	return stella_current_service() != STELLA_NOT_TARGET;
}

/*
 * Exec/fork/exit tracking (tp_btf: BTF-typed tracepoint arguments, no kprobes needed).
 * User space attaches these only when it filters by executable; define STELLA_NO_TARGET_TRACKER
 * in an object that must not carry them.
 */
#ifndef STELLA_NO_TARGET_TRACKER
SEC("tp_btf/sched_process_exec")
int BPF_PROG(stella_track_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct stella_exe_key key = {};
	struct file *file = BPF_CORE_READ(bprm, file);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *svc, *current, value;

	key.ino = BPF_CORE_READ(file, f_inode, i_ino);
	key.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	svc = bpf_map_lookup_elem(&stella_target_exes, &key);
	if (svc) {
		value = *svc | STELLA_TARGET_VIA_EXEC;
		bpf_map_update_elem(&stella_target_pids, &tgid, &value, BPF_ANY);
		return 0;
	}
	/* A process claimed for its executable stops being a target when it execs another one. */
	current = bpf_map_lookup_elem(&stella_target_pids, &tgid);
	if (current && (*current & STELLA_TARGET_VIA_EXEC))
		bpf_map_delete_elem(&stella_target_pids, &tgid);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(stella_track_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	__u32 *svc, value;

	if (parent_tgid == child_tgid) /* a new thread, same process */
		return 0;
	svc = bpf_map_lookup_elem(&stella_target_pids, &parent_tgid);
	if (!svc)
		return 0;
	value = *svc;
	bpf_map_update_elem(&stella_target_pids, &child_tgid, &value, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(stella_track_exit, struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (pid == tgid) /* the process, not one of its threads */
		bpf_map_delete_elem(&stella_target_pids, &tgid);
	return 0;
}
#endif /* STELLA_NO_TARGET_TRACKER */

#endif /* __STELLA_TARGET_BPF_H */

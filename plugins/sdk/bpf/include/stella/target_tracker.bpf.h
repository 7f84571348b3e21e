// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Exec/fork/exit tracking (tp_btf: BTF-typed tracepoint arguments, no kprobes needed): claims a
 * process for its service in the kernel the moment it execs a watched executable, passes the claim
 * to forked children and forgets it at exit.
 *
 * Included only by the node's target filter object, so the node runs one tracker however many
 * plugins it loads: every exec pays for these programs once, not once per plugin.
 */
#ifndef __STELLA_TARGET_TRACKER_BPF_H
#define __STELLA_TARGET_TRACKER_BPF_H

#include "stella/target.bpf.h"

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

#endif /* __STELLA_TARGET_TRACKER_BPF_H */

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * What a record says about the task that made the call (pid, tid, comm, cgroup id), read the
 * cheapest way the running kernel allows. All of it is per call and exact: a 5 ms process is gone
 * before user space could look any of it up.
 *
 * Where the kernel has bpf_get_current_task_btf() (Linux 5.11, commit 3ca1032ab7ab), the fields are
 * loaded straight from the task_struct through BTF (CO-RE relocated), the way the helpers read
 * them, without the helper calls: bpf_get_current_comm() copies with strscpy_pad() and
 * bpf_get_current_cgroup_id() takes the RCU read lock, and those two were most of what a per-call
 * record cost above bpftrace's count() (docs/KERNEL.md §3). Kernels without it (5.10) take the
 * helpers: which branch runs is settled at load time (libbpf turns the enum check into a
 * constant and the verifier never visits the other branch).
 */
#ifndef __STELLA_TASK_BPF_H
#define __STELLA_TASK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define STELLA_HAS_TASK_BTF bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)

/*
 * The current task, for the stella_task_* readers below; NULL (and never dereferenced) where the
 * kernel lacks bpf_get_current_task_btf(). Read it once per program run: on x86-64 the helper is
 * a call, not inlined (6.18).
 */
static __always_inline struct task_struct *stella_current_task(void)
{
	if (STELLA_HAS_TASK_BTF)
		return bpf_get_current_task_btf();
	return NULL;
}

/* tgid << 32 | pid, as bpf_get_current_pid_tgid() returns it (init-namespace ids). */
static __always_inline __u64 stella_task_pid_tgid(struct task_struct *task)
{
	if (STELLA_HAS_TASK_BTF)
		return (__u64)task->tgid << 32 | (__u32)task->pid;
	return bpf_get_current_pid_tgid();
}

/*
 * The cgroup v2 id of the task, what bpf_get_current_cgroup_id() returns: the id of the kernfs
 * node of its default-hierarchy cgroup. A uprobe or tracepoint program runs inside an RCU
 * read-side section, which is what keeps task->cgroups alive while we follow it.
 */
static __always_inline __u64 stella_task_cgroup_id(struct task_struct *task)
{
	if (STELLA_HAS_TASK_BTF)
		return task->cgroups->dfl_cgrp->kn->id;
	return bpf_get_current_cgroup_id();
}

/*
 * task->comm into `comm` (16 bytes, 8-byte aligned). The kernel keeps comm NUL-terminated
 * (set_task_comm copies at most 15 bytes); older kernels do not zero what follows the NUL, which
 * user space never reads (it stops at the first NUL, layout.ts).
 */
static __always_inline void stella_task_comm(struct task_struct *task, char comm[16])
{
	if (STELLA_HAS_TASK_BTF) {
		__u64 *from = (__u64 *)task->comm;

		((__u64 *)comm)[0] = from[0];
		((__u64 *)comm)[1] = from[1];
		return;
	}
	bpf_get_current_comm(comm, 16);
}

static __always_inline __u64 stella_current_pid_tgid(void)
{
	return stella_task_pid_tgid(stella_current_task());
}

static __always_inline __u64 stella_current_cgroup_id(void)
{
	return stella_task_cgroup_id(stella_current_task());
}

#endif /* __STELLA_TASK_BPF_H */

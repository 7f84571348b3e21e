// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Kernel-side basics every Stella probe includes: vmlinux.h, libbpf helpers, the event header. */
#ifndef __STELLA_COMMON_BPF_H
#define __STELLA_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "stella/event.h"
#include "stella/task.bpf.h"

/*
 * Clang only emits BTF for types reachable from globals, maps and function signatures. These
 * unused globals keep the shared structs and enums in every object's BTF, which is what
 * `@stella/sdk/abi-check` compares user space with (the bpf2go "unused" idiom). A few bytes of .bss.
 */
struct stella_event_header *stella__btf_event_header __attribute__((unused));
struct stella_call_event *stella__btf_call_event __attribute__((unused));
struct stella_call_arg_event *stella__btf_call_arg_event __attribute__((unused));
struct stella_agg_key *stella__btf_agg_key __attribute__((unused));
struct stella_agg_value *stella__btf_agg_value __attribute__((unused));
struct stella_exe_key *stella__btf_exe_key __attribute__((unused));
enum stella_event_kind stella__btf_event_kind __attribute__((unused));
enum stella_abi stella__btf_abi __attribute__((unused));

/*
 * The header of a record made by `task` (stella_current_task()), whose pid_tgid the caller has
 * read already (stella_task_pid_tgid()).
 */
static __always_inline void stella_fill_header_task(struct stella_event_header *h, struct task_struct *task,
						    __u64 pid_tgid, __u16 kind, __u16 size, __u64 cookie,
						    __u32 hit_count)
{
	h->ts_ns = bpf_ktime_get_ns();
	h->cookie = cookie;
	h->cgroup_id = stella_task_cgroup_id(task);
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->hit_count = hit_count;
	h->kind = kind;
	h->size = size;
	h->service = STELLA_SERVICE_NONE;
	h->flags = 0;
	stella_task_comm(task, h->comm);
}

static __always_inline void stella_fill_header(struct stella_event_header *h, __u16 kind, __u16 size,
					       __u64 cookie, __u32 hit_count)
{
	struct task_struct *task = stella_current_task();

	stella_fill_header_task(h, task, stella_task_pid_tgid(task), kind, size, cookie, hit_count);
}

#endif /* __STELLA_COMMON_BPF_H */

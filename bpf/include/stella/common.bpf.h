// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Kernel-side basics every Stella probe includes: vmlinux.h, libbpf helpers, the event header. */
#ifndef __STELLA_COMMON_BPF_H
#define __STELLA_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "stella/event.h"

/*
 * Clang only emits BTF for types reachable from globals, maps and function signatures. These
 * unused pointers keep the shared structs in every object's BTF, which is what the user-space
 * decoder is checked against (the bpf2go "unused" idiom). 8 bytes of .bss each.
 */
struct stella_event_header *stella__btf_event_header __attribute__((unused));
struct stella_call_event *stella__btf_call_event __attribute__((unused));

static __always_inline void stella_fill_header(struct stella_event_header *h, __u16 kind, __u16 size,
					       __u64 cookie, __u32 hit_count)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	h->ts_ns = bpf_ktime_get_ns();
	h->cookie = cookie;
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->hit_count = hit_count;
	h->kind = kind;
	h->size = size;
	h->service = STELLA_SERVICE_NONE;
	h->flags = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

#endif /* __STELLA_COMMON_BPF_H */

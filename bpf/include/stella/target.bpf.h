// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * In-kernel target filtering: which processes belong to a watched service. Attaching uprobes per
 * pid is still preferred (the kernel then only breakpoints that process); this filter covers
 * probes that cannot be per pid (syscall tracepoints, shared-library probes on every process).
 */
#ifndef __STELLA_TARGET_BPF_H
#define __STELLA_TARGET_BPF_H

#include "stella/common.bpf.h"

#ifndef STELLA_MAX_TARGETS
#define STELLA_MAX_TARGETS 10240
#endif

/* 0 (default): every process is a target. 1: only tgids/cgroups in the maps below. */
const volatile __u32 stella_filter_targets = 0;

/* tgid -> service index (user space's numbering). */
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

static __always_inline bool stella_is_target(void)
{
	__u32 tgid;
	__u64 cgroup_id;

	if (!stella_filter_targets)
		return true;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&stella_target_pids, &tgid))
		return true;
	cgroup_id = bpf_get_current_cgroup_id();
	return bpf_map_lookup_elem(&stella_target_cgroups, &cgroup_id) != NULL;
}

#endif /* __STELLA_TARGET_BPF_H */

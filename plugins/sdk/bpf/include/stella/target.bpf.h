// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * In-kernel target filtering: which processes belong to a watched service, and which service.
 *
 * User space seeds three maps: running pids, cgroup ids, and executables by (s_dev, i_ino).
 * Processes started later are claimed here, in the kernel, at exec time (and inherited across
 * fork), so a process that lives 5 ms is filtered as reliably as a daemon: user space polling
 * /proc would see it only after its TLS handshake is over.
 *
 * One set of these maps exists per node: the agent loads the target filter object (these maps
 * plus the tracker of target_tracker.bpf.h) once, and every plugin object is pointed at its maps
 * before load (libbpf map fd reuse). A plugin object therefore declares the maps but never fills
 * them and carries no tracker.
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
	cgroup_id = stella_current_cgroup_id();
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


#endif /* __STELLA_TARGET_BPF_H */

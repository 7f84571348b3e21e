// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Exact call counts per (probe cookie, pid) in a per-CPU hash, so counts stay exact while per-call
 * events are sampled or switched off. Per-CPU: no atomics on the hot path; user space sums CPUs.
 */
#ifndef __STELLA_AGGREGATE_BPF_H
#define __STELLA_AGGREGATE_BPF_H

#include "stella/common.bpf.h"

#ifndef STELLA_MAX_AGG_ENTRIES
#define STELLA_MAX_AGG_ENTRIES 16384
#endif

/* 0 (default): no counting. 1: count every call that passes the target filter. */
const volatile __u32 stella_aggregate = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, STELLA_MAX_AGG_ENTRIES);
	__type(key, struct stella_agg_key);
	__type(value, struct stella_agg_value);
} stella_agg SEC(".maps");

static __always_inline void stella_aggregate_hit(__u64 cookie, __u32 pid, __u64 ts_ns)
{
	struct stella_agg_key key = { .cookie = cookie, .pid = pid };
	struct stella_agg_value *val, init = { .count = 1, .last_ts_ns = ts_ns };

	val = bpf_map_lookup_elem(&stella_agg, &key);
	if (val) {
		val->count += 1;
		val->last_ts_ns = ts_ns;
		return;
	}
	/* Map full: the count is lost, never the program; user space sees the entry count. */
	bpf_map_update_elem(&stella_agg, &key, &init, BPF_NOEXIST);
}

#endif /* __STELLA_AGGREGATE_BPF_H */

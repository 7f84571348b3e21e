// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Exact call counts per (probe cookie, pid) in a per-CPU hash, so counts stay exact while per-call
 * events are sampled or switched off. Per-CPU: no atomics on the hot path; user space sums CPUs.
 */
#ifndef __STELLA_AGGREGATE_BPF_H
#define __STELLA_AGGREGATE_BPF_H

#include "stella/common.bpf.h"
#include "stella/drops.bpf.h"

/* vmlinux.h carries types, not the errno macros. */
#ifndef EEXIST
#define EEXIST 17
#endif

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

/*
 * Counters only grow: user space never deletes the entry of a live process, it keeps the last sums
 * and reports the difference, so no call counted while it reads is lost. No clock is read per hit
 * (bpf_ktime_get_ns() was a tenth of the program's time, and tracing programs may not use the
 * coarse clock): last_ts_ns stays 0 and user space dates a window's record by the window's end.
 * The add is atomic
 * because a uprobe program runs with migration, not preemption, disabled: two tasks on one CPU
 * may interleave here.
 */
static __always_inline void stella_aggregate_hit(__u64 cookie, __u32 pid, __u32 arg)
{
	struct stella_agg_key key = { .cookie = cookie, .pid = pid, .arg = arg };
	struct stella_agg_value *val, init = { .count = 1 };
	long err;

	val = bpf_map_lookup_elem(&stella_agg, &key);
	if (val) {
		__sync_fetch_and_add(&val->count, 1);
		return;
	}
	err = bpf_map_update_elem(&stella_agg, &key, &init, BPF_NOEXIST);
	if (!err)
		return;
	/* Another CPU created the entry between our lookup and update: count on it. */
	if (err == -EEXIST) {
		val = bpf_map_lookup_elem(&stella_agg, &key);
		if (val) {
			__sync_fetch_and_add(&val->count, 1);
			return;
		}
	}
	/* The map is full (E2BIG/ENOMEM): the call is lost, and said so, never silently. */
	stella_count_drop();
}

#endif /* __STELLA_AGGREGATE_BPF_H */

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The per-CPU counter `stella_drops` (key 0): every call a probe saw but could not record, a full
 * ring buffer or a full `stella_agg` alike. User space sums it over CPUs and exports it as
 * stella_observations_dropped_total, so no loss is silent.
 */
#ifndef __STELLA_DROPS_BPF_H
#define __STELLA_DROPS_BPF_H

#include "stella/common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} stella_drops SEC(".maps");

static __always_inline void stella_count_drop(void)
{
	__u32 zero = 0;
	__u64 *drops = bpf_map_lookup_elem(&stella_drops, &zero);

	if (drops)
		__sync_fetch_and_add(drops, 1);
}

#endif /* __STELLA_DROPS_BPF_H */

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Presence mode, kernel side. A probe in presence mode reports its first hit per (cookie, pid) in
 * the current window and is then disarmed for that process by user space, which releases the
 * pid-scoped uprobe_multi link carrying it (a BPF program cannot remove its own breakpoint:
 * uprobe_multi handlers return 0 whatever the program says since Linux 6.13). Between the first
 * hit and the release the function keeps trapping; those hits are not emitted again. The first
 * hit is submitted with BPF_RB_FORCE_WAKEUP so user space learns within microseconds instead of
 * the consumer's poll interval, and the release starts that much sooner.
 */
#ifndef __STELLA_PRESENCE_BPF_H
#define __STELLA_PRESENCE_BPF_H

#include "stella/common.bpf.h"

#ifndef STELLA_MAX_PRESENCE_ENTRIES
#define STELLA_MAX_PRESENCE_ENTRIES 16384
#endif

/*
 * The current window's number, plus one (0 never names a window, so an absent entry and a zeroed
 * one both read "not seen"). User space bumps it at each roll-over instead of clearing the seen map,
 * so a roll-over is one write whatever the number of processes.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} stella_presence_window SEC(".maps");

/* (cookie, pid) -> window in which it was last reported. LRU: a full map forgets old processes. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, STELLA_MAX_PRESENCE_ENTRIES);
	__type(key, struct stella_agg_key);
	__type(value, __u64);
} stella_presence_seen SEC(".maps");

/*
 * True when this is the probe's first hit for this process in the window (and marks it seen).
 * Two CPUs racing on the same first hit may both return true: user space disarms once anyway.
 */
static __always_inline bool stella_presence_first_hit(__u64 cookie, __u32 pid)
{
	struct stella_agg_key key = { .cookie = cookie, .pid = pid };
	__u32 zero = 0;
	__u64 *window = bpf_map_lookup_elem(&stella_presence_window, &zero);
	__u64 current = window ? *window + 1 : 1;
	__u64 *seen = bpf_map_lookup_elem(&stella_presence_seen, &key);

	if (seen && *seen == current)
		return false;
	bpf_map_update_elem(&stella_presence_seen, &key, &current, BPF_ANY);
	return true;
}

#endif /* __STELLA_PRESENCE_BPF_H */

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The one ring buffer of a Stella object, and a reserve/submit pair that never fails loudly: when
 * the ring is full the event is dropped and the per-CPU counter `stella_drops` (drops.bpf.h)
 * goes up.
 */
#ifndef __STELLA_RINGBUF_BPF_H
#define __STELLA_RINGBUF_BPF_H

#include "stella/common.bpf.h"
#include "stella/drops.bpf.h"

/*
 * 4 MiB default: on the project's 2-CPU machine a 256 KiB ring dropped heavily under CPU
 * contention while 4 MiB stayed under 3 % drops (docs/KERNEL.md §6). User space may resize it before
 * load with setMaxEntries('stella_events', bytes) (a power of two, multiple of the page size).
 */
#ifndef STELLA_RINGBUF_BYTES
#define STELLA_RINGBUF_BYTES (4 * 1024 * 1024)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, STELLA_RINGBUF_BYTES);
} stella_events SEC(".maps");

/*
 * 0 (default): submit with BPF_RB_NO_WAKEUP; the consumer polls on a timer and drains with
 * ring_buffer__consume(). A wakeup per event costs 1.3-1.8 us against 0.1-0.2 us without
 * (docs/KERNEL.md §3). Set to 1 before load for lowest latency at low event rates.
 */
const volatile __u32 stella_rb_wakeup = 0;

/* Returns NULL (and counts the drop) when the ring is full. */
static __always_inline void *stella_reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&stella_events, size, 0);

	if (!rec)
		stella_count_drop();
	return rec;
}

static __always_inline void stella_submit(void *rec)
{
	bpf_ringbuf_submit(rec, stella_rb_wakeup ? 0 : BPF_RB_NO_WAKEUP);
}

#endif /* __STELLA_RINGBUF_BPF_H */

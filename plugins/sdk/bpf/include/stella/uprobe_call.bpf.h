// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The generic "a function was called" program pair. A plugin's <probe>.bpf.c includes this one
 * header (plus its LICENSE) and user space attaches `stella_uprobe_call` (and, if wanted,
 * `stella_uretprobe_call`) to each symbol with a distinct attach cookie.
 *
 * Order: target filter -> exact count (stella_aggregate) -> sampling -> emit. Counting before
 * sampling keeps counts exact at any sampling rate. A probe in presence mode (presence.bpf.h, the
 * stella_uprobe_presence program) emits its first hit per process and window only, unsampled and
 * with an immediate wakeup, even when aggregating: user space needs it to disarm the probe.
 *
 * A uprobe's attach cookie is its request index in the low 32 bits and flags above them
 * (STELLA_COOKIE_FLAGS_SHIFT). STELLA_COOKIE_COUNT_ONLY: count the call in stella_agg and send no
 * record, whatever stella_aggregate says (hot functions in count mode: exact counts without the
 * ring-buffer record and user-space decode per call). Everything after the flags are read sees
 * the index alone: records, aggregate keys and presence keys carry no flags.
 */
#ifndef __STELLA_UPROBE_CALL_BPF_H
#define __STELLA_UPROBE_CALL_BPF_H

#include "stella/common.bpf.h"
#include "stella/ringbuf.bpf.h"
#include "stella/target.bpf.h"
#include "stella/sampling.bpf.h"
#include "stella/aggregate.bpf.h"
#include "stella/presence.bpf.h"
#include "stella/argument.bpf.h"

static __always_inline int stella_handle_call(struct pt_regs *ctx, __u16 kind, bool presence)
{
	struct stella_call_arg_event *e;
	struct task_struct *task = stella_current_task();
	__u64 pid_tgid = stella_task_pid_tgid(task);
	__u32 tgid = pid_tgid >> 32;
	__u32 service = stella_service_of(tgid);
	__u64 cookie;
	__u32 flags;
	__u32 arg;

	if (service == STELLA_NOT_TARGET)
		return 0;
	cookie = bpf_get_attach_cookie(ctx);
	flags = cookie >> STELLA_COOKIE_FLAGS_SHIFT;
	cookie = (__u32)cookie;
	/* At a return the argument registers hold whatever the function left there. */
	arg = kind == STELLA_EVENT_CALL ? stella_read_arg(ctx, cookie) : STELLA_ARG_UNREAD;
	if (stella_aggregate || (flags & STELLA_COOKIE_COUNT_ONLY))
		stella_aggregate_hit(cookie, tgid, arg);
	if (presence) {
		if (!stella_presence_first_hit(cookie, tgid))
			return 0;
	} else if ((flags & STELLA_COOKIE_COUNT_ONLY) || !stella_should_sample()) {
		return 0;
	}
	e = stella_reserve(sizeof(*e));
	if (!e)
		return 0;
	stella_fill_header_task(&e->h, task, pid_tgid, kind, sizeof(*e), cookie, 1);
	e->h.service = service;
	e->arg = arg;
	e->_pad = 0;
	if (presence)
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	else
		stella_submit(e);
	return 0;
}

SEC("uprobe")
int stella_uprobe_call(struct pt_regs *ctx)
{
	return stella_handle_call(ctx, STELLA_EVENT_CALL, false);
}

/*
 * The same handler as a uprobe_multi program, for probes in presence mode: disarming one in one
 * process means releasing a pid-scoped uprobe_multi link (presence.bpf.h), and one program cannot
 * be both a perf-event uprobe and uprobe.multi. Being attached to this program is what puts a
 * probe in presence mode, so any request index can be in it. Not loaded where the kernel lacks
 * uprobe_multi.
 */
SEC("uprobe.multi")
int stella_uprobe_presence(struct pt_regs *ctx)
{
	return stella_handle_call(ctx, STELLA_EVENT_CALL, true);
}

SEC("uretprobe")
int stella_uretprobe_call(struct pt_regs *ctx)
{
	return stella_handle_call(ctx, STELLA_EVENT_RETURN, false);
}

#endif /* __STELLA_UPROBE_CALL_BPF_H */

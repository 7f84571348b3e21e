// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The generic "a function was called" program pair. A plugin's <probe>.bpf.c includes this one
 * header (plus its LICENSE) and user space attaches `stella_uprobe_call` (and, if wanted,
 * `stella_uretprobe_call`) to each symbol with a distinct attach cookie.
 *
 * Order: target filter -> exact count (stella_aggregate) -> sampling -> emit. Counting before
 * sampling keeps counts exact at any sampling rate. A probe in presence mode (presence.bpf.h)
 * emits its first hit per process and window only, unsampled and with an immediate wakeup, even
 * when aggregating: user space needs it to disarm the probe.
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

static __always_inline int stella_handle_call(struct pt_regs *ctx, __u16 kind)
{
	struct stella_call_arg_event *e;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 service = stella_service_of(tgid);
	__u64 cookie;
	__u32 arg;

	if (service == STELLA_NOT_TARGET)
		return 0;
	cookie = bpf_get_attach_cookie(ctx);
	/* At a return the argument registers hold whatever the function left there. */
	arg = kind == STELLA_EVENT_CALL ? stella_read_arg(ctx, cookie) : STELLA_ARG_UNREAD;
	if (stella_aggregate)
		stella_aggregate_hit(cookie, tgid, arg);
	if (stella_presence_mode(cookie)) {
		if (!stella_presence_first_hit(cookie, tgid))
			return 0;
	} else if (!stella_should_sample()) {
		return 0;
	}
	e = stella_reserve(sizeof(*e));
	if (!e)
		return 0;
	stella_fill_header(&e->h, kind, sizeof(*e), cookie, 1);
	e->h.service = service;
	e->arg = arg;
	e->_pad = 0;
	if (stella_presence_mode(cookie))
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	else
		stella_submit(e);
	return 0;
}

SEC("uprobe")
int stella_uprobe_call(struct pt_regs *ctx)
{
	return stella_handle_call(ctx, STELLA_EVENT_CALL);
}

/*
 * The same handler as a uprobe_multi program, for probes in presence mode: disarming one in one
 * process means releasing a pid-scoped uprobe_multi link (presence.bpf.h), and one program cannot
 * be both a perf-event uprobe and uprobe.multi. Not loaded where the kernel lacks uprobe_multi.
 */
SEC("uprobe.multi")
int stella_uprobe_presence(struct pt_regs *ctx)
{
	return stella_handle_call(ctx, STELLA_EVENT_CALL);
}

SEC("uretprobe")
int stella_uretprobe_call(struct pt_regs *ctx)
{
	return stella_handle_call(ctx, STELLA_EVENT_RETURN);
}

#endif /* __STELLA_UPROBE_CALL_BPF_H */

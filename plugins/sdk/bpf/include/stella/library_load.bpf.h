// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * "A target process just loaded a library": a uretprobe on libc's dlopen (user space attaches it
 * to each target's libc) emits one record of kind STELLA_EVENT_LIBRARY_LOADED, and user space
 * rescans that process's /proc/PID/maps at once instead of waiting for the periodic rescan. PAM
 * modules, NSS modules and ctypes libraries all arrive this way. dlopen is rare, so the trap is
 * cheap. The record is never sampled: it is control, not data.
 *
 * Include it beside stella/uprobe_call.bpf.h in a plugin's <probe>.bpf.c; the SDK's uprobe session
 * attaches `stella_library_loaded` when the object has it.
 */
#ifndef __STELLA_LIBRARY_LOAD_BPF_H
#define __STELLA_LIBRARY_LOAD_BPF_H

#include "stella/common.bpf.h"
#include "stella/ringbuf.bpf.h"
#include "stella/target.bpf.h"

SEC("uretprobe")
int stella_library_loaded(struct pt_regs *ctx)
{
	struct stella_call_event *e;
	__u32 service = stella_current_service();

	if (service == STELLA_NOT_TARGET)
		return 0;
	if (PT_REGS_RC(ctx) == 0) /* dlopen failed: nothing new is mapped */
		return 0;
	e = stella_reserve(sizeof(*e));
	if (!e)
		return 0;
	stella_fill_header(&e->h, STELLA_EVENT_LIBRARY_LOADED, sizeof(*e), 0, 1);
	e->h.service = service;
	stella_submit(e);
	return 0;
}

#endif /* __STELLA_LIBRARY_LOAD_BPF_H */

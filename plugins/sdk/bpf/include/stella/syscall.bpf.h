// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Syscall-boundary probes (net and file categories): one program per (mechanism, syscall), so
 * user space can pick per syscall the first mechanism this kernel offers and switch the others
 * off with bpf_program__set_autoload() before load (opensnoop's pattern).
 *
 * Program names follow one convention user space relies on (plugins/sdk/src/syscall-plan.ts):
 *   tp_<syscall>  / tpx_<syscall>   tracepoint/syscalls/sys_enter_<syscall> / sys_exit_<syscall>
 *   kp_<syscall>  / kpx_<syscall>   kprobe / kretprobe on the arch syscall wrapper
 *   fe_<syscall>  / fex_<syscall>   fentry / fexit on the arch syscall wrapper
 *
 * Order inside a program: target filter -> exact count (stella_aggregate) -> sampling -> emit,
 * as in uprobe_call.bpf.h. The record is the bare header: kind STELLA_EVENT_SYSCALL or
 * STELLA_EVENT_FILE, cookie = the plugin's syscall id (a compile-time constant: fentry links
 * carry no attach cookie through libbpf's auto-attach).
 */
#ifndef __STELLA_SYSCALL_BPF_H
#define __STELLA_SYSCALL_BPF_H

#include "stella/common.bpf.h"
#include "stella/ringbuf.bpf.h"
#include "stella/target.bpf.h"
#include "stella/sampling.bpf.h"
#include "stella/aggregate.bpf.h"

/* The syscall wrapper symbols (since Linux 4.17, commit fa697140f9a2 "syscalls/x86: Use 'struct
 * pt_regs' based syscall calling convention for 64-bit syscalls"): the only argument is the
 * user-space register set, so arguments are read one level down. */
#if defined(__TARGET_ARCH_x86)
#define STELLA_SYS_WRAPPER(name) "__x64_sys_" #name
#elif defined(__TARGET_ARCH_arm64)
#define STELLA_SYS_WRAPPER(name) "__arm64_sys_" #name
#else
#error "stella/syscall.bpf.h: define the syscall wrapper prefix for this architecture"
#endif

/* Argument n (0-based) / return value in each mechanism's context. */
#define STELLA_TP_ARG(ctx, n) (((struct trace_event_raw_sys_enter *)(ctx))->args[n])
#define STELLA_TP_RET(ctx) (((struct trace_event_raw_sys_exit *)(ctx))->ret)
#define STELLA_KP_REGS(ctx) ((struct pt_regs *)PT_REGS_PARM1((struct pt_regs *)(ctx)))
#define STELLA_KP_RET(ctx) ((long)PT_REGS_RC((struct pt_regs *)(ctx)))
/* fentry/fexit on a wrapper: ctx[0] is the pt_regs pointer, fexit's ctx[1] the return value. */
#define STELLA_FE_REGS(ctx) ((struct pt_regs *)((__u64 *)(ctx))[0])
#define STELLA_FE_RET(ctx) ((long)((__u64 *)(ctx))[1])

/* Aggregation key cookie: service index in the high word, syscall id in the low word. */
static __always_inline __u64 stella_syscall_agg_cookie(__u32 service, __u32 syscall_id)
{
	return ((__u64)service << STELLA_SYSCALL_COOKIE_SHIFT) | syscall_id;
}

/* A call of `syscall_id` by a process of `service` (already target-filtered). */
static __always_inline void stella_syscall_hit(__u32 service, __u32 syscall_id, __u16 kind)
{
	struct stella_call_event *e;

	if (stella_aggregate)
		stella_aggregate_hit(stella_syscall_agg_cookie(service, syscall_id), bpf_get_current_pid_tgid() >> 32,
				     STELLA_ARG_UNREAD);
	if (!stella_should_sample())
		return;
	e = stella_reserve(sizeof(*e));
	if (!e)
		return;
	stella_fill_header(&e->h, kind, sizeof(*e), syscall_id, 1);
	e->h.service = service;
	stella_submit(e);
}

/* Entry-only probe of a syscall whose arguments do not matter (connect, sendto, ...). */
static __always_inline int stella_syscall_enter(__u32 syscall_id, __u16 kind)
{
	__u32 service = stella_current_service();

	if (service != STELLA_NOT_TARGET)
		stella_syscall_hit(service, syscall_id, kind);
	return 0;
}

/* The three entry programs of one argument-less syscall probe. */
#define STELLA_SYSCALL_ENTER_PROBES(name, id, kind)                                                \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int tp_##name(void *ctx)                                                                   \
	{                                                                                          \
		return stella_syscall_enter(id, kind);                                             \
	}                                                                                          \
	SEC("kprobe/" STELLA_SYS_WRAPPER(name))                                                    \
	int kp_##name(void *ctx)                                                                   \
	{                                                                                          \
		return stella_syscall_enter(id, kind);                                             \
	}                                                                                          \
	SEC("fentry/" STELLA_SYS_WRAPPER(name))                                                    \
	int fe_##name(void *ctx)                                                                   \
	{                                                                                          \
		return stella_syscall_enter(id, kind);                                             \
	}

#endif /* __STELLA_SYSCALL_BPF_H */

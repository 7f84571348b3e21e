// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The three ways the net and file plugins can see a syscall, each reduced to the same body (count a
 * hit of one process), so bench/syscall-mechanisms.mjs times what the mechanism itself costs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tgid = 0;
__u64 hits = 0;

static __always_inline void count_hit(void)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&hits, 1);
}

SEC("kprobe/__x64_sys_recvfrom")
int mechanism_kprobe(struct pt_regs *ctx)
{
	count_hit();
	return 0;
}

SEC("fentry/__x64_sys_recvfrom")
int BPF_PROG(mechanism_fentry)
{
	count_hit();
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int mechanism_tracepoint(void *ctx)
{
	count_hit();
	return 0;
}

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Trial-load object for feature detection: fentry loads only where BPF trampolines work. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* vfs_read: in every kernel's BTF (syscall wrappers like __x64_sys_* may be absent from it). */
SEC("fentry/vfs_read")
int BPF_PROG(stella_fentry_probe)
{
	return 0;
}

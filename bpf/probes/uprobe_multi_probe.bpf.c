// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Trial object for feature detection: a uprobe_multi link (Linux >= 6.6) of this do-nothing
 * program on the object file itself. The file is never mapped executable, so no breakpoint is
 * ever installed; the kernel still checks everything a real link needs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("uprobe.multi")
int stella_uprobe_multi_probe(void *ctx)
{
	return 0;
}

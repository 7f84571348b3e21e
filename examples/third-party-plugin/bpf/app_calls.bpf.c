// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * app/<symbol> calls in the example application: the generic Stella uprobe program (target filter,
 * exact in-kernel counts, sampling, ring buffer with a drop counter), one attach cookie per symbol,
 * plus the shared dlopen uretprobe so libraries a target loads later are attached at once.
 */
#include "stella/uprobe_call.bpf.h"
#include "stella/library_load.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

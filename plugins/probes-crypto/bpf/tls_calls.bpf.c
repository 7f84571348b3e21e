// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* TLS/crypto function calls: the generic Stella uprobe pair, one attach cookie per symbol. */
#include "stella/uprobe_call.bpf.h"
#include "stella/library_load.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

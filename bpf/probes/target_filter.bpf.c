// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The node's one target filter: the target maps every plugin object reuses, and the exec/fork/exit
 * tracker that keeps them current. The agent loads it once and hands its map fds to the plugins.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "stella/target_tracker.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

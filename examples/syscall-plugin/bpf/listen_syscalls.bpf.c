// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * bind and listen at syscall entry, arguments unread. STELLA_SYSCALL_ENTER_PROBES defines
 * tp_<syscall>, kp_<syscall> and fe_<syscall>; the SDK's session keeps the first mechanism this
 * kernel offers and switches the others off before load.
 */
#include "stella/syscall.bpf.h"
#include "listen_syscalls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Keeps the enum in the object's BTF, so the test can compare it with src/plugin.ts. */
enum listen_syscall listen__btf_syscall __attribute__((unused));

STELLA_SYSCALL_ENTER_PROBES(bind, LISTEN_BIND, STELLA_EVENT_SYSCALL)
STELLA_SYSCALL_ENTER_PROBES(listen, LISTEN_LISTEN, STELLA_EVENT_SYSCALL)

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Network syscalls at entry: a call is counted whether or not it succeeds (a non-blocking
 * recvfrom returning EAGAIN is still a recvfrom call). No arguments are read: the observation
 * record carries none, and reading a sockaddr would cost a user-memory copy per call.
 */
#include "stella/syscall.bpf.h"
#include "net_syscalls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Keeps the enum in the object's BTF for the id check (the bpf2go "unused" idiom). */
enum stella_net_syscall stella__btf_net_syscall __attribute__((unused));

STELLA_SYSCALL_ENTER_PROBES(connect, STELLA_NET_CONNECT, STELLA_EVENT_SYSCALL)
STELLA_SYSCALL_ENTER_PROBES(accept, STELLA_NET_ACCEPT, STELLA_EVENT_SYSCALL)
STELLA_SYSCALL_ENTER_PROBES(accept4, STELLA_NET_ACCEPT4, STELLA_EVENT_SYSCALL)
STELLA_SYSCALL_ENTER_PROBES(sendto, STELLA_NET_SENDTO, STELLA_EVENT_SYSCALL)
STELLA_SYSCALL_ENTER_PROBES(recvfrom, STELLA_NET_RECVFROM, STELLA_EVENT_SYSCALL)
STELLA_SYSCALL_ENTER_PROBES(sendmsg, STELLA_NET_SENDMSG, STELLA_EVENT_SYSCALL)
STELLA_SYSCALL_ENTER_PROBES(recvmsg, STELLA_NET_RECVMSG, STELLA_EVENT_SYSCALL)

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Authentication library calls (PAM, LDAP, SASL, GSSAPI/Kerberos, JWT): the generic Stella uprobe. */
#include "stella/uprobe_call.bpf.h"
#include "stella/library_load.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

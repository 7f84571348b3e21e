// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Per-call event sampling in the kernel: removes the emit cost, not the uprobe trap. */
#ifndef __STELLA_SAMPLING_BPF_H
#define __STELLA_SAMPLING_BPF_H

#include "stella/common.bpf.h"

/*
 * Events pass when bpf_get_prandom_u32() < threshold, i.e. threshold = rate * (2^32 - 1).
 * 0xffffffff (default) keeps every event without drawing a random number; 0 keeps none.
 */
const volatile __u32 stella_sample_threshold = 0xffffffff;

static __always_inline bool stella_should_sample(void)
{
	/* Both ends are decided at load time (const volatile): the verifier drops the other branch,
	 * so count-only objects never draw a random number. */
	if (stella_sample_threshold == 0xffffffff)
		return true;
	if (stella_sample_threshold == 0)
		return false;
	return bpf_get_prandom_u32() < stella_sample_threshold;
}

#endif /* __STELLA_SAMPLING_BPF_H */

// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * One value read at the call from the function's arguments, per probe: which algorithm a crypto
 * call runs (the NID at the start of OpenSSL's EVP_MD / EVP_CIPHER / EVP_PKEY, the enum GnuTLS
 * takes). User space decides per cookie, before load, what to read; the program never guesses:
 * a failed read is STELLA_ARG_UNREAD and a NULL pointer STELLA_ARG_NULL.
 *
 * Spec of one cookie, a __u32 in `stella_arg_reads` (0: read nothing):
 *   bits 0-3   argument number, 1 to 6 (the System V / AAPCS64 integer argument registers)
 *   bit  4     read a __u32 at (argument + offset) in the process's memory, not the argument itself
 *   bits 5-7   when that pointer is NULL: another argument number (1 to 6) whose first 8 bytes
 *              hold the pointer to read through instead (a context keeping the object from an
 *              earlier call, as EVP_CIPHER_CTX does its cipher); 0: NULL stays STELLA_ARG_NULL
 *   bits 16-31 that offset in bytes
 * Registers are read where the probe sits: user space keeps a probe at the function's entry when
 * placement would skip an instruction that writes the argument's register.
 */
#ifndef __STELLA_ARGUMENT_BPF_H
#define __STELLA_ARGUMENT_BPF_H

#include "stella/common.bpf.h"

#define STELLA_ARG_NUMBER_MASK 0xfu
#define STELLA_ARG_DEREF 0x10u
#define STELLA_ARG_FALLBACK_SHIFT 5
#define STELLA_ARG_FALLBACK_MASK 0x7u
#define STELLA_ARG_OFFSET_SHIFT 16

const volatile __u32 stella_arg_reads[STELLA_ARG_COOKIES] = {};

/*
 * The verifier refuses a context access at a variable offset, which is what clang makes of a
 * switch over the registers: all six are copied to the stack at fixed offsets, then indexed (a
 * power-of-two array and a mask, the bound the verifier follows; the caller allows 1 to 6 only).
 */
static __always_inline __u64 stella_arg_register(struct pt_regs *ctx, __u32 number)
{
	__u64 args[8] = {};

	args[0] = PT_REGS_PARM1(ctx);
	args[1] = PT_REGS_PARM2(ctx);
	args[2] = PT_REGS_PARM3(ctx);
	args[3] = PT_REGS_PARM4(ctx);
	args[4] = PT_REGS_PARM5(ctx);
	args[5] = PT_REGS_PARM6(ctx);
	return args[(number - 1) & 7];
}

/* The value cookie's spec asks for, STELLA_ARG_UNREAD when it asks for none or the read fails. */
static __always_inline __u32 stella_read_arg(struct pt_regs *ctx, __u64 cookie)
{
	__u32 spec, number, fallback, value;
	__u64 raw;

	if (cookie >= STELLA_ARG_COOKIES)
		return STELLA_ARG_UNREAD;
	spec = stella_arg_reads[cookie];
	number = spec & STELLA_ARG_NUMBER_MASK;
	if (number == 0 || number > 6)
		return STELLA_ARG_UNREAD;
	raw = stella_arg_register(ctx, number);
	if (!(spec & STELLA_ARG_DEREF))
		return (__u32)raw;
	fallback = (spec >> STELLA_ARG_FALLBACK_SHIFT) & STELLA_ARG_FALLBACK_MASK;
	if (raw == 0 && fallback >= 1 && fallback <= 6) {
		if (bpf_probe_read_user(&raw, sizeof(raw), (void *)stella_arg_register(ctx, fallback)))
			return STELLA_ARG_UNREAD;
	}
	if (raw == 0)
		return STELLA_ARG_NULL;
	if (bpf_probe_read_user(&value, sizeof(value), (void *)(raw + (spec >> STELLA_ARG_OFFSET_SHIFT))))
		return STELLA_ARG_UNREAD;
	return value;
}

#endif /* __STELLA_ARGUMENT_BPF_H */

// SPDX-License-Identifier: Apache-2.0
/**
 * Which x86-64 instructions the kernel executes itself when a uprobe fires on them, instead of
 * single-stepping a copy out of line. Read from arch/x86/kernel/uprobes.c of Linux 6.x
 * (`branch_setup_xol_ops`, `push_setup_xol_ops`, `is_prefix_bad`) and insn_is_nop() of
 * arch/x86/lib/insn.c; measured on this project's 6.18 machine at < 1 µs a hit against ~10 µs for
 * a single-stepped one (docs/KERNEL.md).
 *
 * Emulated:
 * - NOPs: `90` without an `f3` prefix (`f3 90` is `pause`), optionally after `66` prefixes, and the
 *   multi-byte `0f 1f /0` forms. 6.18 goes further for the 5-byte `0f 1f 44 00 00`: the breakpoint
 *   becomes a call into a trampoline, the cheapest probe of all.
 * - Relative branches: `jmp rel8` (`eb`), `jmp rel32` (`e9`), `call rel32` (`e8`), every `jcc`
 *   (`70`–`7f` and `0f 80`–`0f 8f`). The kernel refuses these with a `66` prefix (CALLW/JMPW differ
 *   between Intel and AMD) and then the uprobe cannot be attached at all.
 * - `push` of a 64-bit register: `50`–`57` alone, or `41 50`–`41 57` (r8–r15). No other REX form.
 *
 * Everything else is single-stepped: `mov`, `lea`, `test`, `sub`, `push $imm`, `ret`, `endbr64`,
 * `loop`/`jrcxz`, indirect jumps and calls. Instructions with an `es`/`cs`/`ss`/`ds` segment prefix
 * or `lock` cannot carry a uprobe at all (the kernel answers ENOTSUPP), which also rules out the
 * `66 2e 0f 1f 84 ...` padding NOP that compilers put between functions.
 */

const LEGACY_PREFIXES = new Set([0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x66, 0x67]);
const UNPROBEABLE_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0xf0]);

export type KernelHandling = 'emulated' | 'single-stepped' | 'refused';

/** How the kernel handles a uprobe on the instruction encoded by `bytes` (exactly its length). */
export function kernelHandling(bytes: Uint8Array): KernelHandling {
  let i = 0;
  const prefixes = new Set<number>();
  while (i < bytes.length && LEGACY_PREFIXES.has(bytes[i]!)) prefixes.add(bytes[i++]!);
  for (const p of prefixes) if (UNPROBEABLE_PREFIXES.has(p)) return 'refused';
  let rex = 0;
  if (i < bytes.length && (bytes[i]! & 0xf0) === 0x40) rex = bytes[i++]!;
  const opcode = bytes[i];
  const second = bytes[i + 1];
  if (opcode === undefined) return 'single-stepped';

  // `41 90` is `xchg %eax,%r8d`, not a NOP, although it would pass the kernel's opcode test: the
  // compilers never emit it at a function entry, and treating it as single-stepped is the safe side.
  if (opcode === 0x90 && !prefixes.has(0xf3) && rex === 0) return 'emulated';
  if (opcode === 0x0f && second === 0x1f) return 'emulated';

  const isBranch =
    opcode === 0xeb ||
    opcode === 0xe9 ||
    opcode === 0xe8 ||
    (opcode >= 0x70 && opcode <= 0x7f) ||
    (opcode === 0x0f && second !== undefined && second >= 0x80 && second <= 0x8f);
  if (isBranch) return prefixes.has(0x66) ? 'refused' : 'emulated';

  if (opcode >= 0x50 && opcode <= 0x57 && prefixes.size === 0 && (rex === 0 || rex === 0x41)) return 'emulated';
  return 'single-stepped';
}

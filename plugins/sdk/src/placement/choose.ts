// SPDX-License-Identifier: Apache-2.0
/**
 * The placement decision for one function, synchronous and pure given the file's reachable
 * addresses: walk the straight-line run from the entry to the first instruction the kernel
 * emulates and attach there when that is provably the same set of executions (see skippable.ts
 * and reachable-addresses.ts for the two halves of "provably"), else at the entry.
 */
import iced from 'iced-x86';
import { kernelHandling } from './kernel-emulation.js';
import { firstReachedWithin, type ReachableAddresses } from './reachable-addresses.js';
import { MAY_FAULT, type SkipContext, whyNotSkippable } from './skippable.js';
import type { PlacementOptions, UprobePlacement } from './types.js';

const { Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction, InstructionInfoFactory, OpAccess } = iced;
const { Register, RegisterExt } = iced;

/**
 * The longest run placement walks. Real entries reach their first branch, call or push within a
 * few instructions (`sub; mov %fs:0x28; mov; xor; test; js` is six); a longer run is more code
 * whose every path must be proven, for no more saving.
 */
export const MAX_SKIPPED_INSTRUCTIONS = 12;

// objdump's spelling, so a reason can be compared with `objdump -d` by eye.
const formatter = new Formatter(FormatterSyntax.Gas);
formatter.uppercaseHex = false;
formatter.branchLeadingZeros = false;
formatter.spaceAfterOperandSeparator = false;
const infoFactory = new InstructionInfoFactory();

export interface FunctionCode {
  /** The function's bytes from its entry (at least up to its size, or up to 256 bytes). */
  bytes: Uint8Array;
  /** Virtual address of the entry (what branch targets are compared with). */
  vaddr: number;
  /** File offset of the entry. */
  fileOffset: number;
  /** Symbol size in bytes; 0 when the symbol carries none. */
  size: number;
}

/** Where to put the entry uprobe of `code`; never throws on any bytes. */
export function placeInCode(
  code: FunctionCode,
  reachable: ReachableAddresses,
  context: SkipContext,
  options: PlacementOptions = {},
): UprobePlacement {
  const atEntry = (instruction: string, why: string, registersWritten: string[] = []): UprobePlacement => ({
    offset: code.fileOffset,
    delta: 0,
    instruction,
    kind: 'entry',
    reason: `entry: ${why}`,
    registersWritten,
  });
  const end = Math.min(code.size, code.bytes.length);
  if (code.size <= 0) return atEntry('', 'the symbol has no size, so its end is unknown');
  const decoder = new Decoder(64, code.bytes.subarray(0, end), DecoderOptions.None);
  decoder.ip = BigInt(code.vaddr);
  const instruction = new Instruction();
  const written = new Set<string>();
  let entryText = '';
  let firstFaultable: number | undefined;
  try {
    for (let step = 0; step <= MAX_SKIPPED_INSTRUCTIONS; step++) {
      const delta = decoder.position;
      if (!decoder.canDecode) {
        return atEntry(entryText, `no instruction the kernel emulates within the symbol's ${code.size} bytes`);
      }
      decoder.decodeOut(instruction);
      const text = formatter.format(instruction);
      if (step === 0) entryText = text;
      if (instruction.isInvalid)
        return atEntry(entryText, `${hex(code.bytes, delta, 4)} at +${delta} cannot be decoded`);
      if (delta + instruction.length > end)
        return atEntry(entryText, `${text} at +${delta} runs past the symbol's end`);
      const handling = kernelHandling(code.bytes.subarray(delta, delta + instruction.length));
      if (handling === 'emulated') {
        const mnemonic = formatter.formatMnemonic(instruction);
        if (delta === 0) {
          return { ...atEntry(text, ''), kind: 'emulated', reason: `entry, ${mnemonic}, emulated` };
        }
        const reached = firstReachedWithin(reachable, code.vaddr, code.vaddr + delta);
        if (reached) {
          const at = reached.address - code.vaddr;
          return atEntry(
            entryText,
            `+${at} is reached by ${reached.by}, so moving to +${delta} (${mnemonic}) would miss or add calls`,
          );
        }
        return {
          offset: code.fileOffset + delta,
          delta,
          instruction: text,
          kind: 'emulated',
          reason: `entry+${delta}, ${mnemonic}, emulated${firstFaultable === undefined ? '' : `, past a possible fault at +${firstFaultable}`}`,
          registersWritten: [...written],
        };
      }
      const why = whyNotSkippable(instruction, context);
      if (why === MAY_FAULT && options.allowFaultingAccess) firstFaultable ??= delta;
      else if (why) return atEntry(entryText, `${text} at +${delta} ${why} before any instruction the kernel emulates`);
      for (const used of infoFactory.info(instruction).usedRegisters() as InstanceType<typeof iced.UsedRegister>[]) {
        const access = used.access;
        if (access === OpAccess.Read || access === OpAccess.CondRead || access === OpAccess.None) continue;
        const full = RegisterExt.fullRegister(used.register);
        if (full !== Register.RIP && full !== Register.None)
          written.add(formatter.formatRegister(full).replace(/^%/, ''));
      }
    }
    return atEntry(
      entryText,
      `no instruction the kernel emulates within the first ${MAX_SKIPPED_INSTRUCTIONS} instructions`,
    );
  } finally {
    decoder.free();
    instruction.free();
  }
}

function hex(bytes: Uint8Array, from: number, count: number): string {
  return Buffer.from(bytes.subarray(from, from + count)).toString('hex');
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Every address of a file that code can be seen to reach other than by falling through: targets
 * of direct jumps, conditional jumps, calls, `loop`/`jrcxz` and `xbegin` in all executable
 * sections; addresses taken with a `%rip`-relative `lea`; addresses stored by relative
 * relocations (function pointers of a PIC library); and the start of every function symbol. A
 * probe moved past the entry must not skip over any of them.
 *
 * What stays invisible: computed jumps whose targets live in tables (`switch` jump tables hold
 * offsets, not relocations), absolute addresses in a non-PIC executable's data, and code that
 * builds an address by arithmetic. Compilers do not aim those at the instructions between a
 * function's entry and its first branch, but it is not proven: docs/KERNEL.md says so.
 *
 * A linear sweep decodes data embedded in `.text` as instructions too; that only adds addresses
 * (more refusals), and x86 decoding falls back into step within a few instructions.
 */
import iced from 'iced-x86';
import type { ElfCode } from './elf-code.js';

const { Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind } = iced;

/** Bytes of code decoded per chunk. */
const CHUNK_BYTES = 1 << 20;

export const REACHED_BY = ['a direct branch', 'a %rip-relative lea', 'a relocation', 'a function symbol'] as const;
export type ReachedBy = (typeof REACHED_BY)[number];

/** Sorted; each entry is `address * 4 + kind` (index into REACHED_BY), exact below 2^51. */
export interface ReachableAddresses {
  encoded: Float64Array;
  /** Instructions decoded, for the benchmark and the scan's log line. */
  instructions: number;
}

export function scanReachableAddresses(elf: ElfCode): ReachableAddresses {
  const found: number[] = [];
  const instruction = new Instruction();
  let instructions = 0;
  for (const section of elf.executableSections) {
    // In chunks: the decoder copies its input into WebAssembly memory, which never shrinks, and
    // node's executable has ~40 MB of code.
    for (let start = 0; start < section.size; ) {
      const length = Math.min(CHUNK_BYTES, section.size - start);
      const last = start + length === section.size;
      const decoder = new Decoder(64, elf.read(section.offset + start, length), DecoderOptions.None);
      decoder.ip = BigInt(section.vaddr + start);
      try {
        // Stop short of the chunk's end (an instruction is at most 15 bytes) unless it is the last.
        while (decoder.canDecode && (last || decoder.position <= length - 15)) {
          decoder.decodeOut(instruction);
          instructions++;
          const flow = instruction.flowControl;
          if (flow === FlowControl.Next) {
            if (instruction.mnemonic === Mnemonic.Lea && instruction.isIpRelMemoryOperand) {
              found.push(Number(instruction.ipRelMemoryAddress) * 4 + 1);
            }
          } else if (
            (flow === FlowControl.UnconditionalBranch ||
              flow === FlowControl.ConditionalBranch ||
              flow === FlowControl.Call ||
              flow === FlowControl.XbeginXabortXend) &&
            instruction.op0Kind === OpKind.NearBranch64
          ) {
            found.push(Number(instruction.nearBranchTarget) * 4);
          }
        }
        start += last ? length : decoder.position;
      } finally {
        decoder.free();
      }
    }
  }
  instruction.free();
  for (const address of elf.relocatedAddresses) found.push(address * 4 + 2);
  for (const address of elf.functionsAt.keys()) found.push(address * 4 + 3);
  const encoded = Float64Array.from(found).sort();
  return { encoded, instructions };
}

/** The first reachable address in (from, to], with what reaches it. */
export function firstReachedWithin(
  reachable: ReachableAddresses,
  from: number,
  to: number,
): { address: number; by: ReachedBy } | undefined {
  const { encoded } = reachable;
  // Lowest index whose address is > from, i.e. whose encoding is >= (from + 1) * 4.
  let lo = 0;
  let hi = encoded.length;
  const key = (from + 1) * 4;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (encoded[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  const hit = encoded[lo];
  if (hit === undefined) return undefined;
  const address = Math.floor(hit / 4);
  if (address > to) return undefined;
  return { address, by: REACHED_BY[hit - address * 4]! };
}

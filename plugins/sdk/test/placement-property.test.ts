// SPDX-License-Identifier: Apache-2.0
/**
 * Property: whatever bytes a function starts with and whatever addresses the file reaches, a
 * placement past the entry lands on an instruction the kernel emulates, after a run of
 * instructions that all fall through, inside the symbol, with no reachable address skipped.
 */
import fc from 'fast-check';
import iced from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { placeInCode } from '../src/placement/choose.js';
import { kernelHandling } from '../src/placement/kernel-emulation.js';

const { Decoder, DecoderOptions, FlowControl } = iced;
const ENTRY = 0x401000;

// Bytes biased towards what function entries hold, so that runs past the entry are common.
const PIECES = [
  '4885d2', // test %rdx,%rdx
  '4889f8', // mov %rdi,%rax
  '31d2', // xor %edx,%edx
  '4883ec18', // sub $0x18,%rsp
  '64488b042528000000', // mov %fs:0x28,%rax
  '4889442408', // mov %rax,0x8(%rsp)
  '488b07', // mov (%rdi),%rax
  '48f7f6', // div %rsi
  '7410', // je
  'eb05', // jmp
  'e800000000', // call
  '53', // push %rbx
  '6a00', // push $0
  'c3', // ret
  'ffe0', // jmp *%rax
  '0f1f440000', // nopl
  '66e80000', // callw
  'f30f1efa', // endbr64
];
const code = fc
  .array(
    fc.oneof(
      fc.constantFrom(...PIECES).map((h) => [...Buffer.from(h, 'hex')]),
      fc.array(fc.nat(255), { maxLength: 4 }),
    ),
    {
      minLength: 1,
      maxLength: 12,
    },
  )
  .map((parts) => Uint8Array.from(parts.flat()));

describe.each([false, true])('placeInCode (property), allowFaultingAccess: %s', (allowFaultingAccess) => {
  it('never moves past an instruction that branches, may fault, or is reached from elsewhere', () => {
    fc.assert(
      fc.property(code, fc.array(fc.nat(63)), fc.nat(80), (bytes, reachedOffsets, sizeCut) => {
        const size = Math.min(bytes.length, sizeCut);
        const encoded = Float64Array.from(reachedOffsets.map((o) => (ENTRY + o) * 4)).sort();
        const placement = placeInCode(
          { bytes, vaddr: ENTRY, fileOffset: 0x1000, size },
          { encoded, instructions: 0 },
          { isMapped: () => false },
          { allowFaultingAccess },
        );
        expect(placement.offset).toBe(0x1000 + placement.delta);
        if (placement.kind === 'entry') {
          expect(placement.delta).toBe(0);
          expect(placement.reason.startsWith('entry: ')).toBe(true);
          return;
        }
        const decoder = new Decoder(64, bytes, DecoderOptions.None);
        decoder.ip = BigInt(ENTRY);
        try {
          while (decoder.position < placement.delta) {
            const at = decoder.position;
            const instruction = decoder.decode();
            expect(instruction.isInvalid).toBe(false);
            expect(instruction.flowControl).toBe(FlowControl.Next);
            expect(kernelHandling(bytes.subarray(at, at + instruction.length))).not.toBe('emulated');
            const throughRdi =
              instruction.opKind(0) === iced.OpKind.Memory && instruction.memoryBase === iced.Register.RDI;
            if (!allowFaultingAccess) expect(throughRdi).toBe(false);
            expect(instruction.mnemonic).not.toBe(iced.Mnemonic.Div);
            instruction.free();
          }
          expect(decoder.position).toBe(placement.delta);
          const chosen = decoder.decode();
          expect(placement.delta + chosen.length).toBeLessThanOrEqual(size);
          expect(kernelHandling(bytes.subarray(placement.delta, placement.delta + chosen.length))).toBe('emulated');
          chosen.free();
        } finally {
          decoder.free();
        }
        for (const o of reachedOffsets) expect(o > 0 && o <= placement.delta).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});

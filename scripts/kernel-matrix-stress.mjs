// SPDX-License-Identifier: Apache-2.0
// A guest-stability check for scripts/kernel-matrix.sh (docs/KERNELS.md, "Why single-threaded
// TCG"): decodes the first 2 MB of libcrypto with iced-x86 (WebAssembly) and does some JIT-compiled
// float work, round after round, and exits 3 when a round's result differs from the first. Run
// several at once in a guest so the vCPUs interleave:
//   STELLA_MATRIX_COMMAND='for i in 1 2; do node scripts/kernel-matrix-stress.mjs 45 & done; wait; dmesg | grep -c "fatal signal"' \
//     STELLA_MATRIX_ACCEL=tcg STELLA_MATRIX_CPU=Nehalem-v2 bash scripts/kernel-matrix.sh 6.12
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const iced = createRequire(new URL('../plugins/sdk/package.json', import.meta.url))('iced-x86');
const { Decoder, DecoderOptions, Instruction } = iced;
const bytes = readFileSync('/usr/lib/x86_64-linux-gnu/libcrypto.so.3').subarray(0, 2 << 20);
const end = Date.now() + Number(process.argv[2] ?? 60) * 1000;
let first;
let rounds = 0;
while (Date.now() < end) {
  let sum = 0n;
  let decoded = 0;
  const instruction = new Instruction();
  for (let start = 0; start < bytes.length; start += 1 << 18) {
    const decoder = new Decoder(64, bytes.subarray(start, start + (1 << 18)), DecoderOptions.None);
    decoder.ip = BigInt(start);
    while (decoder.canDecode) {
      decoder.decodeOut(instruction);
      decoded++;
      sum += BigInt(instruction.length * 7 + instruction.mnemonic) ^ decoder.ip;
    }
    decoder.free();
  }
  instruction.free();
  let float = 0;
  for (let i = 1; i < 2e6; i++) float += Math.sqrt(i) / i;
  const result = `${decoded}:${sum}:${float}`;
  if (first === undefined) first = result;
  else if (result !== first) {
    console.log(`round ${rounds} gave ${result}, round 0 gave ${first}`);
    process.exit(3);
  }
  rounds++;
}
console.log(`ok: ${rounds} rounds, each ${first}`);

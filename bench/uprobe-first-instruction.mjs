#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * What a uprobe hit costs by the first instruction at the probed address (docs/KERNEL.md §2): a
 * `push` (emulated, the baseline), a 5-byte NOP (turned into a trampoline call on 6.x), a `mov`
 * and an `endbr64` (both single-stepped). Each function is called back to back with no probe and
 * under a bpftrace uprobe that only counts, paired round by round; the counts are checked against
 * the calls. Needs root and bpftrace; run under the kernel lock on a shared machine.
 *
 *   node bench/uprobe-first-instruction.mjs [--calls 200000] [--rounds 3]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { interruptBpftrace } from '@stella/sdk/testing';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' } },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const FUNCTIONS = [
  ['f_push', '`push %rbx` (emulated)'],
  ['f_nop5', '5-byte NOP'],
  ['f_mov', '`mov %edi,%eax` (single-stepped)'],
  ['f_endbr', '`endbr64` (single-stepped)'],
];
const work = mkdtempSync(join(tmpdir(), 'stella-bench-trap-'));
const loop = join(work, 'trap_loop');
execFileSync('gcc', ['-O2', '-o', loop, join(here, 'uprobe-first-instruction/trap_loop.c')]);

/** Lines of a child's stdout, one at a time. */
function lines(stream) {
  const iterator = createInterface({ input: stream })[Symbol.asyncIterator]();
  return async () => (await iterator.next()).value;
}

/** One run of the loop: ns per call of each function, and bpftrace's counts when probed. */
async function run(probed) {
  const child = spawn(loop, [String(CALLS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const next = lines(child.stdout);
  const pid = Number((await next()).split(' ')[1]);
  let tracer;
  let traced = '';
  if (probed) {
    const probes = FUNCTIONS.map(([name]) => `uprobe:${loop}:${name}`).join(',');
    // BEGIN runs once every probe is attached: calls made before it would not be counted.
    const program = `BEGIN { printf("attached\\n"); } ${probes} /pid == ${pid}/ { @[probe] = count(); }`;
    tracer = spawn('bpftrace', ['-e', program]);
    // "Attaching N probes..." and the counts: stdout or stderr depending on the bpftrace version.
    for (const stream of [tracer.stdout, tracer.stderr]) {
      stream.on('data', (chunk) => {
        traced += chunk;
      });
    }
    let gone = false;
    tracer.on('exit', () => {
      gone = true;
    });
    while (!traced.includes('attached')) {
      if (gone) throw new Error(`bpftrace exited before attaching: ${traced.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.stdin.write('go\n');
  const perCall = {};
  for (let k = 0; k < FUNCTIONS.length; k++) {
    const [name, ns] = (await next()).split(' ');
    perCall[name] = Number(ns);
  }
  if (tracer) {
    await interruptBpftrace(tracer);
    for (const [name] of FUNCTIONS) {
      const count = Number(new RegExp(`:${name}\\]: (\\d+)`).exec(traced)?.[1]);
      if (count !== CALLS) throw new Error(`bpftrace counted ${count} calls of ${name}, not ${CALLS}`);
    }
  }
  return perCall;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = { plain: [], probed: [] };
for (let round = 0; round < ROUNDS; round++) {
  samples.plain.push(await run(false));
  samples.probed.push(await run(true));
}
rmSync(work, { recursive: true, force: true });

const added = Object.fromEntries(
  FUNCTIONS.map(([name]) => [
    name,
    median(samples.probed.map((s) => s[name])) - median(samples.plain.map((s) => s[name])),
  ]),
);
console.log(`${CALLS.toLocaleString('en')} calls a function, medians of ${ROUNDS} rounds, bpftrace count()`);
console.log('| first instruction | plain ns/call | probed ns/call | added ns/call | added vs `push` |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, label] of FUNCTIONS) {
  const plain = median(samples.plain.map((s) => s[name]));
  const probed = median(samples.probed.map((s) => s[name]));
  console.log(
    `| ${label} | ${plain.toFixed(1)} | ${probed.toFixed(0)} | ${added[name].toFixed(0)} | ${(added[name] / added.f_push).toFixed(2)}× |`,
  );
}

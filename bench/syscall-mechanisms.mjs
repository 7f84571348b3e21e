#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * What each way of seeing a syscall costs per call on this kernel: a kprobe, an fentry program and
 * the syscall tracepoint on recvfrom (a net call made cheap: EAGAIN at once on an empty socket),
 * each running the same body (count the hits of one process; syscall-mechanisms/bpf/), against no
 * probe at all. Rounds interleave the modes on one long-lived C loop; medians are printed with each mechanism's added ns per call and
 * its ratio to the tracepoint's. Every round checks the BPF count equals the calls made, so a
 * mechanism that silently missed hits cannot look cheap. Mechanisms this kernel lacks are left out
 * and say why. The kernel matrix runs it in its guests for docs/KERNELS.md's choice order:
 *
 *   node bench/syscall-mechanisms.mjs [--calls 200000] [--rounds 5]      (root, built tree)
 *   STELLA_MATRIX_COMMAND='node bench/syscall-mechanisms.mjs' bash scripts/kernel-matrix.sh 6.12
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BpfObject, detectKernelFeatures } from '../bpf/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);

execFileSync(process.execPath, [
  join(here, '../plugins/sdk/scripts/build-bpf.mjs'),
  '--quiet',
  join(here, 'syscall-mechanisms'),
]);
const work = mkdtempSync(join(tmpdir(), 'stella-bench-mechanisms-'));
const loopPath = join(work, 'syscall_loop');
execFileSync('gcc', ['-O2', '-o', loopPath, join(here, 'probes-syscall', 'syscall_loop.c')]);
const child = spawn(loopPath, [], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = [];
const waiters = [];
createInterface({ input: child.stdout }).on('line', (line) => {
  const waiter = waiters.shift();
  if (waiter) waiter(line);
  else lines.push(line);
});
const next = () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));
const pid = Number((await next()).split(' ')[1]);
const timeCalls = async () => {
  child.stdin.write(`recvfrom ${CALLS}\n`);
  return Number(await next());
};

const features = detectKernelFeatures({ trialLoadFentry: true });
const available = {
  kprobe: features.kprobes ? undefined : 'no kprobes in this kernel',
  fentry: features.fentry ? undefined : 'fentry programs do not load here',
  tracepoint: features.syscallTracepoints ? undefined : 'no syscall tracepoints',
};
const modes = ['none', ...Object.keys(available).filter((m) => available[m] === undefined)];

const obj = new BpfObject(join(here, 'syscall-mechanisms/bpf/mechanisms.bpf.o'));
obj.setGlobal('target_tgid', pid);
for (const mechanism of Object.keys(available))
  if (available[mechanism] !== undefined) obj.setAutoload(`mechanism_${mechanism}`, false);
obj.load();
// A program can load and still not attach (5.10: fentry on the syscall wrapper gives ENOENT).
for (const mechanism of modes.slice(1)) {
  try {
    obj.attachAuto(`mechanism_${mechanism}`).destroy();
  } catch (error) {
    available[mechanism] = `loads, but ${error.message}`;
    modes.splice(modes.indexOf(mechanism), 1);
  }
}
const hits = () => obj.mapLookup('.bss', Buffer.alloc(4)).readBigUInt64LE(0);

const samples = Object.fromEntries(modes.map((m) => [m, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of [...modes]) {
      let link;
      try {
        link = mode === 'none' ? undefined : obj.attachAuto(`mechanism_${mode}`);
      } catch (error) {
        // Seen on 5.10: fentry attaches once, and again after a detach fails with ENOENT.
        available[mode] = `attaches once, then ${error.message} (round ${round + 1})`;
        modes.splice(modes.indexOf(mode), 1);
        continue;
      }
      const before = hits();
      try {
        samples[mode].push(await timeCalls());
      } finally {
        link?.destroy();
      }
      const counted = hits() - before;
      const expected = mode === 'none' ? 0n : BigInt(CALLS);
      if (counted !== expected) throw new Error(`${mode}: counted ${counted} hits for ${expected} calls`);
    }
  }
} finally {
  child.stdin.end();
  obj.close();
  rmSync(work, { recursive: true, force: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(samples.none);
const added = (mode) => median(samples[mode]) - base;
console.log(`kernel ${features.kernelRelease}: recvfrom, ${CALLS} calls × ${ROUNDS} rounds, medians`);
console.log("| mechanism | ns per call | added ns | added ÷ tracepoint's |");
console.log('|---|---:|---:|---:|');
for (const mode of modes) {
  const ratio =
    mode === 'none' || !modes.includes('tracepoint') ? '' : `${(added(mode) / added('tracepoint')).toFixed(2)}×`;
  console.log(
    `| ${mode} | ${median(samples[mode]).toFixed(1)} | ${mode === 'none' ? '' : added(mode).toFixed(1)} | ${ratio} |`,
  );
}
for (const [mechanism, why] of Object.entries(available))
  if (why) console.log(`| ${mechanism} | — | — | not here: ${why} |`);

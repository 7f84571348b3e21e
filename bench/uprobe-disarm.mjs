#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * What it costs to stop a uprobe trapping in one process and to re-arm it (presence mode, issue 11),
 * on this kernel, against the unwatched workload as the baseline in the same run:
 *
 *   - cost per call unwatched, armed at an emulated entry (`push`), armed one instruction later
 *     (`mov`, single-stepped), and after the link is released;
 *   - whether a BPF program returning 1 (UPROBE_HANDLER_REMOVE) disarms anything (uprobe_multi and
 *     perf-event uprobes): hits after two runs of N calls, and the cost per call;
 *   - whether another process running the same file pays while one process is armed;
 *   - time to re-arm (a pid-scoped uprobe_multi link with 1 and with 25 offsets) and to release
 *     (one link; 32 links at once on worker threads; 32 perf-event uprobes at once).
 *
 *   node bench/uprobe-disarm.mjs [--calls 200000] [--rounds 5]
 *
 * Needs root and a built tree (npm run build). Run under the kernel lock. Prints a markdown table.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BpfObject } from '../bpf/dist/index.js';
import { readElfSymbols } from '../plugins/sdk/dist/index.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(repo, 'bpf/build/fixtures/multi_target');
const disarmObject = join(repo, 'bpf/test/fixtures/disarm.bpf.o');
const { values } = parseArgs({
  options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const calls = Number(values.calls);
const rounds = Number(values.rounds);

function startWorkload() {
  const child = spawn(target, [], { stdio: 'pipe' });
  const lines = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const w = waiters.shift();
    if (w) w(line);
    else lines.push(line);
  });
  const next = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));
  return {
    pid: child.pid,
    ready: next(),
    /** Nanoseconds per call of stella_multi_a over `n` calls (median of `rounds`). */
    async nsPerCall(n = calls) {
      const samples = [];
      for (let i = 0; i < rounds; i++) {
        const t0 = process.hrtime.bigint();
        child.stdin.write(`run ${n} 0 0\n`);
        await next();
        samples.push(Number(process.hrtime.bigint() - t0) / n);
      }
      return samples.sort((a, b) => a - b)[samples.length >> 1];
    },
    /** Forks a child that makes `n` calls; resolves with the child's own ns per call. */
    async forkChild(n) {
      child.stdin.write(`fork ${n}\n`);
      const line = await next();
      await next(); // done
      return Number(/^child ([\d.]+)$/.exec(line)[1]);
    },
    async run(n) {
      child.stdin.write(`run ${n} 0 0\n`);
      await next();
    },
    end: () => child.stdin.end(),
  };
}

const symbolOffset = (name) =>
  Number.parseInt(
    new RegExp(`^([0-9a-f]+) T ${name}$`, 'm').exec(execFileSync('nm', [target], { encoding: 'utf8' }))[1],
    16,
  );
const entry = symbolOffset('stella_multi_a');
const ms = (t0) => (performance.now() - t0).toFixed(1);
const rows = [];
const row = (what, value, note = '') => rows.push(`| ${what} | ${value} | ${note} |`);

const obj = new BpfObject(disarmObject);
obj.load();
const w = await startWorkload();
await w.ready;
const other = await startWorkload();
await other.ready;

const baseline = await w.nsPerCall();
row('unwatched call', `${baseline.toFixed(1)} ns`, 'baseline');

const multi = (offsets, program = 'disarm_multi_count', pid = w.pid) =>
  obj.attachUprobeMulti({ program, binaryPath: target, offsets, pid });

const counted = () =>
  obj.mapLookupPerCpu('disarm_counter', Buffer.alloc(4)).reduce((n, v) => n + v.readBigUInt64LE(0), 0n);
let t0 = performance.now();
let link = await multi([entry]);
row('re-arm: attach a pid-scoped uprobe_multi link, 1 offset', `${ms(t0)} ms`, 'worker thread');
const armedPush = await w.nsPerCall();
row(
  'armed at entry (`push`, emulated)',
  `${armedPush.toFixed(0)} ns`,
  `${(armedPush / baseline).toFixed(0)}× unwatched`,
);
const otherWhileArmed = await other.nsPerCall();
row('another process, same file, while armed', `${otherWhileArmed.toFixed(1)} ns`, 'the breakpoint is per mm');
const countedBeforeFork = counted();
const forkedChild = await w.forkChild(calls);
const countedInChild = counted() - countedBeforeFork;
row(
  'a child forked by the armed process',
  `${forkedChild.toFixed(0)} ns`,
  `inherits the breakpoint; ${countedInChild} of ${calls} calls counted`,
);
t0 = performance.now();
await link.destroyAsync();
row('disarm: release that link', `${ms(t0)} ms`, 'one grace period, off the event loop');
const afterRelease = await w.nsPerCall();
const forkedAfter = await w.forkChild(calls);
row('a child forked after the release', `${forkedAfter.toFixed(1)} ns`, '');
row('after release', `${afterRelease.toFixed(1)} ns`, `${(afterRelease / baseline).toFixed(2)}× unwatched`);

// The kernel takes the breakpoint out before the release waits for its grace period.
link = await multi([entry]);
let released = false;
const releasing = link.destroyAsync().then(() => {
  released = true;
});
await new Promise((r) => setTimeout(r, 3));
const before = counted();
await w.run(1000);
const trappedDuringRelease = counted() - before;
const stateThen = released ? 'release already done' : 'release still waiting';
await releasing;
row('calls trapped 3 ms into a release (1000 calls)', `${trappedDuringRelease}`, stateThen);

link = await multi([entry + 1]);
const armedMov = await w.nsPerCall(calls / 4);
row(
  'armed at entry+1 (`mov`, single-stepped)',
  `${armedMov.toFixed(0)} ns`,
  `${(armedMov / armedPush).toFixed(1)}× the emulated entry`,
);
await link.destroyAsync();

// A program that returns UPROBE_HANDLER_REMOVE: does the breakpoint go?
const bss = () => obj.mapLookup('.bss', Buffer.alloc(4));
const globals = new Map(obj.globals().map((g) => [g.name, g.offset]));
link = await multi([entry], 'disarm_multi_return_remove');
await w.run(calls);
const returnOneNs = await w.nsPerCall();
const multiHits = bss().readBigUInt64LE(globals.get('disarm_multi_hits'));
row(
  'uprobe_multi program returning 1: hits after 1 + rounds runs',
  `${multiHits} of ${calls * (1 + rounds)}`,
  `still ${returnOneNs.toFixed(0)} ns a call: not disarmed`,
);
await link.destroyAsync();
const perfLink = await obj.attachUprobeAsync({
  program: 'disarm_perf_return_remove',
  binaryPath: target,
  offset: entry,
  pid: w.pid,
});
await w.run(calls);
await w.run(calls);
const perfHits = bss().readBigUInt64LE(globals.get('disarm_perf_hits'));
row('perf-event uprobe program returning 1: hits after 2 runs', `${perfHits} of ${calls * 2}`, 'not disarmed');
await perfLink.destroyAsync();

// Re-arm with a library's worth of offsets.
const libc = /\s(\/\S*\/libc\.so\.6)$/m.exec(readFileSync(`/proc/${w.pid}/maps`, 'utf8'))[1];
const elf = readElfSymbols(libc);
const libcOffsets = [
  ...new Set(
    ['getpid', 'getppid', 'getuid', 'geteuid', 'getgid', 'getegid', 'sched_yield', 'sync', 'umask']
      .concat([...elf.dynamicFunctions].sort().slice(0, 40))
      .map((n) => elf.offsetOf(n))
      .filter((o) => o !== undefined),
  ),
].slice(0, 25);
t0 = performance.now();
link = await obj.attachUprobeMulti({
  program: 'disarm_multi_count',
  binaryPath: libc,
  offsets: libcOffsets,
  pid: w.pid,
});
row(`re-arm: pid-scoped uprobe_multi on libc, ${libcOffsets.length} offsets`, `${ms(t0)} ms`, '');
t0 = performance.now();
await link.destroyAsync();
row(`disarm: release it`, `${ms(t0)} ms`, '');

// Many releases at once: uprobe_multi links vs perf-event uprobes.
const many = 32;
const multiLinks = await Promise.all(Array.from({ length: many }, () => multi([entry])));
t0 = performance.now();
await Promise.all(multiLinks.map((l) => l.destroyAsync()));
row(`release ${many} single-offset uprobe_multi links at once`, `${ms(t0)} ms`, 'worker threads in parallel');
const perfLinks = await Promise.all(
  Array.from({ length: many }, () =>
    obj.attachUprobeAsync({ program: 'disarm_perf_return_remove', binaryPath: target, offset: entry, pid: w.pid }),
  ),
);
t0 = performance.now();
await Promise.all(perfLinks.map((l) => l.destroyAsync()));
row(`release ${many} perf-event uprobes at once`, `${ms(t0)} ms`, 'worker threads in parallel');

// Agent stop with 256 probes: one uprobe_multi link per library releases them all in one period.
const all = [...new Set([...elf.dynamicFunctions].map((n) => elf.offsetOf(n)).filter((o) => o !== undefined))];
const stopLink = await obj.attachUprobeMulti({
  program: 'disarm_multi_count',
  binaryPath: libc,
  offsets: all.slice(0, 256),
  pid: w.pid,
});
t0 = performance.now();
await stopLink.destroyAsync();
row('release one uprobe_multi link with 256 libc offsets', `${ms(t0)} ms`, 'what stopping 256 probes costs');

await obj.closeAsync();
w.end();
other.end();
console.log(
  `uprobe disarm and re-arm on ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, ${calls} calls a sample, median of ${rounds}\n`,
);
console.log('| measure | value | note |\n|---|---|---|');
console.log(rows.join('\n'));

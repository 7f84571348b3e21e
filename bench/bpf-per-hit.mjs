#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * In-kernel run time per hit of the generic call program (`stella_uprobe_call`) beside a bpftrace
 * `uprobe:…{ @[pid] = count(); }` on the same function and process, from the kernel's own BPF
 * statistics (kernel.bpf_stats_enabled=1: run_time_ns / run_cnt of each program). The uprobe trap
 * itself is not in these numbers (it is the same for both): this is what the program adds.
 *
 * Modes of our program, each with the kernel filtering by target pid (as the agent runs it):
 *   count       aggregation on, no per-call event (every probe of an aggregating agent)
 *   count-only  aggregation off, the probe's cookie flagged count-only: counted in stella_agg, no
 *               event (a hot function in count mode while per-call events are on)
 *   per-call    one ring-buffer event per call
 * Rounds alternate ours and bpftrace's on one workload; medians are printed with the ratio.
 *
 *   node bench/bpf-per-hit.mjs [--calls 200000] [--rounds 5]
 *
 * bpftrace names its program after the probed function. Needs root, bpftool, bpftrace and a built tree (npm run build). Prints a markdown table.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { interruptBpftrace } from '@stella/sdk/testing';
import { BpfObject, StellaGlobals, samplingThreshold } from '../bpf/dist/index.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtureObject = join(repo, 'bpf/test/fixtures/fixture.bpf.o');
const callTarget = join(repo, 'bpf/build/fixtures/call_target');
const SYMBOL = 'stella_fixture_work';
const { values } = parseArgs({
  options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);

const STATS = '/proc/sys/kernel/bpf_stats_enabled';
const statsBefore = readFileSync(STATS, 'utf8').trim();
writeFileSync(STATS, '1');
process.on('exit', () => writeFileSync(STATS, statsBefore));

/** The call_target fixture: `call N` makes N calls and answers `done N`. */
function startWorkload() {
  const child = spawn(callTarget, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const waiters = [];
  child.stdout.on('data', (d) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  const line = async (re) => {
    while (!re.test(out)) await new Promise((r) => waiters.push(r));
    const m = re.exec(out);
    out = out.slice(m.index + m[0].length);
    return m;
  };
  return {
    child,
    ready: () => line(/ready (\d+)\n/),
    call: async (n) => {
      child.stdin.write(`call ${n}\n`);
      await line(/done \d+\n/);
    },
    end: () => child.stdin.end(),
  };
}

/**
 * run_time_ns / run_cnt of the programs named `name` (bpftool shows 15 characters) that process
 * `pid` holds open: their ids come from /proc/PID/fdinfo, so other processes' programs of the
 * same name (other tests on the machine) are not counted.
 */
function programStats(pid, name) {
  const ids = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const id = /prog_id:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
      if (id) ids.add(id);
    } catch {}
  }
  let ns = 0;
  let cnt = 0;
  for (const id of ids) {
    const prog = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', id], { encoding: 'utf8' }));
    if (!prog.name?.startsWith(name.slice(0, 15))) continue;
    ns += prog.run_time_ns ?? 0;
    cnt += prog.run_cnt ?? 0;
  }
  if (cnt === 0) throw new Error(`no run of a program ${name} held by pid ${pid}`);
  return { ns, cnt };
}

async function ours(mode, workloadPid, call) {
  const obj = new BpfObject(fixtureObject);
  obj.setGlobal(StellaGlobals.filterTargets, 1);
  obj.setGlobal(StellaGlobals.aggregate, mode === 'count');
  obj.setGlobal(StellaGlobals.sampleThreshold, samplingThreshold(mode === 'count' ? 0 : 1));
  obj.load();
  const pidKey = Buffer.alloc(4);
  pidKey.writeUInt32LE(workloadPid);
  obj.mapUpdate('stella_target_pids', pidKey, Buffer.alloc(4));
  const consumer = obj.consumeRingBuffer('stella_events', () => {});
  const link = obj.attachUprobe({
    program: 'stella_uprobe_call',
    binaryPath: callTarget,
    symbol: SYMBOL,
    pid: workloadPid,
    cookie: mode === 'count-only' ? COUNT_ONLY_COOKIE : 1n,
  });
  await call(CALLS);
  // bpftool names a program by its first 15 characters.
  const { ns, cnt } = programStats(process.pid, 'stella_uprobe_call');
  link.destroy();
  await consumer.stop();
  obj.close();
  if (cnt !== CALLS) throw new Error(`ours ran ${cnt} times for ${CALLS} calls`);
  return ns / cnt;
}

async function bpftrace(workloadPid, call) {
  const child = spawn(
    'bpftrace',
    [
      '-B',
      'line',
      '-e',
      `uprobe:${callTarget}:${SYMBOL} /pid == ${workloadPid}/ { @[pid] = count(); } BEGIN { printf("armed\\n"); }`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('armed')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bpftrace exited ${code}`)));
  });
  await call(CALLS);
  const { ns, cnt } = programStats(child.pid, SYMBOL);
  await interruptBpftrace(child);
  if (cnt !== CALLS) throw new Error(`bpftrace ran ${cnt} times for ${CALLS} calls`);
  return ns / cnt;
}

/** Request index 1 with the count-only flag (`STELLA_COOKIE_COUNT_ONLY` above `STELLA_COOKIE_FLAGS_SHIFT`). */
const COUNT_ONLY_COOKIE = (1n << 32n) | 1n;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const workload = startWorkload();
const pid = Number((await workload.ready())[1]);
const results = { count: [], 'count-only': [], 'per-call': [], bpftrace: [] };
for (let round = 0; round < ROUNDS; round++) {
  results.bpftrace.push(await bpftrace(pid, workload.call));
  results.count.push(await ours('count', pid, workload.call));
  results['count-only'].push(await ours('count-only', pid, workload.call));
  results['per-call'].push(await ours('per-call', pid, workload.call));
}
workload.end();
const base = median(results.bpftrace);
console.log(`\n${CALLS} calls of ${SYMBOL} per run, ${ROUNDS} rounds, medians (kernel bpf_stats)\n`);
console.log('| program | ns per hit | vs bpftrace count() |');
console.log('|---|---:|---:|');
for (const [name, xs] of Object.entries(results)) {
  const label = name === 'bpftrace' ? 'bpftrace `@[pid] = count()`' : `stella_uprobe_call, ${name}`;
  console.log(`| ${label} | ${median(xs).toFixed(0)} | ${(median(xs) / base).toFixed(2)}× |`);
}

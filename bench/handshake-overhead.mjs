#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * What a watched service pays: TLS 1.3 handshakes made in one process (Python `ssl`, client and
 * server over MemoryBIO, ECDSA P-256; CPU-bound, no network waits), timed by the service itself,
 * unwatched and while each probe set watches it:
 *   - none:              no probe;
 *   - bpftrace:          bpftrace `count()` on the same functions, filtered by the same pid;
 *   - agent:             the agent, every function in count mode (exact): functions the catalogue
 *                        marks hot counted in the kernel (one record per window), the rest one
 *                        event per call;
 *   - agent-aggregated:  every function in count mode with aggregation_window_ms (exact in-kernel
 *                        counts, no per-call event);
 *   - agent-default:     the agent as configured out of the box: catalogue functions marked hot in
 *                        presence mode, the rest counted;
 *   - agent-presence:    every function in presence mode (stops trapping once seen in a window).
 * The map is the one a user gets from a Debian host SBOM with `--hot-functions 'tls/*'
 * --hot-functions 'crypto/*'` (25 of its calls are in libssl/libcrypto, the libraries Python uses).
 * Modes run interleaved round by round; the table gives medians and ratios to `none` from this run,
 * of wall time (what the service sees, tracers' own processes included) and of the service's own
 * CPU time (traps and BPF programs run in it; steady when other work on the machine competes).
 *
 *   node bench/handshake-overhead.mjs [--handshakes 300] [--rounds 7] [--modes none,bpftrace,agent]
 *
 * Seven rounds by default: with three, the unwatched median moved by 30 % between runs minutes
 * apart on this shared machine (665-854 µs), and every ratio with it.
 *
 * Needs root, bpftrace and a built tree (npm run build).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { interruptBpftrace, writeSelfSignedCertificate } from '@stella/sdk/testing';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const ALL_MODES = ['none', 'bpftrace', 'agent', 'agent-aggregated', 'agent-default', 'agent-presence'];
const { values } = parseArgs({
  options: {
    handshakes: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '7' },
    modes: { type: 'string', default: ALL_MODES.join(',') },
  },
});
const HANDSHAKES = Number(values.handshakes);
const ROUNDS = Number(values.rounds);
const modes = values.modes.split(',');
for (const m of modes) if (!ALL_MODES.includes(m)) throw new Error(`unknown mode ${m}: one of ${ALL_MODES.join(', ')}`);

const work = mkdtempSync(join(tmpdir(), 'stella-bench-handshake-'));
const { cert, key } = writeSelfSignedCertificate(work);

// The map a user generates for a Debian host (the SBOM the function-map tests use).
const mapPath = join(work, 'map.json');
execFileSync(
  process.execPath,
  [
    join(repo, 'core/bin/stella.js'),
    'function-map',
    'generate',
    '--sbom',
    join(repo, 'test/e2e/function-map/fixtures/debian12-syft.cdx.json'),
    '--service',
    'bench',
    '--hot-functions',
    'tls/*',
    '--hot-functions',
    'crypto/*',
    '--output',
    mapPath,
  ],
  { stdio: 'ignore' },
);
const map = JSON.parse(readFileSync(mapPath, 'utf8'));
const pythonLibs = /\/lib(ssl|crypto)\.so\.3$/;
const probed = new Map();
for (const path of map.predicate.expectedPaths)
  for (const call of path.expectedCalls)
    if (pythonLibs.test(call.binaryPath)) probed.set(`${call.binaryPath}:${call.symbol}`, call);

function waitLine(child, re, stream = 'stdout') {
  return new Promise((resolve, reject) => {
    // A child that already exited never emits 'exit' again: fail now instead of waiting forever.
    if (child.exitCode !== null || child.signalCode !== null) {
      reject(new Error(`exited ${child.exitCode ?? child.signalCode} before ${re}`));
      return;
    }
    let buf = '';
    child[stream].on('data', (d) => {
      buf += String(d);
      const m = buf.split('\n').find((l) => re.test(l));
      if (m !== undefined) resolve(m);
    });
    child.once('exit', (c) => reject(new Error(`exited ${c} before ${re}: ${buf.slice(-2000)}`)));
  });
}

const agentModeConfig = {
  agent: ['  export: {flush_interval_ms: 1000, output_path: OUT, aggregation_window_ms: 0}', '  probes: {mode: count}'],
  'agent-aggregated': [
    '  export: {flush_interval_ms: 1000, output_path: OUT, aggregation_window_ms: 1000}',
    '  probes: {mode: count}',
  ],
  'agent-default': ['  export: {flush_interval_ms: 1000, output_path: OUT, aggregation_window_ms: 0}'],
  'agent-presence': [
    '  export: {flush_interval_ms: 1000, output_path: OUT, aggregation_window_ms: 0}',
    '  probes: {mode: presence}',
  ],
};

async function runOnce(mode) {
  const target = spawn('python3', [join(here, 'handshake/memorybio_handshakes.py'), cert, key, String(HANDSHAKES)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await waitLine(target, /^ready/);
  let tracer;
  let bpftraceOut = '';
  if (mode === 'bpftrace') {
    const attach = [...probed.keys()].map((k) => `uprobe:${k}`).join(',\n');
    const program = `${attach} /pid == ${target.pid}/ { @[probe] = count(); }\nBEGIN { printf("armed\\n"); }`;
    tracer = spawn('bpftrace', ['-B', 'line', '-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
    tracer.stdout.on('data', (d) => {
      bpftraceOut += String(d);
    });
    await waitLine(tracer, /^armed$/);
  } else if (mode.startsWith('agent')) {
    const config = join(work, `${mode}.yaml`);
    const out = JSON.stringify(join(work, `${mode}-out`));
    writeFileSync(
      config,
      [
        'runtime_agent:',
        `  function_maps: [${JSON.stringify(mapPath)}]`,
        `  targets: [{service: bench, pids: [${target.pid}]}]`,
        ...agentModeConfig[mode].map((l) => l.replace('OUT', out)),
        '  telemetry: {prometheus: {enabled: false}}',
      ].join('\n'),
    );
    tracer = spawn(process.execPath, [join(repo, 'core/bin/stella.js'), 'agent', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The agent logs "ready" once every probe is attached; timing before that measures nothing.
    await waitLine(tracer, /\bready metrics=/, 'stderr');
  }
  const done = waitLine(target, /^\d+ \d+$/);
  target.stdin.write('go\n');
  const [ns, cpuNs] = (await done).split(' ').map(Number);
  target.stdin.end();
  let stopMs = 0;
  if (tracer) {
    const t0 = performance.now();
    if (mode === 'bpftrace') await interruptBpftrace(tracer);
    else {
      tracer.kill('SIGTERM');
      await new Promise((r) => tracer.once('exit', r));
    }
    stopMs = performance.now() - t0;
  }
  let hits;
  if (mode === 'bpftrace') {
    hits = {};
    for (const m of bpftraceOut.matchAll(/@\[uprobe:[^:]+:(\w+)\]: (\d+)/g)) hits[m[1]] = Number(m[2]);
  }
  return { ns, cpuNs, stopMs, hits };
}

const samples = Object.fromEntries(modes.map((m) => [m, []]));
let hitsPerHandshake;
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of modes) {
    const r = await runOnce(mode);
    samples[mode].push(r);
    if (r.hits) hitsPerHandshake = r.hits;
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(samples.none?.map((s) => s.ns) ?? [Number.NaN]);
const cpuBase = median(samples.none?.map((s) => s.cpuNs) ?? [Number.NaN]);
console.log(
  `\nTLS 1.3 handshakes in one process, ${HANDSHAKES} per run, ${probed.size} libssl/libcrypto calls probed, ${ROUNDS} interleaved rounds, medians (kernel ${execFileSync('uname', ['-r']).toString().trim()})\n`,
);
console.log('| mode | µs/handshake | × unwatched | service CPU µs/handshake | CPU × unwatched | probe stop ms |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const mode of modes) {
  const us = median(samples[mode].map((s) => s.ns)) / 1000;
  const cpuUs = median(samples[mode].map((s) => s.cpuNs)) / 1000;
  const stop = median(samples[mode].map((s) => s.stopMs));
  console.log(
    `| ${mode} | ${us.toFixed(0)} | ${(us / (base / 1000)).toFixed(2)}× | ${cpuUs.toFixed(0)} | ${(cpuUs / (cpuBase / 1000)).toFixed(2)}× | ${mode === 'none' ? '—' : stop.toFixed(0)} |`,
  );
}
if (hitsPerHandshake) {
  const top = Object.entries(hitsPerHandshake)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6);
  console.log(
    `\nHits per handshake (bpftrace, both sides, incl. the warm-up's absence): ${top.map(([f, n]) => `${f} ${(n / HANDSHAKES).toFixed(0)}`).join(', ')}`,
  );
}
rmSync(work, { recursive: true, force: true });

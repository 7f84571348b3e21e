#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * Added cost per call of the agent's TLS uprobe (SSL_do_handshake in libssl.so.3), beside a
 * bpftrace uprobe that only counts, on the same function, in the same script, paired and
 * interleaved round by round (the machine is shared: compare ratios, not absolutes).
 *
 *   node bench/tls-uprobe.mjs [--calls 200000] [--rounds 5]
 *
 * Modes: none (no probe), bpftrace count(), agent per-call events (ring buffer → NDJSON), agent
 * with aggregation_window_ms (exact counts in a BPF map, no per-call event). Needs root and a
 * built tree (npm run build).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { interruptBpftrace } from '@stella/sdk/testing';
import { writeOneCallMap } from './one-call-map.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const { values } = parseArgs({
  options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const work = mkdtempSync(join(tmpdir(), 'stella-bench-tls-'));
const loop = join(work, 'ssl_loop');
execFileSync('gcc', ['-O2', '-o', loop, join(here, 'tls-uprobe/ssl_loop.c'), '-l:libssl.so.3', '-l:libcrypto.so.3']);

const mapPath = join(work, 'map.json');
await writeOneCallMap(repo, mapPath, {
  app: 'pkg:generic/bench@1',
  call: {
    function: 'tls/SSL_do_handshake',
    symbol: 'SSL_do_handshake',
    library: 'libssl.so.3',
    purl: 'pkg:deb/debian/libssl3?arch=amd64',
    binaryPath: LIBSSL,
  },
  pathId: 'hs',
  tags: ['tls'],
  priority: 'crypto',
});

function waitLine(child, re, stream = 'stdout') {
  return new Promise((resolve, reject) => {
    let buf = '';
    child[stream].on('data', (d) => {
      buf += String(d);
      const m = buf.split('\n').find((l) => re.test(l));
      if (m !== undefined) resolve(m);
    });
    child.once('exit', (c) => reject(new Error(`exited ${c} before ${re}: ${buf}`)));
  });
}

async function runOnce(mode) {
  const target = spawn(loop, [String(CALLS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await waitLine(target, /^ready/);
  let tracer;
  if (mode === 'bpftrace') {
    // "Attaching" is printed before the probe is in; BEGIN runs once it is.
    const program = `uprobe:${LIBSSL}:SSL_do_handshake /pid == ${target.pid}/ { @c = count(); }\nBEGIN { printf("armed\\n"); }`;
    tracer = spawn('bpftrace', ['-B', 'line', '-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitLine(tracer, /^armed$/);
  } else if (mode.startsWith('agent')) {
    const config = join(work, `${mode}.yaml`);
    writeFileSync(
      config,
      [
        'runtime_agent:',
        `  function_maps: [${JSON.stringify(mapPath)}]`,
        `  targets: [{service: bench, pids: [${target.pid}]}]`,
        `  export: {flush_interval_ms: 1000, output_path: ${JSON.stringify(join(work, mode))}, aggregation_window_ms: ${mode === 'agent-aggregated' ? 1000 : 0}}`,
        '  telemetry: {prometheus: {enabled: false}}',
      ].join('\n'),
    );
    tracer = spawn(process.execPath, [join(repo, 'core/bin/stella.js'), 'agent', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The agent logs "ready" once every probe is attached; timing before that measures nothing.
    await waitLine(tracer, /\bready metrics=/, 'stderr');
  }
  const done = waitLine(target, /^\d+$/);
  target.stdin.write('go\n');
  const ns = Number(await done);
  if (tracer) {
    if (mode === 'bpftrace') await interruptBpftrace(tracer);
    else {
      tracer.kill('SIGTERM');
      await new Promise((r) => tracer.once('exit', r));
    }
  }
  return ns / CALLS;
}

const modes = ['none', 'bpftrace', 'agent', 'agent-aggregated'];
const samples = Object.fromEntries(modes.map((m) => [m, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of modes) samples[mode].push(await runOnce(mode));
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(samples.none);
const bpftraceAdded = median(samples.bpftrace) - base;
console.log(
  `\nSSL_do_handshake, ${CALLS} calls per run, ${ROUNDS} interleaved rounds, medians (kernel ${execFileSync('uname', ['-r']).toString().trim()})\n`,
);
console.log('| mode | ns/call | added ns/call | added vs bpftrace count() |');
console.log('|---|---:|---:|---:|');
for (const mode of modes) {
  const m = median(samples[mode]);
  const added = m - base;
  console.log(
    `| ${mode} | ${m.toFixed(0)} | ${mode === 'none' ? '—' : added.toFixed(0)} | ${mode === 'none' ? '—' : (added / bpftraceAdded).toFixed(2) + '×'} |`,
  );
}
rmSync(work, { recursive: true, force: true });

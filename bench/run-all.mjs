#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * Runs the benchmarks in bench/ one after another, each printing its own table, then a summary.
 *
 *   npm run bench [-- --quick] [-- --only verify,agent-footprint] [-- --lock /path/to/lockfile]
 *
 * --quick   short runs (fewer calls, rounds and lines): a smoke run that every benchmark still
 *           works and prints its table, not numbers to quote;
 * --only    a comma-separated subset, by the names below;
 * --lock    runs each benchmark that loads BPF under `flock <file>`, so it never shares the kernel
 *           with another BPF test or benchmark (uprobe timings and counts go wrong when two run).
 * The benchmarks that need root are skipped, with the reason, when not run as root. Exit status 1
 * when any benchmark failed.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Every benchmark: its script, its arguments for a full and a quick run, and whether it loads BPF
 * (needs root, runs under the lock). `quick: undefined` skips it in a quick run. A bench/*.mjs
 * script missing here fails core/test/bench-runner.test.ts.
 */
const BENCHMARKS = [
  {
    name: 'verify',
    script: 'bench/verify.mjs',
    full: [],
    quick: ['200000'],
    bpf: false,
    needs: 'the compiled CLI (npm run build:ts), jq and GNU time',
  },
  {
    name: 'agent-footprint',
    script: 'bench/agent-footprint.mjs',
    full: [],
    quick: ['--rounds', '1', '--idle-seconds', '2'],
    bpf: true,
  },
  {
    name: 'tls-uprobe',
    script: 'bench/tls-uprobe.mjs',
    full: [],
    quick: ['--calls', '20000', '--rounds', '1'],
    bpf: true,
  },
  {
    name: 'probes-uprobe',
    script: 'bench/probes-uprobe.mjs',
    full: [],
    quick: ['--calls', '20000', '--rounds', '1', '--seconds', '2', '--rates', '10000,50000'],
    bpf: true,
  },
  {
    name: 'handshake-overhead',
    script: 'bench/handshake-overhead.mjs',
    full: [],
    quick: ['--handshakes', '50', '--rounds', '1', '--modes', 'none,bpftrace,agent'],
    bpf: true,
  },
  {
    name: 'probes-syscall',
    script: 'bench/probes-syscall.mjs',
    full: [],
    quick: ['--calls', '30000', '--rounds', '1'],
    bpf: true,
  },
  {
    name: 'pipeline-memory',
    script: 'bench/pipeline-memory.mjs',
    node: ['--expose-gc'],
    full: [],
    quick: ['--records', '200000'],
    bpf: false,
    needs: 'the compiled TypeScript (npm run build:ts)',
  },
  {
    name: 'placement',
    script: 'bench/placement.mjs',
    full: [],
    quick: ['--calls', '20000', '--rounds', '1'],
    bpf: true,
  },
  {
    name: 'bpf-per-hit',
    script: 'bench/bpf-per-hit.mjs',
    full: [],
    quick: ['--calls', '20000', '--rounds', '1'],
    bpf: true,
  },
  {
    name: 'uprobe-first-instruction',
    script: 'bench/uprobe-first-instruction.mjs',
    full: [],
    quick: ['--calls', '20000', '--rounds', '1'],
    bpf: true,
  },
  {
    name: 'uprobe-disarm',
    script: 'bench/uprobe-disarm.mjs',
    full: [],
    quick: ['--calls', '20000', '--rounds', '1'],
    bpf: true,
  },
  {
    // On the host only the tracepoint runs (no kprobes or fentry here); the kernel matrix runs it in
    // its guests for the per-mechanism table in docs/KERNELS.md.
    name: 'syscall-mechanisms',
    script: 'bench/syscall-mechanisms.mjs',
    full: [],
    quick: ['--calls', '20000', '--rounds', '1'],
    bpf: true,
  },
  {
    name: 'agent-stop',
    script: 'bench/agent-stop.mjs',
    full: [],
    quick: ['--rounds', '1'],
    bpf: true,
  },
  {
    name: 'exit-storm',
    script: 'bench/exit-storm.mjs',
    full: [],
    quick: ['--processes', '50'],
    bpf: true,
  },
  {
    // Like stores below: rewrites its section of docs/BENCHMARKS.md, so full runs only.
    name: 'fleet',
    script: 'bench/fleet.mjs',
    full: [],
    quick: undefined,
    bpf: false,
    needs: 'PostgreSQL and a Valkey cluster (scripts/setup.sh)',
  },
  {
    // Rewrites its section of docs/BENCHMARKS.md, so a quick run (numbers not to quote) skips it.
    name: 'stores',
    script: 'bench/stores.mjs',
    full: [],
    quick: undefined,
    bpf: false,
    needs: 'PostgreSQL and Valkey (scripts/setup.sh)',
  },
];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    lock: { type: 'string' },
  },
});
const only = values.only?.split(',').map((s) => s.trim());
for (const name of only ?? []) {
  if (!BENCHMARKS.some((b) => b.name === name)) {
    console.error(`bench/run-all: --only ${name}: no such benchmark (${BENCHMARKS.map((b) => b.name).join(', ')})`);
    process.exit(2);
  }
}

function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repo, stdio: 'inherit' });
    child.once('error', (error) => resolve({ code: 127, error }));
    child.once('exit', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1) }));
  });
}

const isRoot = process.getuid?.() === 0;
const summary = [];
for (const bench of BENCHMARKS) {
  if (only && !only.includes(bench.name)) continue;
  const args = values.quick ? bench.quick : bench.full;
  if (!args) {
    summary.push({ name: bench.name, status: 'skipped: full runs only (it rewrites docs/BENCHMARKS.md)', s: 0 });
    continue;
  }
  if (bench.bpf && !isRoot) {
    summary.push({ name: bench.name, status: 'skipped: loads BPF programs, needs root', s: 0 });
    continue;
  }
  const shown = ['node', ...(bench.node ?? []), bench.script, ...args].join(' ');
  console.log(`\n## ${bench.name}${values.quick ? ' (quick)' : ''}: ${shown}\n`);
  const started = performance.now();
  const command = [process.execPath, ...(bench.node ?? []), join(repo, bench.script), ...args];
  const { code, error } =
    bench.bpf && values.lock ? await run('flock', [values.lock, ...command]) : await run(command[0], command.slice(1));
  const s = (performance.now() - started) / 1000;
  const why = error ? `: ${error.message}` : bench.needs ? ` (needs ${bench.needs})` : '';
  summary.push({ name: bench.name, status: code === 0 ? 'ok' : `failed, exit ${code}${why}`, s });
}

console.log(`\n## Summary${values.quick ? ' (quick)' : ''}\n`);
console.log('| benchmark | result | seconds |');
console.log('|---|---|---:|');
for (const r of summary) console.log(`| ${r.name} | ${r.status} | ${r.s.toFixed(0)} |`);
if (summary.some((r) => r.status.startsWith('failed'))) process.exitCode = 1;

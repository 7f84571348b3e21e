#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * The uprobe path end to end on a hot function, with the out-of-tree example plugin
 * (examples/third-party-plugin) loaded by the real `stella agent` from its config:
 *
 *   (a–c) added cost per call of `app_handle_request` (fixtures/app.c, -O0 -fcf-protection=none:
 *         its first instruction is `push %rbp`, which the kernel emulates, no single-step) called
 *         back to back, with per-call events, with in-kernel aggregation (aggregation_window_ms:
 *         1000), and with 1 % in-kernel sampling (sampling_rate: 0.01), each beside a bpftrace
 *         count-only uprobe on the same function, paired and interleaved round by round;
 *   (d)   the agent's sustained events/s from ring buffer to NDJSON with zero drops: the call rate
 *         is stepped up (fresh agent per step) until stella_observations_dropped_total (every
 *         reason, the kernel ring-buffer counter `reason="ringbuf"` included) is non-zero, the NDJSON
 *         holds fewer hits than calls, or the workload cannot reach the rate; peak RSS = VmHWM.
 *
 *   node bench/probes-uprobe.mjs [--calls 200000] [--rounds 5] [--seconds 4] [--rates 25000,50000,…]
 *
 * Needs root and a built tree (npm run build). Prints markdown tables.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { interruptBpftrace } from '@stella/sdk/testing';
import { writeOneCallMap } from './one-call-map.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const example = join(repo, 'examples/third-party-plugin');
const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    rates: { type: 'string', default: '10000,20000,30000,40000,50000,75000,100000,150000,200000,300000' },
    'skip-overhead': { type: 'boolean', default: false },
    'skip-throughput': { type: 'boolean', default: false },
  },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const RATES = values.rates.split(',').map(Number);
const SYMBOL = 'app_handle_request';

const work = mkdtempSync(join(tmpdir(), 'stella-bench-probes-'));
const app = join(work, 'app');
execFileSync('cc', ['-O0', '-g', '-fcf-protection=none', '-o', app, join(example, 'fixtures/app.c')]);
const firstInstruction = execFileSync('objdump', ['-d', app, `--disassemble=${SYMBOL}`], { encoding: 'utf8' })
  .split('\n')
  .find((l) => /^\s+[0-9a-f]+:\t/.test(l))
  ?.split('\t')
  .pop()
  ?.trim();

const purl = 'pkg:generic/stella-example-app@1.0.0';
const mapPath = join(work, 'map.json');
await writeOneCallMap(repo, mapPath, {
  app: purl,
  call: { function: `app/${SYMBOL}`, symbol: SYMBOL, library: 'app', purl, binaryPath: app },
  pathId: 'hot',
  tags: ['app'],
  priority: 'general',
});

function lines(child, stream = 'stdout') {
  let buf = '';
  const waiters = [];
  child[stream].on('data', (d) => {
    buf += String(d);
    for (const w of [...waiters]) {
      const m = buf.split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        buf = buf.slice(buf.indexOf(m) + m.length);
        w.resolve(m);
      }
    }
  });
  child.once('exit', (c) => {
    for (const w of waiters) w.reject(new Error(`exited ${c} before ${w.re}`));
  });
  return { wait: (re) => new Promise((resolve, reject) => waiters.push({ re, resolve, reject })) };
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The real CLI agent on `pid` with the example plugin, started and ready (every probe attached). */
async function startAgent(name, pid, { aggregationMs = 0, samplingRate = 1, port } = {}) {
  const outDir = join(work, name);
  const config = join(work, `${name}.yaml`);
  writeFileSync(
    config,
    [
      'runtime_agent:',
      `  function_maps: [${JSON.stringify(mapPath)}]`,
      `  targets: [{service: bench, pids: [${pid}]}]`,
      `  probes: {sampling_rate: ${samplingRate}}`,
      `  export: {flush_interval_ms: 1000, output_path: ${JSON.stringify(outDir)}, aggregation_window_ms: ${aggregationMs}}`,
      port
        ? `  telemetry: {prometheus: {enabled: true, host: 127.0.0.1, port: ${port}}}`
        : '  telemetry: {prometheus: {enabled: false}}',
      'plugins:',
      // 4 MiB ring: < 3 % drops under contention with it, heavy drops with 256 KiB (docs/KERNEL.md §6).
      `  - {module: ${JSON.stringify(join(example, 'src/index.ts'))}, options: {ringBufferBytes: 4194304}}`,
    ].join('\n'),
  );
  const agent = spawn(process.execPath, [join(repo, 'core/bin/stella.js'), 'agent', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await lines(agent, 'stderr').wait(/\bready metrics=/);
  return {
    agent,
    outDir,
    async stop() {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    },
  };
}

function ndjsonHits(dir) {
  let hits = 0;
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {}
  for (const name of names) {
    const gz = name.endsWith('.ndjson.gz');
    if (!gz && !(name.endsWith('.ndjson') && !names.includes(`${name}.gz`))) continue;
    const raw = readFileSync(join(dir, name));
    for (const line of (gz ? gunzipSync(raw) : raw).toString('utf8').split('\n'))
      if (line.includes(SYMBOL)) hits += JSON.parse(line).hitCount;
  }
  return hits;
}

function startApp() {
  const child = spawn(app, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = lines(child);
  return {
    child,
    ready: out.wait(/^ready/),
    /** Sends a command; resolves with [calls, elapsed ns] from its "done" line. */
    async run(command) {
      const done = out.wait(/^done /);
      child.stdin.write(`${command}\n`);
      const [, calls, ns] = (await done).split(' ').map(Number);
      return [calls, ns];
    },
    async exit() {
      child.stdin.end('exit\n');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
const kernel = execFileSync('uname', ['-r']).toString().trim();
console.log(
  `\n\`${SYMBOL}\` first instruction: \`${firstInstruction}\`; kernel ${kernel}, Node ${process.version}, load average at start ${load()}`,
);

// ---- (a–c) added cost per call, paired with bpftrace ----------------------------------------------
if (!values['skip-overhead']) {
  const modes = {
    none: null,
    bpftrace: 'bpftrace',
    'agent, per-call events': {},
    'agent, aggregation 1000 ms': { aggregationMs: 1000 },
    'agent, 1 % sampling': { samplingRate: 0.01 },
  };
  const samples = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  const recorded = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [mode, spec] of Object.entries(modes)) {
      const target = startApp();
      await target.ready;
      let stop = async () => {};
      let outDir;
      if (spec === 'bpftrace') {
        const tracer = spawn(
          'bpftrace',
          ['-e', `uprobe:${app}:${SYMBOL} /pid == ${target.child.pid}/ { @c = count(); }`],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        await lines(tracer).wait(/Attaching/);
        // "Attaching" is printed before the attach finishes, and a SIGINT that early is lost.
        await new Promise((r) => setTimeout(r, 500));
        stop = async () => {
          await interruptBpftrace(tracer);
        };
      } else if (spec) {
        const agent = await startAgent(`overhead-${round}-${Object.keys(modes).indexOf(mode)}`, target.child.pid, spec);
        stop = agent.stop;
        outDir = agent.outDir;
      }
      const [calls, ns] = await target.run(`go ${CALLS}`);
      await stop();
      await target.exit();
      samples[mode].push(ns / calls);
      if (outDir) recorded[mode].push(ndjsonHits(outDir) / calls);
    }
    process.stderr.write(`overhead round ${round + 1}/${ROUNDS} done (load ${load()})\n`);
  }
  const base = median(samples.none);
  const bpftraceAdded = median(samples.bpftrace) - base;
  console.log(`\n(a–c) ${CALLS} back-to-back calls a run, ${ROUNDS} interleaved rounds, medians\n`);
  console.log('| mode | ns/call | added ns/call | added vs bpftrace count() | hits in NDJSON / calls |');
  console.log('|---|---:|---:|---:|---:|');
  for (const mode of Object.keys(modes)) {
    const m = median(samples[mode]);
    const added = m - base;
    const rec = recorded[mode].length ? median(recorded[mode]).toFixed(4) : '—';
    console.log(
      `| ${mode} | ${m.toFixed(0)} | ${mode === 'none' ? '—' : added.toFixed(0)} | ${mode === 'none' ? '—' : `${(added / bpftraceAdded).toFixed(2)}×`} | ${rec} |`,
    );
  }
}

// ---- (d) sustained events/s, ring buffer -> NDJSON, zero drops ------------------------------------
async function scrapeDrops(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const byReason = {};
  for (const line of text.split('\n')) {
    const m = /^stella_observations_dropped_total(?:\{([^}]*)\})? ([0-9.e+]+)/.exec(line);
    if (!m) continue;
    const reason = /reason="([^"]*)"/.exec(m[1] ?? '')?.[1] ?? '(none)';
    byReason[reason] = (byReason[reason] ?? 0) + Number(m[2]);
  }
  return byReason;
}

if (!values['skip-throughput']) {
  console.log(
    `\n(d) per-call events, ${SECONDS} s at each target rate, fresh agent per step (4 MiB ring, NDJSON flush 1 s)\n`,
  );
  console.log(
    '| target calls/s | achieved events/s | hits in NDJSON / calls | dropped (user space) | dropped (kernel ring buffer) | agent VmHWM | load avg |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---|');
  let best;
  for (const rate of RATES) {
    const target = startApp();
    await target.ready;
    const port = await freePort();
    const agent = await startAgent(`rate-${rate}`, target.child.pid, { port });
    const [calls, ns] = await target.run(`rate ${rate} ${SECONDS}`);
    // The drop counter is read every second and NDJSON flushed every second: let both catch up.
    await new Promise((r) => setTimeout(r, 2500));
    const drops = await scrapeDrops(port);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.agent.pid}/status`, 'utf8'))?.[1];
    await agent.stop();
    await target.exit();
    const hits = ndjsonHits(agent.outDir);
    const achieved = calls / (ns / 1e9);
    const kernelDrops = drops.ringbuf ?? 0;
    const userDropList = Object.entries(drops).filter(([r, v]) => r !== 'ringbuf' && v > 0);
    const userDrops = userDropList.reduce((n, [, v]) => n + v, 0);
    const clean = kernelDrops === 0 && userDrops === 0 && hits === calls;
    console.log(
      `| ${rate.toLocaleString('en')} | ${Math.round(achieved).toLocaleString('en')} | ${(hits / calls).toFixed(4)} | ${userDropList.map(([r, v]) => `${v} (${r})`).join(', ') || 0} | ${kernelDrops} | ${(Number(hwm) / 1024).toFixed(0)} MiB | ${load()} |`,
    );
    if (clean && achieved >= 0.9 * rate) best = { rate, achieved, hwm };
    if (!clean) break;
    if (achieved < 0.9 * rate) {
      process.stderr.write(`the workload reached only ${Math.round(achieved)} calls/s of ${rate}: stopping\n`);
      break;
    }
  }
  console.log(
    best
      ? `\nHighest zero-drop step: ${Math.round(best.achieved).toLocaleString('en')} events/s (target ${best.rate.toLocaleString('en')}), agent VmHWM ${(Number(best.hwm) / 1024).toFixed(0)} MiB`
      : '\nNo step ran without drops.',
  );
}
if (process.env.BENCH_KEEP) process.stderr.write(`kept ${work}\n`);
else rmSync(work, { recursive: true, force: true });

#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * The idle agent's footprint: time from exec to the "ready" log line, and resident memory (VmRSS
 * after it has idled, VmHWM = peak) of `stella-runtime-agent` on the demo map (25 TLS calls,
 * uprobes on libssl/libcrypto for curl, memory store, NDJSON export, Prometheus on), beside two
 * floors measured in the same run: a bare `node` process and `stella --version` (the CLI's own
 * start-up with every command group loaded, what the agent no longer pays for).
 *
 *   node bench/agent-footprint.mjs [--rounds 5] [--idle-seconds 20] [--baseline <checkout>]
 *
 * Idle means 20 s after ready by default: V8 shrinks its heap after about 10 s without work, and
 * an agent on a node idles for hours, so an earlier sample would measure start-up's leftovers.
 *
 * `--baseline` adds the agent of another built checkout (e.g. a worktree of the previous commit)
 * to the same run, interleaved, so before/after compare under the same load.
 *
 * Needs root and a built tree (npm run build). Prints a markdown table (medians over the rounds).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  AGENT_BIN,
  exitUnlessRoot,
  freePort,
  REPO,
  sleep,
  spawnUntilReady,
  writeAgentConfig,
} from './support/agent.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'idle-seconds': { type: 'string', default: '20' },
    baseline: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const idleMs = Number(values['idle-seconds']) * 1000;
exitUnlessRoot('agent-footprint');

/** VmRSS and VmHWM of `pid` in MB. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/**
 * Runs `args` with node until `readyText` appears on its output (or it exits), idles, samples
 * memory, stops it with SIGTERM. Returns ms to ready and memory in MB.
 */
async function measure(command, args, readyText, idle) {
  const { child, readyMs: ready, exited } = await spawnUntilReady(command, args, readyText);
  if (!readyText) return { ready, rss: Number.NaN, hwm: Number.NaN };
  await sleep(idle);
  const memory = memoryOf(child.pid);
  const stopAt = performance.now();
  child.kill('SIGTERM');
  await exited;
  return { ready, ...memory, stop: performance.now() - stopAt };
}

const median = (xs) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)];
};

const dir = mkdtempSync(join(tmpdir(), 'stella-footprint-'));
try {
  const config = writeAgentConfig(dir, {
    mapPath: join(REPO, 'core/demo/function-map.json'),
    service: 'demo-tls',
    executables: ['/usr/bin/curl'],
    prometheusPort: await freePort(),
  });
  const cases = [
    { name: 'node (empty process)', args: ['-e', 'setInterval(() => {}, 1000); console.log("up")'], ready: 'up' },
    {
      name: 'stella --version (loads every command)',
      args: [join(REPO, 'core/bin/stella.js'), '--version'],
      ready: undefined,
    },
    {
      // The installed binary, run as a user runs it: its shebang limits glibc to two malloc arenas.
      name: 'stella-runtime-agent (idle)',
      command: AGENT_BIN,
      args: ['--config', config],
      ready: 'ready',
    },
    {
      // The same agent started as `node stella.js agent`: glibc's default arenas (8 per CPU).
      name: 'stella agent under plain node (idle)',
      args: [join(repo, 'core/bin/stella.js'), 'agent', '--config', config],
      ready: 'ready',
    },
  ];
  if (values.baseline) {
    cases.push({
      name: `baseline agent (${values.baseline})`,
      args: [join(values.baseline, 'core/bin/stella-runtime-agent.js'), '--config', config],
      ready: 'ready',
    });
  }
  const results = cases.map(() => ({ ready: [], rss: [], hwm: [], stop: [] }));
  for (let round = 0; round < rounds; round++) {
    // Interleaved round by round: the machine is shared, so neighbours' load hits every case alike.
    for (const [i, c] of cases.entries()) {
      const m = await measure(c.command ?? process.execPath, c.args, c.ready, c.ready ? idleMs : 0);
      for (const k of ['ready', 'rss', 'hwm', 'stop']) results[i][k].push(m[k] ?? Number.NaN);
    }
  }
  const f = (x, digits = 0) => (Number.isNaN(x) ? '–' : x.toFixed(digits));
  console.log(`\nAgent footprint: medians of ${rounds} rounds, ${idleMs / 1000} s idle before sampling\n`);
  console.log('| process | ready (exit) ms | idle RSS MB | peak RSS MB | stop ms |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [i, c] of cases.entries()) {
    const r = results[i];
    console.log(
      `| ${c.name} | ${f(median(r.ready))} | ${f(median(r.rss), 1)} | ${f(median(r.hwm), 1)} | ${f(median(r.stop))} |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's event loop while many target processes come and go: the agent watches
 * /usr/bin/openssl with a map of `--calls` libcrypto functions; `--processes` `openssl dgst`
 * processes start (each claimed at exec), wait on stdin, then all exit at once when their stdin
 * closes. The agent's gauge `stella_event_loop_delay_max_ms` (perf_hooks monitorEventLoopDelay) is
 * scraped every 250 ms through each phase; the table gives the worst value per phase. The gauge
 * spans 10–20 s, so a row is an upper bound for its phase (it may carry the previous one's stalls).
 *
 *   node bench/exit-storm.mjs [--processes 200] [--calls 32]
 *
 * Needs root and a built tree (npm run build). Fails when a phase exceeds the 50 ms bound.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportedFunctions, writeManyCallMap } from './many-call-map.mjs';
import {
  AGENT_BIN,
  exitUnlessRoot,
  freePort,
  LIBCRYPTO,
  REPO,
  sleep,
  spawnUntilReady,
  writeAgentConfig,
} from './support/agent.mjs';

const { values } = parseArgs({
  options: {
    processes: { type: 'string', default: '200' },
    calls: { type: 'string', default: '32' },
  },
});
const processes = Number(values.processes);
const BOUND_MS = 50;
exitUnlessRoot('exit-storm');
const OPENSSL = '/usr/bin/openssl';

async function gauge(url) {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith('stella_event_loop_delay_max_ms'));
  if (!line) throw new Error(`${url}: no stella_event_loop_delay_max_ms`);
  return Number(line.split(' ').at(-1));
}

/** Scrapes the gauge every 250 ms while `during` runs, then `afterMs` longer; returns the max. */
async function worstWhile(url, during, afterMs) {
  let worst = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      worst = Math.max(worst, await gauge(url));
      await sleep(250);
    }
  })();
  await during();
  await sleep(afterMs);
  done = true;
  await sampler;
  return Math.max(worst, await gauge(url));
}

const dir = mkdtempSync(join(tmpdir(), 'stella-exit-storm-'));
let agent;
const children = [];
try {
  const mapPath = join(dir, 'map.json');
  await writeManyCallMap(REPO, mapPath, {
    app: 'pkg:generic/exit-storm-bench@1',
    binaryPath: LIBCRYPTO,
    library: 'libcrypto.so.3',
    purl: 'pkg:deb/debian/libssl3@3?arch=amd64',
    category: 'crypto',
    symbols: exportedFunctions(LIBCRYPTO, Number(values.calls)),
  });
  const port = await freePort();
  const config = writeAgentConfig(dir, { mapPath, service: 'bench', executables: [OPENSSL], prometheusPort: port });
  const url = `http://127.0.0.1:${port}/metrics`;
  agent = await spawnUntilReady(process.execPath, [AGENT_BIN, '--config', config], 'ready');
  // The gauge spans the current and the previous 10 s window: let start-up's attach leave it.
  await sleep(21_000);
  const rows = [];
  rows.push(['idle, no target process', await worstWhile(url, () => sleep(3000), 0)]);
  rows.push([
    `${processes} openssl processes start and are claimed`,
    await worstWhile(
      url,
      async () => {
        for (let i = 0; i < processes; i++) {
          children.push(spawn(OPENSSL, ['dgst', '-sha256'], { stdio: ['pipe', 'ignore', 'ignore'] }));
        }
        await sleep(3000);
      },
      0,
    ),
  ]);
  rows.push([
    `all ${processes} exit at once (stdin closed), 5 s after`,
    await worstWhile(
      url,
      async () => {
        const exits = children.map((c) => new Promise((r) => c.once('exit', r)));
        for (const c of children) c.stdin.end();
        await Promise.all(exits);
      },
      5000,
    ),
  ]);
  console.log(`\nAgent event-loop stalls (stella_event_loop_delay_max_ms, scraped every 250 ms)\n`);
  console.log('| phase | worst stall ms |');
  console.log('|---|---:|');
  for (const [phase, ms] of rows) console.log(`| ${phase} | ${ms.toFixed(1)} |`);
  const worst = Math.max(...rows.map((r) => r[1]));
  if (worst > BOUND_MS) {
    console.error(`bench/exit-storm: an event-loop stall of ${worst.toFixed(0)} ms, over the ${BOUND_MS} ms bound`);
    process.exitCode = 1;
  }
} finally {
  for (const c of children) c.kill('SIGKILL');
  agent?.child.kill('SIGTERM');
  await agent?.exited;
  rmSync(dir, { recursive: true, force: true });
}

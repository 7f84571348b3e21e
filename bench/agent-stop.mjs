#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * How long the agent takes to stop (SIGTERM until the process has exited) with many uprobes
 * attached: a map of `--calls` exported functions of libcrypto (the catalogue's other libcrypto
 * functions, which the agent adds, are refused by probes.max_concurrent = 256), target a python
 * process that maps libcrypto; the links' offsets are counted with bpftool before the stop. Beside
 * it in the same run, bpftrace (v0.17 here: one perf-event uprobe per function) on the same
 * functions of the same pid, stopped the same way: the cost of releasing that many perf-event
 * uprobes, which the agent's uprobe_multi links replace.
 *
 *   node bench/agent-stop.mjs [--calls 256] [--rounds 3]
 *
 * Needs root, bpftrace, python3 and a built tree (npm run build). Prints a markdown table
 * (medians over the rounds); fails when a stop exceeds the 1 s target.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportedFunctions, writeManyCallMap } from './many-call-map.mjs';
import {
  AGENT_BIN,
  exitUnlessRoot,
  LIBCRYPTO,
  REPO,
  sleep,
  spawnUntilReady,
  writeAgentConfig,
} from './support/agent.mjs';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
  },
});
const calls = Number(values.calls);
const rounds = Number(values.rounds);
const TARGET_MS = 1000;
exitUnlessRoot('agent-stop');

const PYTHON = realpathSync('/usr/bin/python3');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Spawns `command`, waits for `readyText` on its output, lets it settle `settleMs`, sends SIGTERM
 * and returns ms from spawn to ready and from SIGTERM to exit, and the output.
 */
async function startAndStop(command, args, readyText, settleMs, inspect = () => undefined) {
  const { child, readyMs: ready, exited, output } = await spawnUntilReady(command, args, readyText);
  await sleep(settleMs);
  const inspected = inspect();
  const stopAt = performance.now();
  child.kill('SIGTERM');
  const { code, signal } = await exited;
  const stop = performance.now() - stopAt;
  if (code !== 0) throw new Error(`${command} exited ${code ?? signal} on SIGTERM:\n${output().slice(-2000)}`);
  return { ready, stop, out: output(), inspected };
}

/** Offsets carried by uprobe_multi links on libcrypto: proof the agent's probes were in the kernel when stopped. */
function multiLinkOffsets() {
  const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' }));
  return links
    .filter((l) => l.type === 'uprobe_multi' && l.path === LIBCRYPTO)
    .reduce((sum, l) => sum + (l.func_cnt ?? 0), 0);
}

const dir = mkdtempSync(join(tmpdir(), 'stella-agent-stop-'));
// Holds libcrypto mapped (python's ssl module links it) and does nothing else.
const workload = spawn(PYTHON, ['-c', 'import ssl, sys; print("up", flush=True); sys.stdin.read()'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
try {
  await new Promise((resolve) => workload.stdout.once('data', resolve));
  const symbols = exportedFunctions(LIBCRYPTO, calls);
  const mapPath = join(dir, 'map.json');
  await writeManyCallMap(REPO, mapPath, {
    app: 'pkg:generic/agent-stop-bench@1',
    binaryPath: LIBCRYPTO,
    library: 'libcrypto.so.3',
    purl: 'pkg:deb/debian/libssl3@3?arch=amd64',
    category: 'crypto',
    symbols,
  });
  const config = writeAgentConfig(dir, { mapPath, service: 'bench', executables: [PYTHON] });
  const probeList = symbols.map((s) => `uprobe:${LIBCRYPTO}:${s}`).join(',');
  const cases = [
    {
      name: `stella agent (one uprobe_multi link, ${calls} offsets)`,
      run: () => startAndStop(process.execPath, [AGENT_BIN, '--config', config], 'ready', 2000, multiLinkOffsets),
    },
    {
      name: `bpftrace count() (${calls} perf-event uprobes)`,
      run: () =>
        startAndStop(
          'bpftrace',
          ['-e', `${probeList} /pid == ${workload.pid}/ { @calls = count(); } BEGIN { printf("armed\\n"); }`],
          'armed',
          2000,
        ),
    },
  ];
  const results = cases.map(() => ({ ready: [], stop: [] }));
  for (let round = 0; round < rounds; round++) {
    // Interleaved round by round: the machine is shared, so neighbours' load hits both alike.
    for (const [i, c] of cases.entries()) {
      const { ready, stop, inspected } = await c.run();
      if (inspected !== undefined && inspected < calls)
        throw new Error(`the agent's uprobe_multi links carried ${inspected} offsets, ${calls} expected`);
      results[i].ready.push(ready);
      results[i].stop.push(stop);
    }
  }
  console.log(`\nStop with ${calls} uprobes on libcrypto: medians of ${rounds} rounds (max in brackets)\n`);
  console.log('| process | start → ready ms | SIGTERM → exit ms |');
  console.log('|---|---:|---:|');
  for (const [i, c] of cases.entries()) {
    const r = results[i];
    console.log(
      `| ${c.name} | ${median(r.ready).toFixed(0)} | ${median(r.stop).toFixed(0)} (${Math.max(...r.stop).toFixed(0)}) |`,
    );
  }
  const worst = Math.max(...results[0].stop);
  if (worst > TARGET_MS) {
    console.error(`bench/agent-stop: the agent took ${worst.toFixed(0)} ms to stop, over the ${TARGET_MS} ms target`);
    process.exitCode = 1;
  }
} finally {
  workload.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

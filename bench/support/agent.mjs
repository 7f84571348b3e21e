// SPDX-License-Identifier: Apache-2.0
/**
 * What the benchmarks that run the real agent share: the root check, a free port for /metrics, the
 * agent's config file, and a child process timed from spawn until it says it is ready. Not a
 * benchmark: bench/run-all.mjs and its test look at bench/*.mjs only, not this directory.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const AGENT_BIN = join(REPO, 'core/bin/stella-runtime-agent.js');
export const LIBCRYPTO = '/usr/lib/x86_64-linux-gnu/libcrypto.so.3';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Exit 2 with one sentence unless root: the agent loads BPF programs. */
export function exitUnlessRoot(bench) {
  if (process.getuid?.() === 0) return;
  console.error(`bench/${bench}: needs root (the agent loads BPF programs)`);
  process.exit(2);
}

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Writes `dir/stella.yaml`: one service watching `executables` with `mapPath`, the memory store,
 * NDJSON export into `dir/out/`, and Prometheus on `prometheusPort` when given. Returns its path.
 */
export function writeAgentConfig(dir, { mapPath, service, executables, prometheusPort }) {
  const config = join(dir, 'stella.yaml');
  writeFileSync(
    config,
    [
      'runtime_agent:',
      '  node_name: bench-node',
      `  function_maps: [${JSON.stringify(mapPath)}]`,
      '  targets:',
      `    - {service: ${service}, executables: [${executables.map((e) => JSON.stringify(e)).join(', ')}]}`,
      '  observation_store: {type: memory, retention_hours: 72, max_batch_size: 1000}',
      `  export: {format: ndjson, flush_interval_ms: 1000, output_path: ${JSON.stringify(`${dir}/out/`)}}`,
      ...(prometheusPort === undefined
        ? []
        : [`  telemetry: {prometheus: {enabled: true, host: 127.0.0.1, port: ${prometheusPort}}}`]),
      '',
    ].join('\n'),
  );
  return config;
}

/**
 * Spawns `command` and resolves once `readyText` appears on its stdout or stderr (or, without
 * `readyText`, once it exits), with `readyMs` from spawn; rejects when it exits before ready.
 * Its output keeps being read, so a chatty child never blocks on a full pipe.
 */
export async function spawnUntilReady(command, args, readyText) {
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const readyMs = await new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d.toString();
      if (readyText && out.includes(readyText)) resolve(performance.now() - started);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(({ code }) =>
      readyText
        ? reject(new Error(`${command} exited ${code} before ready:\n${out.slice(-2000)}`))
        : resolve(performance.now() - started),
    );
  });
  return { child, readyMs, exited, output: () => out };
}

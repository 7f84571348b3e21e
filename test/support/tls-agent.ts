// SPDX-License-Identifier: Apache-2.0
/**
 * One real agent run on TLS handshakes, shared by the end-to-end tests that need it: a python
 * client making N blocking handshakes through libssl against an `openssl s_server`, bpftrace
 * counting `SSL_do_handshake` on the client's pid (the independent count), and the compiled CLI's
 * agent targeting that pid with a given function map and exporting NDJSON. Run under the kernel lock.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Observation } from '@stella/sdk';
import { bpftraceCounts } from '@stella/sdk/testing';
import type { TlsServer } from '../../core/src/demo/tls-server.js';
import { REPO, startStella } from './cli.js';
import { LIBSSL, stdoutLines } from './maps.js';
import { readObservations } from './ndjson.js';

/** The client: `ready`, waits for a line, makes N handshakes, `done`. */
const CLIENT = join(REPO, 'test/e2e/agent/fixtures/tls_client.py');

export interface TlsAgentOptions {
  /** Working directory: the agent's config and `observations/` go here. */
  dir: string;
  server: TlsServer;
  handshakes: number;
  /** Function map the agent loads. */
  mapPath: string;
  service: string;
  nodeName: string;
  /** How long the agent may take to say `ready` (default 30 s; a large generated map takes longer). */
  readyTimeoutMs?: number;
}

export interface TlsAgentRun {
  /** The client's pid, the agent's only target. */
  pid: number;
  /** `SSL_do_handshake` calls bpftrace counted on that pid while the agent ran. */
  bpftraceHandshakes: number;
  /** The agent's NDJSON export, read after it stopped. */
  observations: Observation[];
  outputDir: string;
  /** A time window around the run, for `--from`/`--to`. */
  window: { from: string; to: string };
}

/** Runs the client, bpftrace and the agent; resolves once the agent stopped cleanly (exit 0). */
export async function runTlsAgent(options: TlsAgentOptions): Promise<TlsAgentRun> {
  const { dir, server } = options;
  const outputDir = join(dir, 'observations');
  const client = spawn('python3', [CLIENT, String(server.port), server.certPath, String(options.handshakes)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await stdoutLines(client, 'ready');
  const pid = client.pid!;
  const configPath = join(dir, 'stella.yaml');
  await writeFile(
    configPath,
    [
      'runtime_agent:',
      `  node_name: ${options.nodeName}`,
      `  function_maps: [${JSON.stringify(options.mapPath)}]`,
      `  targets: [{service: ${options.service}, pids: [${pid}]}]`,
      '  observation_store: {type: memory}',
      `  export: {flush_interval_ms: 200, output_path: ${JSON.stringify(outputDir)}}`,
      '  telemetry: {prometheus: {enabled: false}, verify_interval_ms: 500}',
    ].join('\n'),
  );
  const reference = await bpftraceCounts({ SSL_do_handshake: `uprobe:${LIBSSL}:SSL_do_handshake` }, pid);
  const from = new Date(Date.now() - 1000).toISOString();
  const agent = startStella(['agent', '--config', configPath]);
  let code: number | null;
  let counted: Record<string, number>;
  try {
    await agent.waitFor(/\bready metrics=/, options.readyTimeoutMs);
    client.stdin?.end('go\n');
    await stdoutLines(client, 'done');
    await new Promise((resolve) => client.once('exit', resolve));
  } finally {
    if (client.exitCode === null) client.kill();
    agent.child.kill('SIGTERM');
    code = await agent.exited;
    counted = await reference.stop();
  }
  if (code !== 0) throw new Error(`the agent exited ${code}\nstderr:\n${agent.stderr()}`);
  return {
    pid,
    bpftraceHandshakes: counted.SSL_do_handshake ?? 0,
    observations: await readObservations(outputDir),
    outputDir,
    window: { from, to: new Date(Date.now() + 1000).toISOString() },
  };
}

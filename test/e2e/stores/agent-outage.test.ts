// SPDX-License-Identifier: Apache-2.0
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { runStella, startStella } from '../../support/cli.js';
import { libsslCallMap, stdoutLines } from '../../support/maps.js';
import { hits, readObservations } from '../../support/ndjson.js';
import { startValkey, type ValkeyServer } from '../../support/servers.js';

const canBpf = process.getuid?.() === 0;
if (!canBpf) console.warn('[skip] agent store outage e2e: needs root for BPF');

describe.skipIf(!canBpf)('agent with the Valkey store going down mid-run', () => {
  let dir: string;
  let tls: TlsServer;
  let valkey: ValkeyServer | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-e2e-outage-'));
    tls = await startOpensslServer(dir);
    valkey = await startValkey({ name: 'agent-outage', durable: true });
  });
  afterAll(async () => {
    await tls?.stop();
    await valkey?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Three rounds of handshakes from one python client; the Valkey server is stopped before round 2
   * (or before the agent even starts) and started again before round 3. Every round must end up
   * in the NDJSON and, once the server is back, in the store.
   */
  async function outage(service: string, downAtStart: boolean): Promise<void> {
    if (!valkey) throw new Error('valkey-server is not installed: run scripts/setup.sh');
    const rounds = [12, 9, 7];
    const client = spawn(
      'python3',
      [join(import.meta.dirname, '../agent/fixtures/tls_client.py'), String(tls.port), tls.certPath, '0'],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    await stdoutLines(client, 'ready', 1);
    const pid = client.pid!;
    const mapPath = join(dir, `${service}.json`);
    await writeFile(mapPath, JSON.stringify(libsslCallMap(service)));
    const outDir = join(dir, `${service}-observations`);
    const configPath = join(dir, `${service}.yaml`);
    await writeFile(
      configPath,
      [
        'runtime_agent:',
        `  function_maps: [${JSON.stringify(mapPath)}]`,
        `  targets: [{service: ${service}, pids: [${pid}]}]`,
        `  observation_store: {type: valkey, max_batch_size: 5, valkey: {url: ${JSON.stringify(valkey.url)}}}`,
        `  export: {flush_interval_ms: 200, output_path: ${JSON.stringify(outDir)}}`,
        '  telemetry: {prometheus: {enabled: false}}',
      ].join('\n'),
    );

    if (downAtStart) await valkey.stop();
    const agent = startStella(['agent', '--config', configPath]);
    await agent.waitFor(/\bready metrics=/);
    client.stdin?.write(`${rounds[0]}\n`);
    await stdoutLines(client, 'done', 1);
    await new Promise((r) => setTimeout(r, 600)); // one flush: round 1 reaches the store if it is up

    if (!downAtStart) await valkey.stop();
    client.stdin?.write(`${rounds[1]}\n`);
    await stdoutLines(client, 'done', 1);
    await new Promise((r) => setTimeout(r, 600)); // round 2 is exported while the store is down
    await valkey.start();

    client.stdin?.end(`${rounds[2]}\n`);
    await stdoutLines(client, 'done', 1);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    // The outage was noticed, and the writer held the batches and retried until the store came back.
    expect(agent.stderr()).toMatch(
      downAtStart
        ? /observation store unreachable at start: observing and exporting anyway/
        : /store unavailable; holding observations and retrying/,
    );
    expect(agent.stderr()).toMatch(downAtStart ? /observation store connected/ : /store available again/);

    const total = rounds.reduce((x, y) => x + y, 0);
    expect(hits(await readObservations(outDir), 'tls/SSL_do_handshake', pid)).toBe(total);
    const query = await runStella([
      'observations',
      'query',
      '--config',
      configPath,
      '--service',
      service,
      '--summary',
      '--format',
      'json',
    ]);
    expect(query.code, query.stderr).toBe(0);
    const summary = JSON.parse(query.stdout) as { function: string; hitCount: number }[];
    const handshakes = summary.filter((x) => x.function === 'tls/SSL_do_handshake');
    expect(handshakes.reduce((n, x) => n + x.hitCount, 0)).toBe(total);
  }

  it('keeps observing and exporting while the store is down, and the store holds every call once it is back', () =>
    outage('outage-mid-run', false));

  it('starts, observes and exports with the store down at start, and fills the store once it is reachable', () =>
    outage('outage-at-start', true));
});

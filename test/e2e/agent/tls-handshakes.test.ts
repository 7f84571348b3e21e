// SPDX-License-Identifier: Apache-2.0
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Observation } from '@stella/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { nodeHash } from '../../../core/src/function-map/index.js';
import { startStella } from '../../support/cli.js';
import { LIBSSL, libsslCallMap, LIBSSL_PURL as PURL, stdoutLines } from '../../support/maps.js';

const HANDSHAKES = 25;
const canBpf = process.getuid?.() === 0;
if (!canBpf) console.warn('[skip] tls-handshakes e2e: needs root for BPF (CAP_BPF/CAP_PERFMON)');

async function readNdjson(dir: string): Promise<Observation[]> {
  const out: Observation[] = [];
  for (const name of await readdir(dir)) {
    if (!/\.ndjson(\.gz)?$/.test(name)) continue;
    const raw = await readFile(join(dir, name));
    const text = name.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
    for (const l of text.split('\n')) if (l.trim()) out.push(JSON.parse(l) as Observation);
  }
  return out;
}

describe.skipIf(!canBpf)('agent on libssl, end to end (real uprobes, real TLS, real CLI)', () => {
  let dir: string;
  let server: TlsServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-e2e-tls-'));
    server = await startOpensslServer(dir);
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(`observes exactly the ${HANDSHAKES} handshakes a python client makes, agrees with bpftrace, and the NDJSON on disk holds them`, async () => {
    const client = spawn(
      'python3',
      [join(import.meta.dirname, 'fixtures/tls_client.py'), String(server.port), server.certPath, String(HANDSHAKES)],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    await stdoutLines(client, 'ready');
    const pid = client.pid!;
    const mapPath = join(dir, 'map.json');
    await writeFile(mapPath, JSON.stringify(libsslCallMap('tls-e2e')));
    const outDir = join(dir, 'observations');
    const configPath = join(dir, 'stella.yaml');
    await writeFile(
      configPath,
      [
        'runtime_agent:',
        '  node_name: e2e-node',
        `  function_maps: [${JSON.stringify(mapPath)}]`,
        `  targets: [{service: tls-e2e, pids: [${pid}]}]`,
        '  observation_store: {type: memory}',
        `  export: {flush_interval_ms: 200, output_path: ${JSON.stringify(outDir)}}`,
        '  telemetry: {prometheus: {enabled: false}, verify_interval_ms: 500}',
      ].join('\n'),
    );
    // An independent count on the same symbol and process. bpftrace prints "Attaching" before the
    // probes are in; BEGIN runs once they are, so "armed" is the line to wait for.
    const bpftrace = spawn(
      'bpftrace',
      [
        '-B',
        'line',
        '-e',
        `uprobe:${LIBSSL}:SSL_do_handshake /pid == ${pid}/ { @calls = count(); }\nBEGIN { printf("armed\\n"); }`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let bpftraceOut = '';
    bpftrace.stdout?.on('data', (d) => {
      bpftraceOut += String(d);
    });
    await stdoutLines(bpftrace, 'armed');

    const agent = startStella(['agent', '--config', configPath]);
    await agent.waitFor(/\bready metrics=/);
    client.stdin?.end('go\n');
    await stdoutLines(client, 'done');
    await new Promise((resolve) => client.once('exit', resolve));

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    bpftrace.kill('SIGINT');
    await new Promise((resolve) => bpftrace.once('exit', resolve));
    const bpftraceCount = Number(/@calls: (\d+)/.exec(bpftraceOut)?.[1]);

    const observations = await readNdjson(outDir);
    const handshakes = observations.filter((o) => o.function === 'tls/SSL_do_handshake' && o.pid === pid);
    const hits = handshakes.reduce((n, o) => n + o.hitCount, 0);
    expect(bpftraceCount).toBe(HANDSHAKES);
    expect(hits).toBe(HANDSHAKES);
    expect(new Set(handshakes.map((o) => o.nodeHash))).toEqual(new Set([nodeHash(PURL, 'SSL_do_handshake')]));
    expect(
      handshakes.every((o) => o.service === 'tls-e2e' && o.binaryPath === LIBSSL && o.comm.startsWith('python3')),
    ).toBe(true);
    // The server (openssl s_server) also runs SSL code in libssl but is not a target.
    expect(observations.some((o) => o.pid === server.process.pid)).toBe(false);
  });
});

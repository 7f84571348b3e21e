// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { nodeHash } from '../../../core/src/function-map/index.js';
import { LIBSSL, libsslCallMap, LIBSSL_PURL as PURL } from '../../support/maps.js';
import { runTlsAgent } from '../../support/tls-agent.js';

const HANDSHAKES = 25;
const canBpf = process.getuid?.() === 0;
if (!canBpf) console.warn('[skip] tls-handshakes e2e: needs root for BPF (CAP_BPF/CAP_PERFMON)');

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
    const mapPath = join(dir, 'map.json');
    await writeFile(mapPath, JSON.stringify(libsslCallMap('tls-e2e')));
    const run = await runTlsAgent({
      dir,
      server,
      handshakes: HANDSHAKES,
      mapPath,
      service: 'tls-e2e',
      nodeName: 'e2e-node',
    });

    const handshakes = run.observations.filter((o) => o.function === 'tls/SSL_do_handshake' && o.pid === run.pid);
    const hits = handshakes.reduce((n, o) => n + o.hitCount, 0);
    expect(run.bpftraceHandshakes).toBe(HANDSHAKES);
    expect(hits).toBe(HANDSHAKES);
    expect(new Set(handshakes.map((o) => o.nodeHash))).toEqual(new Set([nodeHash(PURL, 'SSL_do_handshake')]));
    expect(
      handshakes.every((o) => o.service === 'tls-e2e' && o.binaryPath === LIBSSL && o.comm.startsWith('python3')),
    ).toBe(true);
    // The server (openssl s_server) also runs SSL code in libssl but is not a target.
    expect(run.observations.some((o) => o.pid === server.process.pid)).toBe(false);
  });
});

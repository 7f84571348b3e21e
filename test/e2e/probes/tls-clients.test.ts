// SPDX-License-Identifier: Apache-2.0
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { interruptBpftrace } from '@stella/sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlArgsFor, startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { canBpf, drive, hits, LIBDIR, startAgent, stopDriven, tempDir, until, uprobeRefusal } from './support.js';

const LIBSSL = `${LIBDIR}/libssl.so.3`;
const GNUTLS = `${LIBDIR}/libgnutls.so.30`;
const NODE = '/usr/bin/node';
const SSL_PURL = 'pkg:deb/debian/libssl3@3.0.19?arch=amd64';
const NODE_PURL = 'pkg:deb/debian/nodejs@20.20.2?arch=amd64';
const GNUTLS_PURL = 'pkg:deb/debian/libgnutls30@3.7.9?arch=amd64';
const N = 5;

/** bpftrace count() per probe, keyed by a label, on the same symbols and processes as the agent. */
async function bpftrace(probes: Record<string, string>) {
  const program = Object.entries(probes)
    .map(([label, probe]) => `${probe} { @${label}[pid] = count(); }`)
    .join('\n');
  // BEGIN fires once every probe is attached ("Attaching N probes" is printed before).
  const child = drive('bpftrace', ['-B', 'line', '-e', `${program}\nBEGIN { printf("armed\\n"); }`]);
  await child.line('armed', 120_000);
  return {
    raw: () => child.output().replace(/\n/g, ' '),
    /** Calls per label, summed over the given pids only (other tests may run the same programs). */
    async stop(pidsOf: (label: string) => Set<number>): Promise<Record<string, number>> {
      await interruptBpftrace(child.process);
      await child.exited;
      const out: Record<string, number> = {};
      for (const label of Object.keys(probes)) {
        out[label] = 0;
        for (const m of child.output().matchAll(new RegExp(`@${label}\\[(\\d+)\\]: (\\d+)`, 'g')))
          if (pidsOf(label).has(Number(m[1]))) out[label] += Number(m[2]);
      }
      return out;
    },
  };
}

describe.skipIf(!canBpf || uprobeRefusal !== undefined)(
  'TLS clients: libssl (curl, python ssl), node static OpenSSL, GnuTLS',
  () => {
    let dir: string;
    let server: TlsServer;
    beforeAll(async () => {
      dir = await tempDir('stella-tls-clients-');
      server = await startOpensslServer(dir);
    });
    afterAll(async () => {
      await stopDriven();
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('counts each client’s handshake entry points, agreeing with bpftrace', { timeout: 180_000 }, async () => {
      const python = drive('python3', [
        join(import.meta.dirname, '../agent/fixtures/tls_client.py'),
        String(server.port),
        server.certPath,
        String(N),
      ]);
      const node = drive(NODE, [
        join(import.meta.dirname, 'fixtures/node_https_client.mjs'),
        String(server.port),
        server.certPath,
        String(N),
      ]);
      await python.line('ready');
      await node.line('ready');
      const ssl = (symbol: string) => ({
        function: `tls/${symbol}`,
        library: 'libssl.so.3',
        binaryPath: LIBSSL,
        purl: SSL_PURL,
      });
      const agent = await startAgent({
        service: 'tls-clients',
        calls: [ssl('SSL_do_handshake'), ssl('SSL_connect')],
        targets: [`{service: tls-clients, executables: [/usr/bin/curl, /usr/bin/openssl], pids: [${python.pid}]}`],
        extraMaps: [
          {
            service: 'node-client',
            calls: [{ function: 'tls/SSL_set_connect_state', library: 'node', binaryPath: NODE, purl: NODE_PURL }],
          },
          {
            service: 'gnutls-client',
            calls: [
              { function: 'tls/gnutls_handshake', library: 'libgnutls.so.30', binaryPath: GNUTLS, purl: GNUTLS_PURL },
            ],
          },
        ],
        // The map services are resolved per target rule; gnutls-cli and node get their own.
        extraTargets: [
          `{service: node-client, pids: [${node.pid}]}`,
          '{service: gnutls-client, executables: [/usr/bin/gnutls-cli]}',
        ],
      });
      // The agent stops waiting for attaches after probes.attach_timeout_ms and finishes them in the
      // background; placing probes in node's 100 MB binary takes longer than that under qemu's
      // emulation (the kernel matrix). Exact counts need every call attached before the clients run.
      const calls = ['tls/SSL_do_handshake', 'tls/SSL_connect', 'tls/SSL_set_connect_state', 'tls/gnutls_handshake'];
      await until(() => calls.every((fn) => agent.status(fn)?.state === 'attached'), 120_000, 'every call attached');
      const independent = await bpftrace({
        curl: `uprobe:${LIBSSL}:SSL_do_handshake /comm == "curl"/`,
        python: `uprobe:${LIBSSL}:SSL_do_handshake /pid == ${python.pid}/`,
        node: `uprobe:${NODE}:SSL_set_connect_state /pid == ${node.pid}/`,
        gnutls: `uprobe:${GNUTLS}:gnutls_handshake /comm == "gnutls-cli"/`,
      });
      const mine = new Set<number>([python.pid, node.pid]);
      const pidsBy: Record<string, Set<number>> = { curl: new Set(), openssl: new Set(), 'gnutls-cli': new Set() };
      /**
       * Runs a client to completion, feeding it `input`. Bounded: a client that does not finish in
       * 30 s is killed and the test fails naming it and what it printed (never a silent hang).
       */
      const spawnRun = (cmd: string, args: string[], input = '') => {
        const child = execFile(cmd, args);
        let output = '';
        child.stdout?.on('data', (d) => {
          output += String(d);
        });
        child.stderr?.on('data', (d) => {
          output += String(d);
        });
        // A client may exit before reading its input (EPIPE): that is the client's business, not a
        // test failure; its exit and counts are what the test checks.
        child.stdin?.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code !== 'EPIPE') throw error;
        });
        child.stdin?.end(input);
        mine.add(child.pid!);
        pidsBy[cmd]?.add(child.pid!);
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${cmd} did not finish in 30 s; it printed:\n${output}`));
          }, 30_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      };
      for (let i = 0; i < N; i++) await spawnRun('curl', curlArgsFor(server));
      for (let i = 0; i < N; i++) {
        // A request on stdin: s_server -www answers and closes the connection, which ends
        // gnutls-cli whatever the order of handshake and end of input (an empty stdin raced it).
        await spawnRun(
          'gnutls-cli',
          ['--x509cafile', server.certPath, '--sni-hostname', 'localhost', '-p', String(server.port), '127.0.0.1'],
          'GET / HTTP/1.0\r\n\r\n',
        );
      }
      // One round each; closing stdin then ends the python client (it reads rounds until EOF).
      python.send('go');
      python.process.stdin?.end();
      node.send('go');
      await python.line('done');
      await node.line('done');
      await Promise.all([python.exited, node.exited]);
      await sleep(300);
      const counts = await independent.stop((label) => (label === 'gnutls' ? pidsBy['gnutls-cli']! : mine));
      console.log('[tls-clients] bpftrace', JSON.stringify(counts));
      const observations = await agent.stop();
      const of = (fn: string, comm?: string, pid?: number) =>
        hits(
          observations.filter(
            (o) => mine.has(o.pid) && (comm === undefined || o.comm === comm) && (pid === undefined || o.pid === pid),
          ),
          fn,
        );
      console.log(
        '[tls-clients] agent',
        of('tls/SSL_do_handshake', 'curl'),
        of('tls/gnutls_handshake', 'gnutls-cli'),
        of('tls/SSL_set_connect_state', undefined, node.pid),
      );
      expect(of('tls/SSL_do_handshake', undefined, python.pid)).toBe(N);
      expect(counts.python).toBe(N);
      expect(counts.curl).toBeGreaterThanOrEqual(N);
      expect(of('tls/SSL_do_handshake', 'curl')).toBe(counts.curl);
      expect(of('tls/SSL_set_connect_state', undefined, node.pid)).toBe(N);
      expect(counts.node).toBe(N);
      expect(counts.gnutls).toBeGreaterThanOrEqual(N);
      expect(of('tls/gnutls_handshake', 'gnutls-cli')).toBe(counts.gnutls);
      // node's calls are the node binary's, not libssl's: two different nodeHashes (docs/FUNCTION-MAP.md "The contract").
      expect(observations.filter((o) => o.pid === node.pid).every((o) => o.binaryPath === NODE)).toBe(true);
    });
  },
);

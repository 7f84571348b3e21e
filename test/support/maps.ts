// SPDX-License-Identifier: Apache-2.0
import type { ChildProcess } from 'node:child_process';
import { nodeHash, pathHash } from '../../core/src/function-map/index.js';

export const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
/** Any libssl3 purl works: observations carry the map's own nodeHash. */
export const LIBSSL_PURL = 'pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64';

/** A map's expected call of `tls/<symbol>` in libssl.so.3, probed by uprobe. */
export function libsslCall(symbol: string) {
  return {
    function: `tls/${symbol}`,
    symbol,
    library: 'libssl.so.3',
    purl: LIBSSL_PURL,
    binaryPath: LIBSSL,
    probeTypes: ['uprobe'],
    nodeHash: nodeHash(LIBSSL_PURL, symbol),
    optional: false,
  };
}

/**
 * A Function Map V1 whose one required path is `tls/<symbol>` in libssl.so.3 (SSL_do_handshake by
 * default). Everything else a workload calls in libssl is, by design, unexpected.
 */
export function libsslCallMap(service: string, symbol = 'SSL_do_handshake', windowSeconds = 600): unknown {
  const subject = `pkg:generic/${service}@1.0.0`;
  const entry = { symbol: 'main', purl: subject, nodeHash: nodeHash(subject, 'main') };
  const call = libsslCall(symbol);
  return {
    _type: 'https://stella.ops/predicates/function-map/v1',
    subject: { purl: subject, digest: { sha256: '2'.repeat(64) } },
    predicate: {
      schemaVersion: '1.0.0',
      service,
      coverage: { minObservationRate: 0.95, windowSeconds, failOnUnexpected: false },
      expectedPaths: [
        {
          pathId: 'tls-handshake',
          tags: ['tls'],
          priority: 'crypto',
          optional: false,
          entrypoint: entry,
          expectedCalls: [call],
          pathHash: pathHash([entry.nodeHash, call.nodeHash]),
        },
      ],
    },
  };
}

/** Resolves once the child has printed `n` more lines equal to `text` (or matching it) on stdout. */
export function stdoutLines(child: ChildProcess, text: string | RegExp, n = 1): Promise<void> {
  const matches = (line: string) => (typeof text === 'string' ? line.trim() === text : text.test(line));
  return new Promise((resolve, reject) => {
    let seen = 0;
    let pending = '';
    const onData = (d: Buffer) => {
      pending += String(d);
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      seen += lines.filter(matches).length;
      if (seen >= n) {
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`${child.spawnargs.join(' ')} exited ${code} before ${String(text)}`)),
    );
  });
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Writes core/demo/function-map.json, the demo map: what curl's TLS client runs in libssl and
 * libcrypto on Debian 12. Hand-declared rather than generated so the demo shows a map that fits
 * its workload exactly (required handshake + digest paths; the rest optional, so not unexpected).
 *   node --import jiti/register core/demo/make-demo-map.ts > core/demo/function-map.json
 */
import { nodeHash, parseFunctionMap, pathHash } from '../src/function-map/index.js';

const sslPurl = 'pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64&distro=debian-12';
const cryptoPurl = sslPurl;
const lib = (name: string) => `/usr/lib/x86_64-linux-gnu/${name}`;
const call = (fn: string, library: string, purl: string, optional = false) => {
  const symbol = fn.split('/')[1]!;
  return {
    function: fn,
    symbol,
    library,
    purl,
    binaryPath: lib(library),
    probeTypes: ['uprobe'],
    nodeHash: nodeHash(purl, symbol),
    optional,
  };
};
const subjectPurl = 'pkg:generic/stella-demo-tls-client@1.0.0';
const entry = { symbol: 'main', purl: subjectPurl, nodeHash: nodeHash(subjectPurl, 'main') };
const path = (
  pathId: string,
  description: string,
  tags: string[],
  priority: string,
  optional: boolean,
  calls: ReturnType<typeof call>[],
) => ({
  pathId,
  description,
  tags,
  priority,
  optional,
  entrypoint: entry,
  expectedCalls: calls,
  pathHash: pathHash([entry.nodeHash, ...calls.map((c) => c.nodeHash)]),
});
const map = {
  _type: 'https://stella.ops/predicates/function-map/v1',
  subject: { purl: subjectPurl, digest: { sha256: '0'.repeat(64) }, name: 'demo-tls' },
  predicate: {
    schemaVersion: '1.0.0',
    service: 'demo-tls',
    buildId: 'demo',
    generatedAt: '2026-11-27T00:00:00.000Z',
    generatedFrom: { sbomRef: 'core/demo/README.md', sbomDigest: 'sha256:' + '0'.repeat(64) },
    generator: { name: 'stella (hand-written demo map)', version: '0.1.0' },
    coverage: { minObservationRate: 0.95, windowSeconds: 1800, failOnUnexpected: false },
    hotFunctions: ['tls/SSL_connect', 'tls/SSL_do_handshake', 'tls/SSL_accept', 'crypto/EVP_DigestFinal_ex'],
    expectedPaths: [
      path('tls-client-handshake', 'TLS client handshake through libssl (curl, python ssl)', ['tls'], 'crypto', false, [
        call('tls/SSL_connect', 'libssl.so.3', sslPurl),
        call('tls/SSL_do_handshake', 'libssl.so.3', sslPurl),
      ]),
      path(
        'tls-server-handshake',
        'TLS server handshake (openssl s_server): optional, the demo targets only the client',
        ['tls'],
        'crypto',
        true,
        [call('tls/SSL_accept', 'libssl.so.3', sslPurl)],
      ),
      path(
        'tls-client-setup',
        'What curl also runs per connection: context, connect state, shutdown',
        ['tls'],
        'crypto',
        true,
        [
          call('tls/SSL_CTX_new', 'libssl.so.3', sslPurl, true),
          call('tls/SSL_set_connect_state', 'libssl.so.3', sslPurl, true),
          call('tls/SSL_shutdown', 'libssl.so.3', sslPurl, true),
        ],
      ),
      path(
        'crypto-handshake-primitives',
        'Key exchange, signature check, record cipher and digests a TLS 1.3 client handshake uses',
        ['crypto'],
        'crypto',
        true,
        [
          'EVP_PKEY_keygen',
          'EVP_PKEY_derive',
          'EVP_PKEY_derive_set_peer',
          'EVP_DigestVerifyInit_ex',
          'EVP_CipherInit_ex',
          'EVP_DigestInit_ex',
          'EVP_DigestInit_ex2',
          'EVP_Digest',
        ].map((s) => call(`crypto/${s}`, 'libcrypto.so.3', cryptoPurl, true)),
      ),
      path('crypto-transcript-digest', 'Handshake transcript digest in libcrypto', ['crypto'], 'crypto', false, [
        call('crypto/EVP_DigestFinal_ex', 'libcrypto.so.3', cryptoPurl),
      ]),
    ],
  },
};
parseFunctionMap(map, 'demo');
console.log(JSON.stringify(map, null, 2));

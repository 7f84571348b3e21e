// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { functionMapDigest, nodeHash } from '../../src/function-map/hash.js';
import { formatLearnDiff, learnFunctionMap } from '../../src/function-map/learn.js';
import { parseFunctionMap } from '../../src/function-map/parse.js';
import type { FunctionMap, LearningProvenance } from '../../src/function-map/types.js';
import { verifyObservations } from '../../src/verify/index.js';
import { call, LIBSSL, makeMap, NODE, obs, path } from './helpers.js';

const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const CRYPTO = '/usr/lib/x86_64-linux-gnu/libcrypto.so.3';
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const WINDOW = { from: new Date('2026-03-01T10:00:00Z'), to: new Date('2026-03-01T11:00:00Z') };
const AT = '2026-03-01T10:15:00.000Z';

const handshake = call('tls/SSL_do_handshake', LIBSSL, SSL);
const connect = call('tls/SSL_connect', LIBSSL, SSL, true);
const accept = call('tls/SSL_accept', LIBSSL, SSL, true);
const digest = call('crypto/EVP_DigestInit_ex', LIBSSL, CRYPTO);
const digestFinal = call('crypto/EVP_DigestFinal_ex', LIBSSL, CRYPTO);
const sign = call('crypto/EVP_PKEY_sign', LIBSSL, CRYPTO);
const nodeHandshake = call('tls/SSL_do_handshake', NODE, '/usr/bin/node');
const write = call('tls/SSL_write', LIBSSL, SSL);

/** Six paths, one of each fate: kept, narrowed, any-of unseen, required unseen, optional, optional seen. */
function baseMap(failOnUnexpected = false): FunctionMap {
  return makeMap(
    [
      path('tls-handshake:libssl.so.3', ['tls'], [handshake]),
      path('digest-chain', ['crypto'], [digest, digestFinal]),
      path('tls-entry:libssl.so.3', ['tls'], [connect, accept]),
      path('crypto/EVP_PKEY_sign:libcrypto.so.3', ['crypto'], [sign]),
      path('tls-handshake:node', ['tls'], [nodeHandshake], true),
      path('tls/SSL_write:libssl.so.3', ['tls'], [write], true),
    ],
    { failOnUnexpected },
  );
}

/** What a workload did in the window: handshakes, digests without a final, writes, and a connect(2). */
function workload(): Observation[] {
  return [
    obs(handshake, AT, { hitCount: 4 }),
    obs(handshake, '2026-03-01T10:20:00.000Z'),
    obs(digest, AT, { hitCount: 7 }),
    obs(write, AT, { hitCount: 2 }),
    obs({ function: 'net/connect', binaryPath: LIBC, nodeHash: nodeHash('pkg:deb/debian/libc6@2.36', 'connect') }, AT, {
      probeType: 'tracepoint',
      purl: 'pkg:deb/debian/libc6@2.36',
      hitCount: 3,
    }),
    obs(handshake, '2026-03-01T09:00:00.000Z', { hitCount: 50 }), // before the window
  ];
}

async function learn(
  map: FunctionMap,
  flags: { dropUnobserved?: boolean; acceptUnexpected?: boolean | string[] } = {},
) {
  const report = await verifyObservations(map, workload(), WINDOW);
  const provenance: LearningProvenance = {
    from: WINDOW.from.toISOString(),
    to: WINDOW.to.toISOString(),
    observationsDigest: `sha256:${'b'.repeat(64)}`,
    observationsInWindow: 5,
    baseMapDigest: functionMapDigest(map),
  };
  const result = learnFunctionMap({
    map,
    report,
    provenance,
    generator: { name: 'stella', version: '0.1.0' },
    now: new Date('2026-03-01T12:00:00Z'),
    ...flags,
  });
  return { report, result, provenance };
}

const byId = (map: FunctionMap, id: string) => map.predicate.expectedPaths.find((p) => p.pathId === id);

describe('function-map learn', () => {
  it('starts from a map the workload fails', async () => {
    const { report } = await learn(baseMap());
    expect(report.verdict).toBe('fail');
    expect(report.observationRate).toBe(1 / 4);
  });

  it('keeps observed paths required, makes unseen ones optional, narrows a partly seen one', async () => {
    const { result } = await learn(baseMap());
    const map = result.map;
    expect(byId(map, 'tls-handshake:libssl.so.3')).toEqual(byId(baseMap(), 'tls-handshake:libssl.so.3'));
    // The chain ran as far as EVP_DigestInit_ex: the path stays required on it, the final is optional.
    const chain = byId(map, 'digest-chain')!;
    expect(chain.optional).toBe(false);
    expect(chain.expectedCalls.map((c) => [c.function, c.optional])).toEqual([
      ['crypto/EVP_DigestInit_ex', false],
      ['crypto/EVP_DigestFinal_ex', true],
    ]);
    expect(chain.pathHash).toBe(byId(baseMap(), 'digest-chain')!.pathHash);
    expect(byId(map, 'tls-entry:libssl.so.3')!.optional).toBe(true);
    expect(byId(map, 'crypto/EVP_PKEY_sign:libcrypto.so.3')!.optional).toBe(true);
    expect(byId(map, 'tls-handshake:node')!.optional).toBe(true);
    expect(map.predicate.expectedPaths.map((p) => p.pathId)).toEqual(
      baseMap().predicate.expectedPaths.map((p) => p.pathId),
    );
    expect(result.changes.filter((c) => c.kind === 'review')).toEqual([
      { kind: 'review', function: 'net/connect', binaryPath: LIBC, hitCount: 3 },
    ]);
  });

  it('under the learned map the same observations verify pass', async () => {
    for (const flags of [{}, { dropUnobserved: true }, { acceptUnexpected: true }]) {
      const { result } = await learn(baseMap(), flags);
      const again = await verifyObservations(result.map, workload(), WINDOW);
      expect(again.verdict, JSON.stringify(flags)).toBe('pass');
      expect(again.observationRate).toBe(1);
    }
  });

  it('--drop-unobserved drops required paths never observed, keeps optional ones', async () => {
    const { result } = await learn(baseMap(), { dropUnobserved: true });
    expect(result.map.predicate.expectedPaths.map((p) => p.pathId)).toEqual([
      'tls-handshake:libssl.so.3',
      'digest-chain',
      'tls-handshake:node',
      'tls/SSL_write:libssl.so.3',
    ]);
  });

  it('--accept-unexpected adds undeclared calls with the nodeHash the records carry', async () => {
    const { result } = await learn(baseMap(true), { acceptUnexpected: true });
    const added = byId(result.map, 'net/connect:libc.so.6')!;
    expect(added).toMatchObject({ optional: false, tags: ['net'], priority: 'net' });
    expect(added.expectedCalls).toEqual([
      {
        function: 'net/connect',
        symbol: 'connect',
        library: 'libc.so.6',
        purl: 'pkg:deb/debian/libc6@2.36',
        binaryPath: LIBC,
        probeTypes: ['kprobe', 'tracepoint'],
        nodeHash: nodeHash('pkg:deb/debian/libc6@2.36', 'connect'),
        optional: false,
      },
    ]);
    // failOnUnexpected: only the accepted map passes.
    const again = await verifyObservations(result.map, workload(), WINDOW);
    expect(again.unexpectedSymbolsCount).toBe(0);
    expect(again.verdict).toBe('pass');
    const notAccepted = await learn(baseMap(true));
    expect((await verifyObservations(notAccepted.result.map, workload(), WINDOW)).verdict).toBe('fail');
    expect(formatLearnDiff(notAccepted.result, baseMap(true))).toContain('the map sets failOnUnexpected');
  });

  it('--accept-unexpected with globs adds only the calls whose function id matches', async () => {
    const none = await learn(baseMap(), { acceptUnexpected: ['tls/*', 'crypto/EVP_*'] });
    expect(none.result.changes.filter((c) => c.kind === 'added')).toEqual([]);
    expect(none.result.changes.filter((c) => c.kind === 'review')).toHaveLength(1);
    const net = await learn(baseMap(), { acceptUnexpected: ['net/*'] });
    expect(net.result.changes.filter((c) => c.kind === 'added').map((c) => c.kind === 'added' && c.pathId)).toEqual([
      'net/connect:libc.so.6',
    ]);
  });

  it('records its provenance and stays valid against the function map schema', async () => {
    const { result, provenance } = await learn(baseMap(), { acceptUnexpected: true });
    expect(result.map.predicate.generatedFrom).toEqual({ learning: provenance });
    expect(result.map.predicate.generatedAt).toBe('2026-03-01T12:00:00.000Z');
    const reread = parseFunctionMap(JSON.parse(JSON.stringify(result.map)), 'learned.json');
    expect(reread).toEqual(result.map);
    // A generated map keeps what it was generated from beside the learning.
    const generated = baseMap();
    generated.predicate.generatedFrom = { sbomRef: 'app.cdx.json', sbomDigest: `sha256:${'c'.repeat(64)}` };
    const second = await learn(generated);
    expect(second.result.map.predicate.generatedFrom).toEqual({
      sbomRef: 'app.cdx.json',
      sbomDigest: `sha256:${'c'.repeat(64)}`,
      learning: second.provenance,
    });
    expect(() => parseFunctionMap(JSON.parse(JSON.stringify(second.result.map)), 'x')).not.toThrow();
  });

  it('prints a diff a person reads: what changed, why, with hit counts', async () => {
    const { result } = await learn(baseMap());
    const diff = formatLearnDiff(result, baseMap());
    expect(diff).toContain('  = tls-handshake:libssl.so.3: stays required, observed (5 hits)');
    expect(diff).toContain(
      '  ~ digest-chain: stays required on the calls observed (7 hits); never called, now optional: crypto/EVP_DigestFinal_ex',
    );
    expect(diff).toContain('  ~ crypto/EVP_PKEY_sign:libcrypto.so.3: required → optional, never observed (0 hits)');
    expect(diff).toContain('  = tls/SSL_write:libssl.so.3: stays optional (2 hits)');
    expect(diff).not.toContain('tls-handshake:node');
    expect(diff).toContain(`  ? net/connect in ${LIBC}: observed but undeclared (3 hits), not added`);
    expect(diff).toContain('required paths 4 → 2: 1 observed and kept, 2 optional unchanged, 2 made optional');
    expect(diff).toContain('rerun with --accept-unexpected');
  });
});

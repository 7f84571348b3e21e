// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { functionMapDigest } from '../../src/function-map/hash.js';
import { VerificationAccumulator, verifyObservations } from '../../src/verify/accumulator.js';
import { call, LIBCRYPTO, LIBSSL, makeMap, NODE, obs, path, SERVICE } from '../function-map/helpers.js';

const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const CRYPTO = '/usr/lib/x86_64-linux-gnu/libcrypto.so.3';
const window = { from: new Date('2024-05-01T12:00:00Z'), to: new Date('2024-05-01T13:00:00Z') };
const IN = '2024-05-01T12:30:00.000Z';

const sslConnect = call('tls/SSL_connect', LIBSSL, SSL);
const evpDigest = call('crypto/EVP_DigestInit_ex', LIBCRYPTO, CRYPTO);
const evpSign = call('crypto/EVP_DigestSign', LIBCRYPTO, CRYPTO);
// docs/KERNEL.md §8: node never calls SSL_do_handshake; any entry point that carries the
// handshake must do. Modelled as a path whose calls are all optional (an any-of group).
const nodeHandshake = path(
  'tls-handshake:node',
  ['tls'],
  [
    call('tls/SSL_do_handshake', NODE, '/usr/bin/node', true),
    call('tls/SSL_connect', NODE, '/usr/bin/node', true),
    call('tls/SSL_accept', NODE, '/usr/bin/node', true),
  ],
);

const map = makeMap(
  [
    path('tls-connect', ['tls'], [sslConnect]),
    path('crypto-digest', ['crypto'], [evpDigest, evpSign]),
    nodeHandshake,
    path('crypto-optional', ['crypto'], [call('crypto/EVP_EncryptInit_ex', LIBCRYPTO, CRYPTO)], true),
  ],
  { perTag: { crypto: 1 } },
);

describe('VerificationAccumulator', () => {
  it('all observed → pass, with per-path hits and times', () => {
    const acc = new VerificationAccumulator(map, window);
    expect(acc.add(obs(sslConnect, IN, { hitCount: 3 }))).toBe('matched');
    expect(acc.add(obs(evpDigest, '2024-05-01T12:10:00Z'))).toBe('matched');
    expect(acc.add(obs(evpSign, '2024-05-01T12:50:00Z'))).toBe('matched');
    expect(acc.add(obs(nodeHandshake.expectedCalls[2]!, IN))).toBe('matched');
    const r = acc.report({ generatedAt: new Date('2024-05-01T14:00:00Z') });
    expect(r.verdict).toBe('pass');
    expect(r.observationRate).toBe(1);
    expect(r.functionMap).toEqual({ service: SERVICE, buildId: 'ci-42', digest: functionMapDigest(map) });
    expect(r.window).toEqual({ from: '2024-05-01T12:00:00.000Z', to: '2024-05-01T13:00:00.000Z' });
    expect(r.paths.find((p) => p.pathId === 'crypto-digest')).toEqual({
      pathId: 'crypto-digest',
      tags: ['crypto'],
      optional: false,
      observed: true,
      hitCount: 2,
      firstSeen: '2024-05-01T12:10:00.000Z',
      lastSeen: '2024-05-01T12:50:00.000Z',
      missingCalls: [],
    });
    expect(r.paths.find((p) => p.pathId === 'tls-connect')?.hitCount).toBe(3);
    expect(r.paths.find((p) => p.pathId === 'crypto-optional')).toMatchObject({ observed: false, optional: true });
    expect(r.perTag.crypto).toEqual({ rate: 1, min: 1, observed: 1, required: 1, pass: true });
    expect(r.perTag.tls).toEqual({ rate: 1, min: null, observed: 2, required: 2, pass: true });
    expect(r.failureReasons).toEqual([]);
    expect(r.generatedAt).toBe('2024-05-01T14:00:00.000Z');
    expect(r.probeHealth).toBeNull();
  });

  it('a path needs every required call; the missing ones are listed; the rate and tag minimum fail', () => {
    const acc = new VerificationAccumulator(map, window);
    acc.add(obs(sslConnect, IN));
    acc.add(obs(evpDigest, IN));
    acc.add(obs(nodeHandshake.expectedCalls[0]!, IN));
    const r = acc.report();
    const digest = r.paths.find((p) => p.pathId === 'crypto-digest')!;
    expect(digest.observed).toBe(false);
    expect(digest.missingCalls).toEqual([
      { function: 'crypto/EVP_DigestSign', symbol: 'EVP_DigestSign', binaryPath: CRYPTO, nodeHash: evpSign.nodeHash },
    ]);
    expect(r.observationRate).toBeCloseTo(2 / 3);
    expect(r.verdict).toBe('fail');
    expect(r.failureReasons).toEqual([
      'observation rate 66.67% (2/3 required paths) is below the minimum 95%',
      'tag "crypto" rate 0% (0/1) is below its minimum 100%',
    ]);
  });

  it('an any-of path (all calls optional) is missing all of them until one is seen', () => {
    const acc = new VerificationAccumulator(map, window);
    const r = acc.report();
    const hs = r.paths.find((p) => p.pathId === 'tls-handshake:node')!;
    expect(hs.observed).toBe(false);
    expect(hs.missingCalls.map((c) => c.function)).toEqual([
      'tls/SSL_do_handshake',
      'tls/SSL_connect',
      'tls/SSL_accept',
    ]);
    expect(r.observationRate).toBe(0);
    expect(r.observationsRead).toBe(0);
  });

  it('the same symbol in libssl and in /usr/bin/node are two calls', () => {
    const acc = new VerificationAccumulator(map, window);
    acc.add(obs(nodeHandshake.expectedCalls[1]!, IN)); // node's SSL_connect
    const r = acc.report();
    expect(r.paths.find((p) => p.pathId === 'tls-connect')!.observed).toBe(false);
    expect(r.paths.find((p) => p.pathId === 'tls-handshake:node')!.observed).toBe(true);
  });

  it('optional paths only → rate 1.0 and pass', async () => {
    const onlyOptional = makeMap([path('p', ['crypto'], [evpDigest], true)]);
    const r = await verifyObservations(onlyOptional, [], window);
    expect(r.observationRate).toBe(1);
    expect(r.verdict).toBe('pass');
    expect(r.perTag.crypto).toMatchObject({ rate: 1, required: 0 });
  });

  it('window: from inclusive, to exclusive', () => {
    const acc = new VerificationAccumulator(map, window);
    expect(acc.add(obs(sslConnect, '2024-05-01T12:00:00.000Z'))).toBe('matched');
    expect(acc.add(obs(sslConnect, '2024-05-01T13:00:00.000Z'))).toBe('out-of-window');
    expect(acc.add(obs(sslConnect, '2024-05-01T11:59:59.999Z'))).toBe('out-of-window');
    expect(acc.add(obs(sslConnect, '2024-05-01T12:59:59.999+00:00'))).toBe('matched');
    const r = acc.report();
    expect(r.observationsRead).toBe(4);
    expect(r.observationsSkipped).toMatchObject({ outOfWindow: 2, malformed: 0 });
    expect(r.paths[0]!.hitCount).toBe(2);
  });

  it('unexpected symbols: distinct by nodeHash, with processes; failOnUnexpected fails the verdict', () => {
    const strict = makeMap([path('tls-connect', ['tls'], [sslConnect])], { failOnUnexpected: true });
    const acc = new VerificationAccumulator(strict, window);
    const rogue = call('crypto/RC4', LIBCRYPTO, CRYPTO);
    acc.add(obs(sslConnect, IN));
    expect(acc.add(obs(rogue, '2024-05-01T12:40:00Z', { pid: 7, comm: 'worker' }))).toBe('unexpected');
    acc.add(obs(rogue, '2024-05-01T12:20:00Z', { pid: 3, comm: 'main', hitCount: 4 }));
    acc.add(obs(rogue, IN, { pid: 7, comm: 'worker' }));
    // Same function, another library: another node.
    acc.add(obs(call('crypto/RC4', 'pkg:generic/bundled-openssl', '/opt/app/libcrypto.so'), IN));
    const r = acc.report();
    expect(r.unexpectedSymbolsCount).toBe(2);
    expect(r.unexpectedSymbols[0]).toEqual({
      function: 'crypto/RC4',
      symbol: 'RC4',
      binaryPath: CRYPTO,
      purl: LIBCRYPTO,
      nodeHash: rogue.nodeHash,
      hitCount: 6,
      firstSeen: '2024-05-01T12:20:00.000Z',
      lastSeen: '2024-05-01T12:40:00.000Z',
      processes: [
        { pid: 3, comm: 'main' },
        { pid: 7, comm: 'worker' },
      ],
    });
    expect(r.verdict).toBe('fail');
    expect(r.failureReasons).toEqual(['2 unexpected symbol(s) observed and the map sets failOnUnexpected']);
  });

  it('a record without nodeHash matches on function + binaryPath, and a different nodeHash does not', () => {
    const acc = new VerificationAccumulator(map, window);
    expect(acc.add(obs({ function: 'tls/SSL_connect', binaryPath: SSL }, IN))).toBe('matched');
    expect(acc.add(obs({ function: 'tls/SSL_connect', binaryPath: '/other/libssl.so.3' }, IN))).toBe('unexpected');
    expect(acc.add(obs(sslConnect, IN, { nodeHash: `sha256:${'0'.repeat(64)}` }))).toBe('unexpected');
  });

  it('malformed records and other services are counted apart, with bounded samples', () => {
    const acc = new VerificationAccumulator(map, window);
    expect(acc.add(obs(sslConnect, 'yesterday'))).toBe('malformed');
    expect(acc.add(obs(sslConnect, IN, { hitCount: 0 }))).toBe('malformed');
    expect(acc.add(obs(sslConnect, IN, { service: 'billing' }))).toBe('other-service');
    for (let i = 0; i < 30; i++) acc.skipMalformed('not JSON', `obs.ndjson:${i + 1}`);
    const r = acc.report();
    expect(r.observationsRead).toBe(33);
    expect(r.observationsSkipped.malformed).toBe(32);
    expect(r.observationsSkipped.otherService).toBe(1);
    expect(r.observationsSkipped.malformedSamples).toHaveLength(20);
    expect(r.observationsSkipped.malformedSamples[0]).toEqual({
      location: 'record 1',
      reason: 'observedAt is not an ISO-8601 time',
    });
    expect(r.observationsSkipped.malformedSamples[2]).toEqual({ location: 'obs.ndjson:1', reason: 'not JSON' });
  });

  it('refuses an empty window', () => {
    expect(() => new VerificationAccumulator(map, { from: window.to, to: window.to })).toThrow(
      'verification window is empty: from 2024-05-01T13:00:00.000Z is not before to 2024-05-01T13:00:00.000Z',
    );
  });

  it('verifyObservations reads async sources too', async () => {
    async function* gen() {
      yield obs(sslConnect, IN);
    }
    const r = await verifyObservations(makeMap([path('tls-connect', ['tls'], [sslConnect])]), gen(), window);
    expect(r.verdict).toBe('pass');
  });
});

describe('unexpected symbols: the process sample', () => {
  it('keeps the 20 lowest pids, whatever order the records and the parallel readers come in', () => {
    const rc4 = call('crypto/RC4', LIBCRYPTO, CRYPTO);
    const pids = Array.from({ length: 60 }, (_, i) => 1000 + ((i * 37) % 60)); // a shuffled 1000..1059
    const sample = (acc: VerificationAccumulator) =>
      acc.report().unexpectedSymbols[0]!.processes.map((p: { pid: number }) => p.pid);
    const lowest = Array.from({ length: 20 }, (_, i) => 1000 + i);

    const forward = new VerificationAccumulator(map, window);
    for (const pid of pids) forward.add(obs(rc4, IN, { pid }));
    const backward = new VerificationAccumulator(map, window);
    for (const pid of [...pids].reverse()) backward.add(obs(rc4, IN, { pid }));
    expect(sample(forward)).toEqual(lowest);
    expect(sample(backward)).toEqual(lowest);

    // Two readers, each with half, merged either way round.
    const halves = [pids.filter((p) => p % 2 === 1), pids.filter((p) => p % 2 === 0)].map((half) => {
      const acc = new VerificationAccumulator(map, window);
      for (const pid of half) acc.add(obs(rc4, IN, { pid }));
      return acc.exportState();
    });
    for (const order of [halves, [...halves].reverse()]) {
      const merged = new VerificationAccumulator(map, window);
      for (const state of order) merged.mergeState(state);
      expect(sample(merged)).toEqual(lowest);
      expect(merged.report().unexpectedSymbols[0]!.hitCount).toBe(60);
    }
  });
});

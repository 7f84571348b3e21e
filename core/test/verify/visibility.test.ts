// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { VerificationAccumulator } from '../../src/verify/accumulator.js';
import { formatReport } from '../../src/verify/format.js';
import { call, LIBSSL, makeMap, obs, path } from '../function-map/helpers.js';

const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const CRYPTO = '/usr/lib/x86_64-linux-gnu/libcrypto.so.3';
const connect = call('tls/SSL_connect', LIBSSL, SSL);
const accept = call('tls/SSL_accept', LIBSSL, SSL);
const digest = call('crypto/EVP_DigestInit_ex', LIBSSL, CRYPTO);
const map = makeMap([
  path('tls-connect', ['tls'], [connect]),
  path('tls-accept', ['tls'], [accept]),
  path('digest', ['crypto'], [digest]),
]);
const window = { from: new Date('2024-05-01T12:00:00Z'), to: new Date('2024-05-01T13:00:00Z') };
/** A canary record as the agent writes it: `canary/<symbol>` on the map's binary path, its own node hash. */
const canary = (binaryPath: string, pid: number, at = '2024-05-01T12:05:00Z') =>
  obs({ function: 'canary/SSL_CTX_new_ex', binaryPath, nodeHash: `canary-${binaryPath}` }, at, { pid });

describe('unobserved paths: not exercised or not observable (canaries)', () => {
  it('a canary in the library makes a missing path "not exercised"; none makes it "not observable"', () => {
    const acc = new VerificationAccumulator(map, window);
    acc.add(obs(connect, '2024-05-01T12:10:00Z'));
    expect(acc.add(canary(SSL, 7))).toBe('canary');
    expect(acc.add(canary(SSL, 8))).toBe('canary');
    const report = acc.report();
    const byId = Object.fromEntries(report.paths.map((p) => [p.pathId, p]));
    expect(byId['tls-connect']!.visibility).toBeUndefined();
    expect(byId['tls-accept']!.visibility).toEqual({
      verdict: 'not-exercised',
      reason: `the canary of ${SSL} (2 processes) fired: the probes see the library, the path did not run`,
    });
    expect(byId.digest!.visibility?.verdict).toBe('not-observable');
    expect(byId.digest!.visibility?.reason).toContain(
      `no target process showed the canary of ${CRYPTO} (wrong binary path`,
    );
    // Never part of the rate, never unexpected.
    expect(report.observationRate).toBeCloseTo(1 / 3);
    expect(report.unexpectedSymbolsCount).toBe(0);
    expect(report.canaries).toEqual([
      {
        function: 'canary/SSL_CTX_new_ex',
        binaryPath: SSL,
        hitCount: 2,
        processes: 2,
        firstSeen: '2024-05-01T12:05:00.000Z',
        lastSeen: '2024-05-01T12:05:00.000Z',
      },
    ]);
  });

  it('the agent’s hints: a live process’s earlier canary counts, and a probe status names the reason', () => {
    const acc = new VerificationAccumulator(map, window);
    const report = acc.report({
      visibility: {
        liveCanaries: new Map([[SSL, 3]]),
        libraryNote: (l) => (l === CRYPTO ? 'build-id-mismatch: /opt/x/libcrypto.so.3 is another build' : undefined),
      },
    });
    const byId = Object.fromEntries(report.paths.map((p) => [p.pathId, p]));
    expect(byId['tls-accept']!.visibility?.verdict).toBe('not-exercised');
    expect(byId.digest!.visibility).toEqual({
      verdict: 'not-observable',
      reason: `no target process showed the canary of ${CRYPTO} (build-id-mismatch: /opt/x/libcrypto.so.3 is another build)`,
    });
  });

  it('parallel readers merge canaries', () => {
    const a = new VerificationAccumulator(map, window);
    const b = new VerificationAccumulator(map, window);
    a.add(canary(SSL, 7));
    b.add(canary(SSL, 7));
    b.add(canary(SSL, 9));
    a.mergeState(b.exportState());
    expect(a.report().canaries[0]).toMatchObject({ hitCount: 3, processes: 2 });
  });

  it('every format says which', () => {
    const acc = new VerificationAccumulator(map, window);
    acc.add(canary(SSL, 7));
    const report = acc.report();
    expect(formatReport(report, 'table')).toMatch(
      /MISSING\s+tls-accept\s+tls\s+0\s+-\s+not exercised\s+tls\/SSL_accept/,
    );
    expect(formatReport(report, 'table')).toMatch(/MISSING\s+digest\s+crypto\s+0\s+-\s+not observable/);
    expect(formatReport(report, 'markdown')).toContain('| **not exercised**: the canary of');
    expect(formatReport(report, 'junit')).toContain(
      'not observed (not observable: no target process showed the canary of',
    );
    const json = JSON.parse(formatReport(report, 'json'));
    expect(json.paths[1].visibility.verdict).toBe('not-exercised');
  });
});

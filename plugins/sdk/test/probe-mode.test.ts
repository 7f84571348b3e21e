// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { presenceIndexes } from '../src/presence-session.js';
import { countOnlyIndexes, probeModesOf } from '../src/probe-mode.js';
import type { CatalogueEntry } from '../src/types/catalogue.js';
import type { ProbeRequest } from '../src/types/probe-requests.js';

const catalogue: CatalogueEntry[] = [
  {
    name: 'OpenSSL 3 libcrypto',
    match: { name: 'libssl*' },
    libraries: [
      {
        library: 'libcrypto.so.3',
        functions: [
          { symbol: 'EVP_DigestUpdate', category: 'crypto', hot: true },
          { symbol: 'EVP_DigestInit_ex', category: 'crypto', hot: true, algorithm: { fixed: 'stand-in' } },
          { symbol: 'EVP_PKEY_sign', category: 'crypto' },
        ],
      },
    ],
  },
];

const request = (functionId: string): ProbeRequest => {
  const [category, symbol] = functionId.split('/') as [string, string];
  return {
    service: 's',
    functionId,
    category,
    symbol,
    library: 'libcrypto.so.3',
    binaryPath: '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
    nodeHash: `sha256:${symbol}`,
    probeTypes: ['uprobe'],
  };
};

describe('probeModesOf', () => {
  const requests = ['crypto/EVP_DigestUpdate', 'crypto/EVP_DigestInit_ex', 'crypto/RAND_bytes'].map(request);

  it('reads the hot flag from the catalogue: presence for hot functions, count for the rest and for unknown ones', () => {
    expect(probeModesOf(requests, catalogue, {})).toEqual(['presence', 'count', 'count']);
  });

  it('keeps a hot function that carries its algorithm in count mode, so the CBOM sees every call', () => {
    const modes = probeModesOf(requests, catalogue, {});
    expect(modes[1]).toBe('count');
    // ...and counts it in the kernel under its algorithm: no record per call.
    expect(countOnlyIndexes(requests, catalogue, modes, 0)).toEqual(new Set([1]));
  });

  it('counts a function id hot with an algorithm in one library and without in another', () => {
    const boring: CatalogueEntry = {
      name: 'BoringSSL',
      match: { name: 'boringssl' },
      libraries: [
        { library: 'libcrypto.so', functions: [{ symbol: 'EVP_DigestInit_ex', category: 'crypto', hot: true }] },
      ],
    };
    expect(probeModesOf(requests, [boring, ...catalogue], {})[1]).toBe('count');
    expect(probeModesOf(requests, [boring], {})[1]).toBe('presence');
  });

  it('lets the operator override per function, per category and for all', () => {
    expect(probeModesOf(requests, catalogue, { countModes: { 'crypto/EVP_DigestUpdate': 'count' } })).toEqual([
      'count',
      'count',
      'count',
    ]);
    expect(probeModesOf(requests, catalogue, { countMode: 'presence', countModes: { crypto: 'count' } })).toEqual([
      'count',
      'count',
      'count',
    ]);
    expect(probeModesOf(requests, catalogue, { countMode: 'presence' })).toEqual(['presence', 'presence', 'presence']);
  });

  it('puts every presence request in presence mode, whatever its index (no 1,024 cap)', () => {
    const modes = Array.from({ length: 1030 }, (_, i) => (i === 3 ? ('count' as const) : ('presence' as const)));
    const indexes = presenceIndexes(modes);
    expect(indexes.size).toBe(1029);
    expect(indexes.has(1029)).toBe(true);
    expect(indexes.has(3)).toBe(false);
  });

  it('counts hot functions in count mode in the kernel while per-call records are on', () => {
    const modes = probeModesOf(requests, catalogue, { countMode: 'count' });
    expect(countOnlyIndexes(requests, catalogue, modes, 0)).toEqual(new Set([0, 1]));
    // Aggregating, every count-mode probe is counted in the kernel already: no flag needed.
    expect(countOnlyIndexes(requests, catalogue, modes, 1000)).toEqual(new Set());
    // Presence mode is its own program: never count-only.
    expect(countOnlyIndexes(requests, catalogue, probeModesOf(requests, catalogue, {}), 0)).toEqual(new Set([1]));
    expect(
      countOnlyIndexes(requests, catalogue, probeModesOf(requests, catalogue, { countMode: 'presence' }), 0),
    ).toEqual(new Set());
  });
});

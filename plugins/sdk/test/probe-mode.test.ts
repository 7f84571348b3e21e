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
          { symbol: 'EVP_DigestInit_ex', category: 'crypto' },
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
    const hotIndex = requests.findIndex((r) => r.functionId === 'crypto/EVP_DigestUpdate');
    expect(countOnlyIndexes(requests, catalogue, modes, 0)).toEqual(new Set([hotIndex]));
    // Aggregating, every count-mode probe is counted in the kernel already: no flag needed.
    expect(countOnlyIndexes(requests, catalogue, modes, 1000)).toEqual(new Set());
    // Presence mode is its own program: never count-only.
    expect(countOnlyIndexes(requests, catalogue, probeModesOf(requests, catalogue, {}), 0)).toEqual(new Set());
  });
});

// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { presenceIndexes } from '../src/presence-session.js';
import { probeModesOf } from '../src/probe-mode.js';
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

  it('gives the kernel the presence indexes it can flag (below 1024)', () => {
    const modes = Array.from({ length: 1030 }, () => 'presence' as const);
    const indexes = presenceIndexes(modes);
    expect(indexes.size).toBe(1024);
    expect(indexes.has(1023)).toBe(true);
    expect(indexes.has(1024)).toBe(false);
  });
});

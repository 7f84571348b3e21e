// SPDX-License-Identifier: Apache-2.0
import type { CatalogueEntry, CatalogueFunction } from '@stella/sdk';

/*
 * libc file calls on sensitive paths (the agent filters by path prefix in the kernel). Observed
 * through the kernel like the net calls: kprobe, else the syscall tracepoint.
 */

const file = (symbol: string, tag: string, optional = true): CatalogueFunction => ({
  symbol,
  category: 'file',
  priority: 'general',
  probeTypes: ['kprobe', 'tracepoint'],
  optional,
  tags: ['file', tag],
});

const FILE_FUNCTIONS: CatalogueFunction[] = [
  file('open', 'file-open'),
  file('open64', 'file-open'),
  file('openat', 'file-open'),
  file('openat64', 'file-open'),
  file('read', 'file-io'),
  file('write', 'file-io'),
];

/** Which SBOM components carry which functions of this plugin's categories (used by `generate`). */
export const catalogue: CatalogueEntry[] = [
  {
    name: 'GNU C library (file)',
    match: { name: ['libc6', 'glibc'] },
    libraries: [{ library: 'libc.so.6', functions: FILE_FUNCTIONS }],
  },
  {
    name: 'musl libc (file)',
    match: { name: ['musl'] },
    libraries: [
      {
        library: 'libc.musl-x86_64.so.1',
        alternatives: ['libc.musl-aarch64.so.1', 'ld-musl-x86_64.so.1'],
        functions: FILE_FUNCTIONS,
      },
    ],
  },
];

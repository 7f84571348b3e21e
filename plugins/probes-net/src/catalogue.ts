// SPDX-License-Identifier: Apache-2.0
import type { CatalogueEntry, CatalogueFunction } from '@stella/sdk';

/*
 * libc network calls. They are observed through the kernel (kprobe, else the syscall tracepoint:
 * this machine kind has no kprobes), so probeTypes lists both; the map still names libc as the
 * library that carries them. Optional functions sharing a tag besides `net` form one any-of path.
 */

const net = (symbol: string, tag: string): CatalogueFunction => ({
  symbol,
  category: 'net',
  priority: 'net',
  probeTypes: ['kprobe', 'tracepoint'],
  optional: true,
  tags: ['net', tag],
});

const NET_FUNCTIONS: CatalogueFunction[] = [
  net('connect', 'net-outbound'),
  net('accept', 'net-inbound'),
  net('accept4', 'net-inbound'),
  net('sendto', 'net-io'),
  net('recvfrom', 'net-io'),
  net('sendmsg', 'net-io'),
  net('recvmsg', 'net-io'),
];

/** Which SBOM components carry which functions of this plugin's categories (used by `generate`). */
export const catalogue: CatalogueEntry[] = [
  {
    name: 'GNU C library (network)',
    match: { name: ['libc6', 'glibc'] },
    libraries: [{ library: 'libc.so.6', functions: NET_FUNCTIONS }],
  },
  {
    name: 'musl libc (network)',
    match: { name: ['musl'] },
    libraries: [
      {
        library: 'libc.musl-x86_64.so.1',
        alternatives: ['libc.musl-aarch64.so.1', 'ld-musl-x86_64.so.1'],
        functions: NET_FUNCTIONS,
      },
    ],
  },
];

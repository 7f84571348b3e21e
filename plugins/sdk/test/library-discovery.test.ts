// SPDX-License-Identifier: Apache-2.0
/**
 * Which target processes a library on the map's path gets per-pid links for: those that map it,
 * and those that would map this very file by that path but have not loaded it yet (so a link made
 * now sees their first call after dlopen). This test process is the target.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LibraryDiscovery } from '../src/library-discovery.js';
import type { Logger } from '../src/types/logger.js';
import type { ProbeRequest } from '../src/types/probe-requests.js';

const LIBDIR = '/usr/lib/x86_64-linux-gnu';
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

const request = (library: string, symbol: string): ProbeRequest => ({
  service: 's',
  functionId: `crypto/${symbol}`,
  category: 'crypto',
  symbol,
  library,
  binaryPath: `${LIBDIR}/${library}`,
  nodeHash: `sha256:${symbol}`,
  probeTypes: ['uprobe'],
});

const present = ['libc.so.6', 'libsodium.so.23'].every((l) => existsSync(`${LIBDIR}/${l}`));

describe.skipIf(!present)('LibraryDiscovery', () => {
  it('names a target that maps the file in pids, and one that would load it by the map path in loadable', () => {
    const discovery = new LibraryDiscovery(
      [request('libc.so.6', 'getpid'), request('libsodium.so.23', 'sodium_init')],
      quiet,
    );
    const candidates = [...discovery.scan([process.pid]).values()];
    const libc = candidates.find((c) => c.file.path.endsWith('/libc.so.6'))!;
    const sodium = candidates.find((c) => c.file.path.endsWith('/libsodium.so.23'))!;
    expect([...libc.pids]).toEqual([process.pid]);
    expect([...libc.loadable]).toEqual([]);
    // Node does not load libsodium: no mapping, yet the same file by the same path.
    expect([...sodium.pids]).toEqual([]);
    expect([...sodium.loadable]).toEqual([process.pid]);
  });

  it('leaves out a pid that is gone', () => {
    const discovery = new LibraryDiscovery([request('libsodium.so.23', 'sodium_init')], quiet);
    const [sodium] = [...discovery.scan([2 ** 22 + 7]).values()];
    expect([...sodium!.loadable]).toEqual([]);
  });
});

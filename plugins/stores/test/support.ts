// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';

/** A deterministic observation; `i` picks the function, process and time. */
export function observation(i: number, at: Date | number, over: Partial<Observation> = {}): Observation {
  const fns = ['tls/SSL_do_handshake', 'crypto/EVP_DigestInit_ex', 'crypto/EVP_EncryptInit_ex', 'net/connect'];
  const fn = fns[i % fns.length]!;
  return {
    observedAt: new Date(at).toISOString(),
    service: i % 5 === 0 ? 'billing' : 'checkout',
    function: fn,
    symbol: fn.split('/')[1]!,
    purl: 'pkg:deb/debian/libssl3@3.0.15',
    binaryPath: '/usr/lib/x86_64-linux-gnu/libssl.so.3',
    nodeHash: `sha256:${(i % fns.length).toString(16).padStart(64, '0')}`,
    probeType: 'uprobe',
    pid: 1000 + (i % 7),
    tid: 2000 + i,
    comm: 'node',
    nodeName: 'node-a',
    hitCount: 1 + (i % 3),
    ...over,
  };
}

// SPDX-License-Identifier: Apache-2.0
import { fileURLToPath } from 'node:url';
import { defineUprobePlugin, type ProbePlugin, type UprobePluginOptions } from '@stella/sdk';
import { catalogue } from './catalogue.js';

export type CryptoProbesOptions = UprobePluginOptions;

/** Compiled by `npm run build:bpf` beside its source; the same relative path from src/ and dist/. */
const OBJECT_PATH = fileURLToPath(new URL('../bpf/tls_calls.bpf.o', import.meta.url));

/**
 * Uprobes on crypto and TLS library functions (OpenSSL/BoringSSL libssl and libcrypto, GnuTLS,
 * libsodium, libgcrypt, and OpenSSL linked statically into executables such as node).
 */
export function cryptoProbes(options: Partial<CryptoProbesOptions> = {}): ProbePlugin<CryptoProbesOptions> {
  return defineUprobePlugin(
    {
      name: '@stella/probes-crypto',
      version: '0.1.0',
      categories: ['crypto', 'tls'],
      catalogue,
      objectPath: OBJECT_PATH,
    },
    options,
  );
}

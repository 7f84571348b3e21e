// SPDX-License-Identifier: Apache-2.0
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  defineProbePlugin,
  type ProbePlugin,
  startUprobeCallSession,
  type UprobeCallSessionOptions,
} from '@stella/sdk';
import { catalogue } from './catalogue.js';

export interface CryptoProbesOptions {
  /** Ring buffer bytes (power of two). Default 4 MiB: MACHINE.md measured < 3 % drops under contention. */
  ringBufferBytes: number;
  /** See `UprobeCallSessionOptions.attachScope`. Default `auto`. */
  attachScope: NonNullable<UprobeCallSessionOptions['attachScope']>;
  /** Milliseconds between periodic rescans of target processes' libraries. Default 5000. */
  rescanIntervalMs: number;
}

/** Compiled by `npm run build:bpf` beside its source; the same relative path from src/ and dist/. */
const OBJECT_PATH = fileURLToPath(new URL('../bpf/tls_calls.bpf.o', import.meta.url));

/**
 * Uprobes on crypto and TLS library functions (OpenSSL/BoringSSL libssl and libcrypto, GnuTLS,
 * libsodium, libgcrypt, and OpenSSL linked statically into executables such as node).
 */
export function cryptoProbes(options: Partial<CryptoProbesOptions> = {}): ProbePlugin<CryptoProbesOptions> {
  const resolved: CryptoProbesOptions = {
    ringBufferBytes: 4 * 1024 * 1024,
    attachScope: 'auto',
    rescanIntervalMs: 5000,
    ...options,
  };
  return defineProbePlugin<CryptoProbesOptions>(
    {
      name: '@stella/probes-crypto',
      version: '0.1.0',
      categories: ['crypto', 'tls'],
      catalogue,
      bpfObjects: [OBJECT_PATH],
      async detect({ bpf }) {
        const features = bpf.features();
        if (!features.uprobes)
          return {
            available: false,
            reason: 'the kernel has no uprobe support (/sys/bus/event_source/devices/uprobe missing)',
          };
        if (!existsSync(OBJECT_PATH))
          return { available: false, reason: `BPF object ${OBJECT_PATH} is missing: run npm run build:bpf` };
        return { available: true, mechanisms: { crypto: 'uprobe', tls: 'uprobe' } };
      },
      start(ctx, requests) {
        return startUprobeCallSession(ctx, requests, {
          plugin: '@stella/probes-crypto',
          objectPath: OBJECT_PATH,
          ringBufferBytes: resolved.ringBufferBytes,
          attachScope: resolved.attachScope,
          rescanIntervalMs: resolved.rescanIntervalMs,
        });
      },
    },
    resolved,
  );
}

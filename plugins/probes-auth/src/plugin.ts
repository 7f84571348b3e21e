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

export interface AuthProbesOptions {
  /** Ring buffer bytes (power of two). Default 4 MiB: MACHINE.md measured < 3 % drops under contention. */
  ringBufferBytes: number;
  /** See `UprobeCallSessionOptions.attachScope`. Default `auto`. */
  attachScope: NonNullable<UprobeCallSessionOptions['attachScope']>;
  /** Seconds between periodic rescans of target processes' libraries. Default 5000 ms. */
  rescanIntervalMs: number;
}

/** Compiled by `npm run build:bpf` beside its source; the same relative path from src/ and dist/. */
const OBJECT_PATH = fileURLToPath(new URL('../bpf/auth_calls.bpf.o', import.meta.url));

/**
 * Uprobes on authentication libraries: Linux-PAM (pam_authenticate, pam_acct_mgmt, …; PAM modules
 * arrive later by dlopen and are picked up at once), OpenLDAP binds, Cyrus SASL, MIT Kerberos
 * GSSAPI/krb5, and libjwt.
 */
export function authProbes(options: Partial<AuthProbesOptions> = {}): ProbePlugin<AuthProbesOptions> {
  const resolved: AuthProbesOptions = {
    ringBufferBytes: 4 * 1024 * 1024,
    attachScope: 'auto',
    rescanIntervalMs: 5000,
    ...options,
  };
  return defineProbePlugin<AuthProbesOptions>(
    {
      name: '@stella/probes-auth',
      version: '0.1.0',
      categories: ['auth'],
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
        return { available: true, mechanisms: { auth: 'uprobe' } };
      },
      start(ctx, requests) {
        return startUprobeCallSession(ctx, requests, {
          plugin: '@stella/probes-auth',
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

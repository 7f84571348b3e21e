// SPDX-License-Identifier: Apache-2.0
import { fileURLToPath } from 'node:url';
import { defineUprobePlugin, type ProbePlugin, type UprobePluginOptions } from '@stella/sdk';
import { catalogue } from './catalogue.js';

export type AuthProbesOptions = UprobePluginOptions;

/** Compiled by `npm run build:bpf` beside its source; the same relative path from src/ and dist/. */
const OBJECT_PATH = fileURLToPath(new URL('../bpf/auth_calls.bpf.o', import.meta.url));

/**
 * Uprobes on authentication libraries: Linux-PAM (pam_authenticate, pam_acct_mgmt, …; PAM modules
 * arrive later by dlopen and are picked up at once), OpenLDAP binds, Cyrus SASL, MIT Kerberos
 * GSSAPI/krb5, and libjwt.
 */
export function authProbes(options: Partial<AuthProbesOptions> = {}): ProbePlugin<AuthProbesOptions> {
  return defineUprobePlugin(
    { name: '@stella/probes-auth', version: '0.1.0', categories: ['auth'], catalogue, objectPath: OBJECT_PATH },
    options,
  );
}

// SPDX-License-Identifier: Apache-2.0
/**
 * The installed OpenSSL against what the probes read (src/algorithms.ts): a C program linked with
 * it reads the first int of each EVP_MD and EVP_CIPHER whose NID the tables name (built-in and
 * provider-fetched) and of generated keys of each type, and prints the NIDs' own names. Every first
 * int must be the NID, and every table name OpenSSL's name for that NID; and an EVP_CIPHER_CTX
 * re-initialised with a NULL cipher must hold its cipher as its first member.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  OPENSSL_CIPHERS,
  OPENSSL_DIGESTS,
  OPENSSL_KEY_AGREEMENT_KEYS,
  OPENSSL_SIGNATURE_KEYS,
} from '../src/algorithms.js';

const SOURCE = fileURLToPath(new URL('./fixtures/evp_layout.c', import.meta.url));

function toolMissing(): string | undefined {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    execFileSync('sh', ['-c', 'test -f /usr/include/openssl/evp.h'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'gcc or the OpenSSL headers (libssl-dev) are missing';
  }
}
const missing = toolMissing();
if (missing) console.warn(`skipping the installed-OpenSSL layout check: ${missing}`);

/** Case, dashes, slashes and underscores aside: `SHA-512/256` is OpenSSL's `SHA512-256`. */
const normal = (name: string) => name.toUpperCase().replace(/[-/_]/g, '');

describe.skipIf(missing !== undefined)('the installed OpenSSL is what the crypto probes read', () => {
  const binary = join(mkdtempSync(join(tmpdir(), 'stella-evp-')), 'evp_layout');
  const lines = () => {
    execFileSync('gcc', ['-O1', '-o', binary, SOURCE, '-lcrypto']);
    const args = [...Object.keys(OPENSSL_DIGESTS), '--', ...Object.keys(OPENSSL_CIPHERS)];
    return execFileSync(binary, args, { encoding: 'utf8' }).trim().split('\n');
  };

  it('has the NID at offset 0 of EVP_MD, EVP_CIPHER and EVP_PKEY, and the names the tables give', () => {
    const out = lines();
    const version = Number.parseInt(out[0]!.split(' ')[1]!, 16);
    expect(version).toBeGreaterThanOrEqual(0x30000000); // the supported 3.x this machine has

    // A re-init with a NULL cipher keeps the context's: its first member, which the probes read then.
    const contexts = out.filter((l) => l.startsWith('cipherctx '));
    expect(contexts).toHaveLength(Object.keys(OPENSSL_CIPHERS).length);
    for (const line of contexts) {
      const [, , legacy, fetchedCtx] = line.split(' ');
      // -99 for both: only the legacy provider (not loaded) has it, so no context can be made.
      expect(fetchedCtx === '-99' ? ['1', '-99'] : ['1'], line).toContain(legacy);
      expect(['1', '-99'], line).toContain(fetchedCtx);
    }
    const objects = out.filter((l) => l.startsWith('md ') || l.startsWith('cipher '));
    expect(objects).toHaveLength(Object.keys(OPENSSL_DIGESTS).length + Object.keys(OPENSSL_CIPHERS).length);
    let fetched = 0;
    for (const line of objects) {
      const [kind, nidText, legacy, provider, providerNid, sn, ln] = line.split(' ');
      const nid = Number(nidText);
      const table = kind === 'md' ? OPENSSL_DIGESTS : OPENSSL_CIPHERS;
      expect(Number(legacy), line).toBe(nid);
      // Algorithms only the legacy provider has (MD4, RC4, ...) are not fetched: -99.
      if (provider !== '-99') {
        expect(Number(provider), line).toBe(nid);
        expect(Number(providerNid), line).toBe(nid);
        fetched++;
      }
      expect([normal(sn!), normal(ln!)], line).toContain(normal(table[nid]!));
    }
    expect(fetched).toBeGreaterThan(40);

    const keys = Object.fromEntries(
      out
        .filter((l) => l.startsWith('pkey '))
        .map((l) => {
          const [, type, firstInt, id] = l.split(' ');
          return [type!, [firstInt, id]];
        }),
    );
    const pkeyNid: Record<string, number> = { RSA: 6, EC: 408, X25519: 1034, X448: 1035, ED25519: 1087, ED448: 1088 };
    for (const [type, nid] of Object.entries(pkeyNid)) {
      expect(keys[type], type).toEqual([String(nid), String(nid)]);
    }
    expect(OPENSSL_SIGNATURE_KEYS[pkeyNid.EC!]).toBe('ECDSA');
    expect(OPENSSL_KEY_AGREEMENT_KEYS[pkeyNid.EC!]).toBe('ECDH');
    expect(OPENSSL_KEY_AGREEMENT_KEYS[pkeyNid.X25519!]).toBe('X25519');
    expect(OPENSSL_SIGNATURE_KEYS[pkeyNid.ED25519!]).toBe('Ed25519');
    expect(OPENSSL_SIGNATURE_KEYS[pkeyNid.RSA!]).toBe('RSA');
  });
});

// SPDX-License-Identifier: Apache-2.0
/**
 * The installed GnuTLS against the enum numbers the probes name (src/algorithms.ts): a C program
 * linked with it prints GnuTLS's own name of each number, which must be the table's name (GnuTLS
 * spells a few differently: those are listed here, not guessed).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GNUTLS_CIPHERS, GNUTLS_DIGESTS, GNUTLS_MACS } from '../src/algorithms.js';

const SOURCE = fileURLToPath(new URL('./fixtures/gnutls_names.c', import.meta.url));

/** Our name → GnuTLS's spelling where they differ. */
const GNUTLS_SPELLING: Record<string, string> = {
  'DES-EDE3-CBC': '3DES-CBC',
  RC4: 'ARCFOUR-128',
  'RIPEMD-160': 'RIPEMD160',
  'HMAC-RIPEMD-160': 'RIPEMD160',
  'AES-128-CMAC': 'AES-CMAC-128',
  'AES-256-CMAC': 'AES-CMAC-256',
  'AES-128-GMAC': 'AES-GMAC-128',
  'AES-192-GMAC': 'AES-GMAC-192',
  'AES-256-GMAC': 'AES-GMAC-256',
};

function toolMissing(): string | undefined {
  try {
    execFileSync('sh', ['-c', 'command -v gcc && test -f /usr/include/gnutls/gnutls.h'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'gcc or the GnuTLS headers (libgnutls28-dev) are missing';
  }
}
const missing = toolMissing();
if (missing) console.warn(`skipping the installed-GnuTLS enum check: ${missing}`);

const normal = (name: string) => name.toUpperCase().replace(/[-/_]/g, '');

describe.skipIf(missing !== undefined)('the installed GnuTLS numbers its algorithms as the probes name them', () => {
  it('names every cipher, digest and MAC number of the tables as the tables do', () => {
    const binary = join(mkdtempSync(join(tmpdir(), 'stella-gnutls-')), 'gnutls_names');
    execFileSync('gcc', ['-O1', '-o', binary, SOURCE, '-lgnutls']);
    const tables = { cipher: GNUTLS_CIPHERS, digest: GNUTLS_DIGESTS, mac: GNUTLS_MACS };
    const args = Object.entries(tables).flatMap(([kind, table]) => Object.keys(table).flatMap((id) => [kind, id]));
    const out = execFileSync(binary, args, { encoding: 'utf8' }).trim().split('\n');
    expect(out[0]).toMatch(/^version 3\./);
    const rows = out.slice(1);
    expect(rows).toHaveLength(args.length / 2);
    for (const row of rows) {
      const [kind, id, name] = row.split(' ') as [keyof typeof tables, string, string];
      const ours = tables[kind][Number(id)]!;
      // An HMAC is named by its hash in GnuTLS's MAC table.
      const expected = GNUTLS_SPELLING[ours] ?? (kind === 'mac' ? ours.replace(/^HMAC-/, '') : ours);
      expect(normal(name), row).toBe(normal(expected));
    }
  });
});

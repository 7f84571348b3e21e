// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readElf } from '../../src/function-map/elf.js';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const readelfBuildId = (f: string) =>
  /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', f], { encoding: 'utf8' }))![1];

describe('readElf (checked against binutils readelf on this machine)', () => {
  it('gives the GNU build-id and the defined functions of .dynsym, as readelf counts them', async () => {
    const elf = await readElf(LIBSSL);
    expect(elf.buildId).toBe(readelfBuildId(LIBSSL));
    const expected = execFileSync('readelf', ['--dyn-syms', '-W', LIBSSL], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((c) => (c[3] === 'FUNC' || c[3] === 'IFUNC') && c[6] !== 'UND' && (c[4] === 'GLOBAL' || c[4] === 'WEAK'))
      .map((c) => c[7]!.replace(/@.*/, ''));
    expect([...elf.functions].sort()).toEqual([...new Set(expected)].sort());
    expect(elf.functions.has('SSL_connect')).toBe(true);
    // Imported (undefined) symbols are not the library's own.
    expect(elf.functions.has('EVP_PKEY_set_type')).toBe(false);
  });

  it('keeps default versions (realpath@@GLIBC_2.3) and drops names that only exist as hidden versions (__dn_comp@GLIBC_2.2.5)', async () => {
    const elf = await readElf(LIBC);
    expect(elf.functions.has('realpath')).toBe(true);
    expect(elf.functions.has('connect')).toBe(true);
    expect(elf.functions.has('__dn_comp')).toBe(false);
  });

  it('refuses what it cannot read, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'elf-'));
    await writeFile(join(dir, 'text'), 'this is not an ELF file, just long enough to have a header of 64 bytes....');
    await expect(readElf(join(dir, 'text'))).rejects.toThrow(`${dir}/text is not an ELF file (bad magic)`);
    await writeFile(join(dir, 'tiny'), 'x');
    await expect(readElf(join(dir, 'tiny'))).rejects.toThrow(`${dir}/tiny is not an ELF file (1 bytes)`);
    await expect(readElf(join(dir, 'none'))).rejects.toThrow(`cannot open ${dir}/none: no such file`);
    if (existsSync('/lib32/libc.so.6')) {
      await expect(readElf('/lib32/libc.so.6')).rejects.toThrow(
        '/lib32/libc.so.6: only ELF64 little-endian is supported (class 1, data 1)',
      );
    }
  });
});

// SPDX-License-Identifier: Apache-2.0
/**
 * A small ELF64 little-endian reader: just what `generate --rootfs` needs — the defined,
 * default-version function symbols of `.dynsym` (the names uprobes resolve) and the GNU build-id.
 * Reads only the section header table and the few sections it needs, so a 100 MB `node` is cheap.
 */
import { open } from 'node:fs/promises';
import { InputError } from '../errors.js';

const SHT_NOTE = 7;
const SHT_DYNSYM = 11;
const SHT_GNU_VERSYM = 0x6fffffff;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;
const VERSYM_HIDDEN = 0x8000;
const NT_GNU_BUILD_ID = 3;

export interface ElfInfo {
  /** Lower-case hex of the NT_GNU_BUILD_ID note, when present. */
  buildId?: string;
  /**
   * Functions defined in `.dynsym` (FUNC or GNU_IFUNC, global/weak/unique binding) under their
   * default version (`name@@VER`) or unversioned; hidden non-default versions (`name@VER`) are not.
   */
  functions: Set<string>;
}

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export async function readElf(path: string): Promise<ElfInfo> {
  const fh = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new InputError(`cannot open ${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  try {
    const read = async (offset: number, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead !== length)
        throw new InputError(`${path}: truncated ELF (wanted ${length} bytes at offset ${offset})`);
      return buf;
    };
    const size = (await fh.stat()).size;
    if (size < 64) throw new InputError(`${path} is not an ELF file (${size} bytes)`);
    const eh = await read(0, 64);
    if (eh.readUInt32BE(0) !== 0x7f454c46) throw new InputError(`${path} is not an ELF file (bad magic)`);
    if (eh[4] !== 2 || eh[5] !== 1) {
      throw new InputError(`${path}: only ELF64 little-endian is supported (class ${eh[4]}, data ${eh[5]})`);
    }
    const shoff = Number(eh.readBigUInt64LE(0x28));
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);
    if (shoff === 0 || shnum === 0) return { functions: new Set() }; // no section headers: nothing to probe by name
    if (shentsize < 64 || shoff + shnum * shentsize > size)
      throw new InputError(`${path}: corrupt ELF section header table`);
    const table = await read(shoff, shnum * shentsize);
    const sections: Section[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      sections.push({
        type: table.readUInt32LE(o + 4),
        offset: Number(table.readBigUInt64LE(o + 24)),
        size: Number(table.readBigUInt64LE(o + 32)),
        link: table.readUInt32LE(o + 40),
        entsize: Number(table.readBigUInt64LE(o + 56)),
      });
    }
    const body = (s: Section) => {
      if (s.offset + s.size > size) throw new InputError(`${path}: corrupt ELF section (past end of file)`);
      return read(s.offset, s.size);
    };

    let buildId: string | undefined;
    for (const s of sections) {
      if (s.type !== SHT_NOTE || buildId) continue;
      const notes = await body(s);
      let o = 0;
      while (o + 12 <= notes.length) {
        const namesz = notes.readUInt32LE(o);
        const descsz = notes.readUInt32LE(o + 4);
        const type = notes.readUInt32LE(o + 8);
        const nameStart = o + 12;
        const descStart = nameStart + ((namesz + 3) & ~3);
        if (descStart + descsz > notes.length) break;
        if (type === NT_GNU_BUILD_ID && namesz === 4 && notes.toString('latin1', nameStart, nameStart + 3) === 'GNU') {
          buildId = notes.toString('hex', descStart, descStart + descsz);
          break;
        }
        o = descStart + ((descsz + 3) & ~3);
      }
    }

    const functions = new Set<string>();
    const dynsymIndex = sections.findIndex((s) => s.type === SHT_DYNSYM);
    if (dynsymIndex >= 0) {
      const dynsym = sections[dynsymIndex]!;
      const strtab = sections[dynsym.link];
      if (!strtab) throw new InputError(`${path}: .dynsym links to a missing string table`);
      const [syms, strs] = await Promise.all([body(dynsym), body(strtab)]);
      const versymSection = sections.find((s) => s.type === SHT_GNU_VERSYM && s.link === dynsymIndex);
      const versym = versymSection ? await body(versymSection) : undefined;
      const entsize = dynsym.entsize || 24;
      const count = Math.floor(syms.length / entsize);
      for (let i = 1; i < count; i++) {
        const o = i * entsize;
        const info = syms[o + 4]!;
        const type = info & 0xf;
        const bind = info >> 4;
        if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
        if (bind !== 1 && bind !== 2 && bind !== 10) continue; // GLOBAL, WEAK, GNU_UNIQUE
        if (syms.readUInt16LE(o + 6) === SHN_UNDEF) continue; // imported, not defined here
        if (versym && versym.length >= (i + 1) * 2 && (versym.readUInt16LE(i * 2) & VERSYM_HIDDEN) !== 0) continue;
        const nameOff = syms.readUInt32LE(o);
        const end = strs.indexOf(0, nameOff);
        functions.add(strs.toString('latin1', nameOff, end < 0 ? strs.length : end));
      }
    }
    return buildId === undefined ? { functions } : { buildId, functions };
  } finally {
    await fh.close();
  }
}

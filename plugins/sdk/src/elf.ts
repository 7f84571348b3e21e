// SPDX-License-Identifier: Apache-2.0
/**
 * A small synchronous ELF64 little-endian reader for attaching uprobes: the GNU build-id, and the
 * file offset of each defined function symbol (`.dynsym`, and `.symtab` when not stripped).
 *
 * Resolving offsets once per file here, instead of letting libbpf parse the ELF on every attach,
 * matters for `/usr/bin/node`: ~100 MB with tens of thousands of symbols, parsed once, not once per
 * probed function. It also lets the agent tell "symbol missing" from "stripped" before attaching.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_NOTE = 7;
const SHT_DYNSYM = 11;
const SHT_GNU_VERSYM = 0x6fffffff;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;
const VERSYM_HIDDEN = 0x8000;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STB_GNU_UNIQUE = 10;
const NT_GNU_BUILD_ID = 3;

export interface ElfSymbolFile {
  /** Lower-case hex of the NT_GNU_BUILD_ID note, when present. */
  buildId?: string;
  /** Whether a full `.symtab` is present (false for a stripped library: only exports resolve). */
  hasSymtab: boolean;
  /** Number of defined function symbols found. */
  functionCount: number;
  /**
   * The library's exported functions: defined FUNC/IFUNC symbols of `.dynsym` with global, weak
   * or unique binding, under their default version (`name@@VER`) or unversioned — the names a
   * uprobe by symbol resolves, and what `generate --rootfs` checks a catalogue against.
   */
  dynamicFunctions: ReadonlySet<string>;
  /**
   * File offset of a defined function (what `perf_event_open` wants for a uprobe). Of several
   * versions of one name (`dlopen@GLIBC_2.2.5`, `dlopen@@GLIBC_2.34`) the default one wins.
   */
  offsetOf(symbol: string): number | undefined;
}

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

interface Segment {
  offset: number;
  vaddr: number;
  filesz: number;
}

/** Throws `Error` with the path named when the file is not a readable ELF64 LE file. */
export function readElfSymbols(path: string): ElfSymbolFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (offset: number, length: number): Buffer => {
      const buf = Buffer.alloc(length);
      const n = readSync(fd, buf, 0, length, offset);
      if (n !== length) throw new Error(`${path}: truncated ELF (wanted ${length} bytes at offset ${offset})`);
      return buf;
    };
    if (size < 64) throw new Error(`${path} is not an ELF file (${size} bytes)`);
    const eh = read(0, 64);
    if (eh.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file (bad magic)`);
    if (eh[4] !== 2 || eh[5] !== 1) {
      throw new Error(`${path}: only ELF64 little-endian is supported (class ${eh[4]}, data ${eh[5]})`);
    }

    const phoff = Number(eh.readBigUInt64LE(0x20));
    const phentsize = eh.readUInt16LE(0x36);
    const phnum = eh.readUInt16LE(0x38);
    const segments: Segment[] = [];
    if (phoff > 0 && phnum > 0 && phoff + phnum * phentsize <= size) {
      const ph = read(phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        if (ph.readUInt32LE(o) !== PT_LOAD) continue;
        segments.push({
          offset: Number(ph.readBigUInt64LE(o + 8)),
          vaddr: Number(ph.readBigUInt64LE(o + 16)),
          filesz: Number(ph.readBigUInt64LE(o + 32)),
        });
      }
    }
    const toFileOffset = (vaddr: number): number | undefined => {
      for (const s of segments) {
        if (vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) return vaddr - s.vaddr + s.offset;
      }
      return undefined;
    };

    const shoff = Number(eh.readBigUInt64LE(0x28));
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);
    const sections: Section[] = [];
    if (shoff > 0 && shnum > 0 && shentsize >= 64 && shoff + shnum * shentsize <= size) {
      const table = read(shoff, shnum * shentsize);
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
    }
    const body = (s: Section) => (s.offset + s.size <= size ? read(s.offset, s.size) : Buffer.alloc(0));

    let buildId: string | undefined;
    for (const s of sections) {
      if (s.type !== SHT_NOTE || buildId) continue;
      const notes = body(s);
      for (let o = 0; o + 12 <= notes.length; ) {
        const namesz = notes.readUInt32LE(o);
        const descsz = notes.readUInt32LE(o + 4);
        const type = notes.readUInt32LE(o + 8);
        const nameStart = o + 12;
        const descStart = nameStart + align4(namesz);
        if (type === NT_GNU_BUILD_ID && notes.toString('latin1', nameStart, nameStart + 3) === 'GNU') {
          buildId = notes.toString('hex', descStart, descStart + descsz);
          break;
        }
        o = descStart + align4(descsz);
      }
    }

    // name -> [offset, isDefaultVersion]
    const functions = new Map<string, { offset: number; preferred: boolean }>();
    const dynamicFunctions = new Set<string>();
    const addTable = (symtab: Section, versym?: Section, exported?: Set<string>) => {
      const strtab = sections[symtab.link];
      if (!strtab || symtab.entsize < 24) return;
      const syms = body(symtab);
      const strings = body(strtab);
      const versions = versym ? body(versym) : undefined;
      const count = Math.floor(syms.length / symtab.entsize);
      for (let i = 1; i < count; i++) {
        const o = i * symtab.entsize;
        const info = syms[o + 4]!;
        const type = info & 0xf;
        if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
        if (syms.readUInt16LE(o + 6) === SHN_UNDEF) continue;
        const value = Number(syms.readBigUInt64LE(o + 8));
        if (value === 0) continue;
        const nameOffset = syms.readUInt32LE(o);
        const end = strings.indexOf(0, nameOffset);
        const name = strings.toString('latin1', nameOffset, end < 0 ? strings.length : end);
        if (!name) continue;
        const preferred = !versions || (versions.readUInt16LE(i * 2) & VERSYM_HIDDEN) === 0;
        const bind = info >> 4;
        if (exported && preferred && (bind === STB_GLOBAL || bind === STB_WEAK || bind === STB_GNU_UNIQUE)) {
          exported.add(name);
        }
        const existing = functions.get(name);
        if (existing && (existing.preferred || !preferred)) continue;
        const fileOffset = toFileOffset(value);
        if (fileOffset !== undefined) functions.set(name, { offset: fileOffset, preferred });
      }
    };
    const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
    for (const s of sections) if (s.type === SHT_DYNSYM) addTable(s, versym, dynamicFunctions);
    const hasSymtab = sections.some((s) => s.type === SHT_SYMTAB);
    for (const s of sections) if (s.type === SHT_SYMTAB) addTable(s);

    return {
      ...(buildId ? { buildId } : {}),
      hasSymtab,
      functionCount: functions.size,
      dynamicFunctions,
      offsetOf: (symbol) => functions.get(symbol)?.offset,
    };
  } finally {
    closeSync(fd);
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

// SPDX-License-Identifier: Apache-2.0
/**
 * What placement needs from an ELF64 file that `elf.ts` does not keep: the machine, the loadable
 * segments (file offset <-> address), the executable sections, every function symbol with its size,
 * and the addresses that relative relocations store (function pointers a PIC library hands out).
 * Kept apart from `elf.ts` on purpose: it runs in the placement worker, reads more of the file, and
 * only placement pays for it.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export const EM_X86_64 = 62;

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_RELA = 4;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const SHT_RELR = 19;
const SHT_GNU_VERSYM = 0x6fffffff;
const SHF_EXECINSTR = 0x4;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;
const VERSYM_HIDDEN = 0x8000;
const R_X86_64_RELATIVE = 8;
const R_X86_64_IRELATIVE = 37;

export interface LoadSegment {
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface CodeSection {
  vaddr: number;
  offset: number;
  size: number;
}

export interface FunctionSymbol {
  vaddr: number;
  size: number;
}

export interface ElfCode {
  path: string;
  machine: number;
  segments: LoadSegment[];
  executableSections: CodeSection[];
  /** Defined functions by name (default version wins, as in `elf.ts`). */
  functions: Map<string, FunctionSymbol>;
  /** Function symbols by address (aliases share one); the largest size of an address is kept. */
  functionsAt: Map<number, FunctionSymbol>;
  /** Addresses written by R_X86_64_RELATIVE/IRELATIVE relocations (RELA and RELR). */
  relocatedAddresses: number[];
  toFileOffset(vaddr: number): number | undefined;
  toVaddr(fileOffset: number): number | undefined;
  /** Inside a loadable segment's memory image (mapped whenever the library is). */
  isMapped(vaddr: number): boolean;
  /** `length` bytes of the file from `fileOffset` (fewer at the end of the file). */
  read(fileOffset: number, length: number): Buffer;
}

interface Section {
  type: number;
  flags: number;
  vaddr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/**
 * Reads the file's headers, symbols and relocations; code is read later on demand through `read`
 * (a reopen per call: placement reads a handful of small ranges and the executable sections once).
 * Throws an `Error` naming the path when the file is not a readable ELF64 little-endian file.
 */
export function readElfCode(path: string): ElfCode {
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
    const machine = eh.readUInt16LE(0x12);

    const segments: LoadSegment[] = [];
    const phoff = Number(eh.readBigUInt64LE(0x20));
    const phentsize = eh.readUInt16LE(0x36);
    const phnum = eh.readUInt16LE(0x38);
    if (phoff > 0 && phnum > 0 && phoff + phnum * phentsize <= size) {
      const ph = read(phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        if (ph.readUInt32LE(o) !== PT_LOAD) continue;
        segments.push({
          offset: Number(ph.readBigUInt64LE(o + 8)),
          vaddr: Number(ph.readBigUInt64LE(o + 16)),
          filesz: Number(ph.readBigUInt64LE(o + 32)),
          memsz: Number(ph.readBigUInt64LE(o + 40)),
        });
      }
    }
    const toFileOffset = (vaddr: number): number | undefined => {
      for (const s of segments) if (vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) return vaddr - s.vaddr + s.offset;
      return undefined;
    };
    const toVaddr = (fileOffset: number): number | undefined => {
      for (const s of segments) {
        if (fileOffset >= s.offset && fileOffset < s.offset + s.filesz) return fileOffset - s.offset + s.vaddr;
      }
      return undefined;
    };
    const isMapped = (vaddr: number): boolean => segments.some((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.memsz);

    const sections: Section[] = [];
    const shoff = Number(eh.readBigUInt64LE(0x28));
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);
    if (shoff > 0 && shnum > 0 && shentsize >= 64 && shoff + shnum * shentsize <= size) {
      const table = read(shoff, shnum * shentsize);
      for (let i = 0; i < shnum; i++) {
        const o = i * shentsize;
        sections.push({
          type: table.readUInt32LE(o + 4),
          flags: Number(table.readBigUInt64LE(o + 8)),
          vaddr: Number(table.readBigUInt64LE(o + 16)),
          offset: Number(table.readBigUInt64LE(o + 24)),
          size: Number(table.readBigUInt64LE(o + 32)),
          link: table.readUInt32LE(o + 40),
          entsize: Number(table.readBigUInt64LE(o + 56)),
        });
      }
    }
    const body = (s: Section) =>
      s.type !== SHT_NOBITS && s.offset + s.size <= size ? read(s.offset, s.size) : Buffer.alloc(0);

    const executableSections = sections
      .filter((s) => s.flags & SHF_EXECINSTR && s.type !== SHT_NOBITS && s.size > 0 && s.offset + s.size <= size)
      .map((s) => ({ vaddr: s.vaddr, offset: s.offset, size: s.size }));

    const functions = new Map<string, FunctionSymbol & { preferred: boolean }>();
    const functionsAt = new Map<number, FunctionSymbol>();
    const addTable = (symtab: Section, versym?: Section) => {
      const strtab = sections[symtab.link];
      if (!strtab || symtab.entsize < 24) return;
      const syms = body(symtab);
      const strings = body(strtab);
      const versions = versym ? body(versym) : undefined;
      const count = Math.floor(syms.length / symtab.entsize);
      for (let i = 1; i < count; i++) {
        const o = i * symtab.entsize;
        const type = syms[o + 4]! & 0xf;
        if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
        if (syms.readUInt16LE(o + 6) === SHN_UNDEF) continue;
        const vaddr = Number(syms.readBigUInt64LE(o + 8));
        if (vaddr === 0) continue;
        const symbolSize = Number(syms.readBigUInt64LE(o + 16));
        const at = functionsAt.get(vaddr);
        if (!at || at.size < symbolSize) functionsAt.set(vaddr, { vaddr, size: symbolSize });
        const nameOffset = syms.readUInt32LE(o);
        const end = strings.indexOf(0, nameOffset);
        const name = strings.toString('latin1', nameOffset, end < 0 ? strings.length : end);
        if (!name) continue;
        const preferred = !versions || (versions.readUInt16LE(i * 2) & VERSYM_HIDDEN) === 0;
        const existing = functions.get(name);
        if (existing && (existing.preferred || !preferred)) continue;
        functions.set(name, { vaddr, size: symbolSize, preferred });
      }
    };
    const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
    for (const s of sections) if (s.type === SHT_DYNSYM) addTable(s, versym);
    for (const s of sections) if (s.type === SHT_SYMTAB) addTable(s);

    const relocatedAddresses: number[] = [];
    for (const s of sections) {
      if (s.type === SHT_RELA && s.entsize >= 24) {
        const rela = body(s);
        for (let o = 0; o + 24 <= rela.length; o += s.entsize) {
          const type = rela.readUInt32LE(o + 8);
          if (type === R_X86_64_RELATIVE || type === R_X86_64_IRELATIVE) {
            relocatedAddresses.push(Number(rela.readBigInt64LE(o + 16)));
          }
        }
      } else if (s.type === SHT_RELR) {
        // RELR stores the addend in the relocated word itself: read each word the table names.
        const word = (vaddr: number) => {
          const at = toFileOffset(vaddr);
          if (at !== undefined && at + 8 <= size) relocatedAddresses.push(Number(read(at, 8).readBigUInt64LE(0)));
        };
        const relr = body(s);
        let next = 0;
        for (let o = 0; o + 8 <= relr.length; o += 8) {
          const entry = relr.readBigUInt64LE(o);
          if ((entry & 1n) === 0n) {
            word(Number(entry));
            next = Number(entry) + 8;
          } else {
            for (let bit = 1; bit < 64; bit++) if ((entry >> BigInt(bit)) & 1n) word(next + (bit - 1) * 8);
            next += 63 * 8;
          }
        }
      }
    }

    const readRange = (fileOffset: number, length: number): Buffer => {
      const rfd = openSync(path, 'r');
      try {
        const buf = Buffer.alloc(Math.max(0, Math.min(length, size - fileOffset)));
        readSync(rfd, buf, 0, buf.length, fileOffset);
        return buf;
      } finally {
        closeSync(rfd);
      }
    };
    return {
      path,
      machine,
      segments,
      executableSections,
      functions: new Map([...functions].map(([name, f]) => [name, { vaddr: f.vaddr, size: f.size }])),
      functionsAt,
      relocatedAddresses,
      toFileOffset,
      toVaddr,
      isMapped,
      read: readRange,
    };
  } finally {
    closeSync(fd);
  }
}

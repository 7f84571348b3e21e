// SPDX-License-Identifier: Apache-2.0
/**
 * The one ELF64 little-endian reader: program headers, section headers and function symbols,
 * synchronous and without a dependency. Two callers build on it:
 *
 * - `readElfSymbols` (here), for attaching uprobes: the GNU build-id and the file offset of each
 *   defined function symbol (`.dynsym`, and `.symtab` when not stripped). Resolving offsets once
 *   per file here, instead of letting libbpf parse the ELF on every attach, matters for
 *   `/usr/bin/node`: ~100 MB with tens of thousands of symbols, parsed once, not once per probed
 *   function. It also lets the agent tell "symbol missing" from "stripped" before attaching.
 * - `placement/elf-code.ts`, in the placement worker: sizes, executable sections and relocations.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const PT_LOAD = 1;
export const SHT_SYMTAB = 2;
const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;
const SHT_GNU_VERSYM = 0x6fffffff;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;
const VERSYM_HIDDEN = 0x8000;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STB_GNU_UNIQUE = 10;
const NT_GNU_BUILD_ID = 3;

export interface LoadSegment {
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfSection {
  type: number;
  flags: number;
  vaddr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/** One defined function symbol of a symbol table (FUNC or IFUNC, not undefined, not at 0). */
export interface FunctionSymbolEntry {
  /** Empty for an unnamed symbol. */
  name: string;
  vaddr: number;
  size: number;
  /** STB_* binding. */
  bind: number;
  /** Unversioned, or the default version (`name@@VER`), not a hidden one (`name@VER`). */
  defaultVersion: boolean;
}

/** An open ELF file's headers; valid inside `withElf`'s callback only (the descriptor closes after). */
export interface ElfImage {
  readonly path: string;
  /** File size in bytes. */
  readonly size: number;
  /** `e_machine` (62 = x86-64). */
  readonly machine: number;
  readonly segments: readonly LoadSegment[];
  readonly sections: readonly ElfSection[];
  /** Exactly `length` bytes from `offset`; throws naming the path when the file is shorter. */
  read(offset: number, length: number): Buffer;
  /** A section's contents; empty for SHT_NOBITS or a section past the end of the file. */
  body(section: ElfSection): Buffer;
  toFileOffset(vaddr: number): number | undefined;
  toVaddr(fileOffset: number): number | undefined;
  /** Inside a loadable segment's memory image (mapped whenever the file is). */
  isMapped(vaddr: number): boolean;
  /** `.dynsym` with its version table, then `.symtab`: every defined function symbol, in file order. */
  forEachFunction(visit: (symbol: FunctionSymbolEntry, table: 'dynsym' | 'symtab') => void): void;
}

/**
 * Opens `path`, reads its ELF and program/section headers and hands them to `use`, closing the
 * file afterwards. Throws an `Error` naming the path when it is not a readable ELF64 LE file.
 */
export function withElf<T>(path: string, use: (elf: ElfImage) => T): T {
  const fd = openSync(path, 'r');
  try {
    return use(parseHeaders(path, fd));
  } finally {
    closeSync(fd);
  }
}

function parseHeaders(path: string, fd: number): ElfImage {
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

  const sections: ElfSection[] = [];
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
  const body = (s: ElfSection) =>
    s.type !== SHT_NOBITS && s.offset + s.size <= size ? read(s.offset, s.size) : Buffer.alloc(0);

  const functionsOf = (
    symtab: ElfSection,
    versym: ElfSection | undefined,
    visit: (symbol: FunctionSymbolEntry) => void,
  ) => {
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
      const vaddr = Number(syms.readBigUInt64LE(o + 8));
      if (vaddr === 0) continue;
      const nameOffset = syms.readUInt32LE(o);
      const end = strings.indexOf(0, nameOffset);
      visit({
        name: strings.toString('latin1', nameOffset, end < 0 ? strings.length : end),
        vaddr,
        size: Number(syms.readBigUInt64LE(o + 16)),
        bind: info >> 4,
        defaultVersion: !versions || (versions.readUInt16LE(i * 2) & VERSYM_HIDDEN) === 0,
      });
    }
  };

  return {
    path,
    size,
    machine: eh.readUInt16LE(0x12),
    segments,
    sections,
    read,
    body,
    toFileOffset(vaddr) {
      for (const s of segments) if (vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) return vaddr - s.vaddr + s.offset;
      return undefined;
    },
    toVaddr(fileOffset) {
      for (const s of segments) {
        if (fileOffset >= s.offset && fileOffset < s.offset + s.filesz) return fileOffset - s.offset + s.vaddr;
      }
      return undefined;
    },
    isMapped: (vaddr) => segments.some((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.memsz),
    forEachFunction(visit) {
      const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
      for (const s of sections) if (s.type === SHT_DYNSYM) functionsOf(s, versym, (f) => visit(f, 'dynsym'));
      for (const s of sections) if (s.type === SHT_SYMTAB) functionsOf(s, undefined, (f) => visit(f, 'symtab'));
    },
  };
}

/**
 * Of several versions of one name (`dlopen@GLIBC_2.2.5`, `dlopen@@GLIBC_2.34`) the default one
 * wins; otherwise the first seen (`.dynsym` before `.symtab`). Returns whether `symbol` was kept.
 */
export function keepDefaultVersion<T>(
  byName: Map<string, T & { defaultVersion: boolean }>,
  symbol: FunctionSymbolEntry,
  value: T,
): boolean {
  const existing = byName.get(symbol.name);
  if (existing && (existing.defaultVersion || !symbol.defaultVersion)) return false;
  byName.set(symbol.name, { ...value, defaultVersion: symbol.defaultVersion });
  return true;
}

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

/** Throws `Error` with the path named when the file is not a readable ELF64 LE file. */
export function readElfSymbols(path: string): ElfSymbolFile {
  return withElf(path, (elf) => {
    let buildId: string | undefined;
    for (const s of elf.sections) {
      if (s.type !== SHT_NOTE || buildId) continue;
      const notes = elf.body(s);
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

    const functions = new Map<string, { offset: number; defaultVersion: boolean }>();
    const dynamicFunctions = new Set<string>();
    elf.forEachFunction((symbol, table) => {
      if (!symbol.name) return;
      const { bind } = symbol;
      const exported = bind === STB_GLOBAL || bind === STB_WEAK || bind === STB_GNU_UNIQUE;
      if (table === 'dynsym' && symbol.defaultVersion && exported) dynamicFunctions.add(symbol.name);
      const offset = elf.toFileOffset(symbol.vaddr);
      if (offset !== undefined) keepDefaultVersion(functions, symbol, { offset });
    });

    return {
      ...(buildId ? { buildId } : {}),
      hasSymtab: elf.sections.some((s) => s.type === SHT_SYMTAB),
      functionCount: functions.size,
      dynamicFunctions,
      offsetOf: (symbol) => functions.get(symbol)?.offset,
    };
  });
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

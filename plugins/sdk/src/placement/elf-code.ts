// SPDX-License-Identifier: Apache-2.0
/**
 * What placement needs from an ELF64 file beyond `readElfSymbols`: the machine, the loadable
 * segments (file offset <-> address), the executable sections, every function symbol with its size,
 * and the addresses that relative relocations store (function pointers a PIC library hands out).
 * Read with the SDK's one ELF reader (`../elf.ts`); kept in its own module because it runs in the
 * placement worker, reads more of the file, and only placement pays for it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { type ElfSection, keepDefaultVersion, type LoadSegment, SHT_NOBITS, withElf } from '../elf.js';

export type { LoadSegment } from '../elf.js';

export const EM_X86_64 = 62;

const SHT_RELA = 4;
const SHT_RELR = 19;
const SHF_EXECINSTR = 0x4;
const R_X86_64_RELATIVE = 8;
const R_X86_64_IRELATIVE = 37;

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

/**
 * Reads the file's headers, symbols and relocations; code is read later on demand through `read`
 * (a reopen per call: placement reads a handful of small ranges and the executable sections once).
 * Throws an `Error` naming the path when the file is not a readable ELF64 little-endian file.
 */
export function readElfCode(path: string): ElfCode {
  return withElf(path, (elf) => {
    const { size, sections } = elf;
    const executableSections = sections
      .filter((s) => s.flags & SHF_EXECINSTR && s.type !== SHT_NOBITS && s.size > 0 && s.offset + s.size <= size)
      .map((s) => ({ vaddr: s.vaddr, offset: s.offset, size: s.size }));

    const functions = new Map<string, FunctionSymbol & { defaultVersion: boolean }>();
    const functionsAt = new Map<number, FunctionSymbol>();
    elf.forEachFunction((symbol) => {
      const { vaddr, size: symbolSize } = symbol;
      const at = functionsAt.get(vaddr);
      if (!at || at.size < symbolSize) functionsAt.set(vaddr, { vaddr, size: symbolSize });
      if (symbol.name) keepDefaultVersion(functions, symbol, { vaddr, size: symbolSize });
    });

    const relocatedAddresses: number[] = [];
    for (const s of sections) {
      if (s.type === SHT_RELA && s.entsize >= 24) relativeRela(elf.body(s), s, relocatedAddresses);
      else if (s.type === SHT_RELR) {
        // RELR stores the addend in the relocated word itself: read each word the table names.
        relr(elf.body(s), (vaddr) => {
          const at = elf.toFileOffset(vaddr);
          if (at !== undefined && at + 8 <= size) relocatedAddresses.push(Number(elf.read(at, 8).readBigUInt64LE(0)));
        });
      }
    }

    const segments = [...elf.segments];
    const { toFileOffset, toVaddr, isMapped } = elf;
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
      machine: elf.machine,
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
  });
}

/** The addends of R_X86_64_RELATIVE/IRELATIVE entries: the addresses they store. */
function relativeRela(rela: Buffer, section: ElfSection, out: number[]): void {
  for (let o = 0; o + 24 <= rela.length; o += section.entsize) {
    const type = rela.readUInt32LE(o + 8);
    if (type === R_X86_64_RELATIVE || type === R_X86_64_IRELATIVE) out.push(Number(rela.readBigInt64LE(o + 16)));
  }
}

/** Each address a RELR table relocates: an even entry is an address, an odd one a bitmap of the next 63 words. */
function relr(table: Buffer, word: (vaddr: number) => void): void {
  let next = 0;
  for (let o = 0; o + 8 <= table.length; o += 8) {
    const entry = table.readBigUInt64LE(o);
    if ((entry & 1n) === 0n) {
      word(Number(entry));
      next = Number(entry) + 8;
    } else {
      for (let bit = 1; bit < 64; bit++) if ((entry >> BigInt(bit)) & 1n) word(next + (bit - 1) * 8);
      next += 63 * 8;
    }
  }
}

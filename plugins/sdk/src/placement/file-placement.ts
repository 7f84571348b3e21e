// SPDX-License-Identifier: Apache-2.0
/**
 * Placement for the functions of one file, with the file's scan cached per content: the ELF is
 * read and its executable sections decoded once per (st_dev, st_ino, mtime, size), the same key
 * the library cache uses, so a library replaced in place is scanned again. Runs inside the
 * placement worker (decoding libcrypto's 2.5 MB of code takes ~100–150 ms here).
 */
import { statSync } from 'node:fs';
import { placeInCode } from './choose.js';
import { type ElfCode, EM_X86_64, readElfCode } from './elf-code.js';
import { type ReachableAddresses, scanReachableAddresses } from './reachable-addresses.js';
import type { PlacementOptions, PlacementTarget, UprobePlacement } from './types.js';

/** How much code placement reads past an entry when the symbol is larger (the run is short). */
const CODE_WINDOW = 256;

interface ScannedFile {
  elf: ElfCode;
  /** Decoded on the first x86-64 placement only. */
  reachable?: ReachableAddresses;
  scanMs?: number;
}

export interface FilePlacementCache {
  /** One result per target, in order; undefined for a symbol the file does not define. */
  place(path: string, targets: readonly PlacementTarget[], options?: PlacementOptions): (UprobePlacement | undefined)[];
  /** Last scan's cost for `path` (undefined before the first placement on it). */
  scanStats(path: string): { instructions: number; scanMs: number } | undefined;
  forget(path: string): void;
}

export function createFilePlacementCache(): FilePlacementCache {
  const files = new Map<string, ScannedFile>();
  const keyOf = (path: string) => {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.mtimeNs}:${st.size}`;
  };
  const open = (path: string): ScannedFile => {
    const key = keyOf(path);
    let file = files.get(key);
    if (!file) {
      file = { elf: readElfCode(path) };
      files.set(key, file);
    }
    return file;
  };
  return {
    place(path, targets, options = {}) {
      const file = open(path);
      const { elf } = file;
      return targets.map((target) => {
        const located = locate(elf, target);
        if (!located) return undefined;
        if (elf.machine !== EM_X86_64) {
          return {
            offset: located.fileOffset,
            delta: 0,
            instruction: '',
            kind: 'entry',
            reason: `entry: ${path} is not x86-64 (ELF machine ${elf.machine}); placement past the entry is x86-64 only`,
            registersWritten: [],
          };
        }
        if (!file.reachable) {
          const started = performance.now();
          file.reachable = scanReachableAddresses(elf);
          file.scanMs = performance.now() - started;
        }
        const bytes = elf.read(located.fileOffset, Math.min(Math.max(located.size, 1), CODE_WINDOW));
        return placeInCode({ bytes, ...located }, file.reachable, elf, options);
      });
    },
    scanStats(path) {
      const file = files.get(keyOf(path));
      if (!file?.reachable || file.scanMs === undefined) return undefined;
      return { instructions: file.reachable.instructions, scanMs: file.scanMs };
    },
    forget(path) {
      files.delete(keyOf(path));
    },
  };
}

function locate(
  elf: ElfCode,
  target: PlacementTarget,
): { vaddr: number; fileOffset: number; size: number } | undefined {
  if ('symbol' in target) {
    const fn = elf.functions.get(target.symbol);
    const fileOffset = fn && elf.toFileOffset(fn.vaddr);
    return fn && fileOffset !== undefined ? { vaddr: fn.vaddr, fileOffset, size: fn.size } : undefined;
  }
  const vaddr = elf.toVaddr(target.fileOffset);
  if (vaddr === undefined) return undefined;
  return { vaddr, fileOffset: target.fileOffset, size: target.size ?? elf.functionsAt.get(vaddr)?.size ?? 0 };
}

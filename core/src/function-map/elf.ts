// SPDX-License-Identifier: Apache-2.0
/**
 * What `generate --rootfs` needs of a library: the GNU build-id and the exported, default-version
 * functions of `.dynsym` (the names uprobes resolve). One ELF reader serves the agent and the
 * generator: the SDK's, so a map's symbols are checked the way the probes will resolve them.
 */
import { readElfSymbols } from '@stella/sdk';
import { InputError } from '../errors.js';

export interface ElfInfo {
  /** Lower-case hex of the NT_GNU_BUILD_ID note, when present. */
  buildId?: string;
  /**
   * Functions defined in `.dynsym` (FUNC or GNU_IFUNC, global/weak/unique binding) under their
   * default version (`name@@VER`) or unversioned; hidden non-default versions (`name@VER`) are not.
   */
  functions: Set<string>;
}

export async function readElf(path: string): Promise<ElfInfo> {
  try {
    const elf = readElfSymbols(path);
    const functions = new Set(elf.dynamicFunctions);
    return elf.buildId === undefined ? { functions } : { buildId: elf.buildId, functions };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code) throw new InputError(`cannot open ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    throw new InputError(e.message);
  }
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Which algorithm each probed call runs, for catalogue functions that say how to know it
 * (`CatalogueFunction.algorithm`): the argument the generic uprobe program reads at the call
 * (argument.bpf.h) and the name of each value read. A value that cannot be read or named is
 * `unknown`, never a guess.
 */
import { type ArgumentRead, encodeArgumentRead, StellaAbi } from './abi.js';
import type { AlgorithmSource, CatalogueEntry } from './types/catalogue.js';
import type { ProbeRequest } from './types/probe-requests.js';

/** What an unreadable or unnamed algorithm is recorded as. */
export const UNKNOWN_ALGORITHM = 'unknown';

/** The x86-64 System V integer argument registers, as placement names the registers it skips. */
const X86_ARGUMENT_REGISTERS = ['rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9'] as const;

/** Each request's algorithm source from the catalogue, by (library or alternative, symbol). */
export function algorithmSourcesOf(
  requests: readonly ProbeRequest[],
  catalogue: readonly CatalogueEntry[],
): (AlgorithmSource | undefined)[] {
  const byLibrarySymbol = new Map<string, AlgorithmSource>();
  for (const entry of catalogue)
    for (const library of entry.libraries)
      for (const fn of library.functions) {
        if (!fn.algorithm) continue;
        for (const name of [library.library, ...(library.alternatives ?? [])])
          byLibrarySymbol.set(`${name}\0${fn.symbol}`, fn.algorithm);
      }
  return requests.map((r) => byLibrarySymbol.get(`${r.library}\0${r.symbol}`));
}

/** The `stella_arg_reads` global for these sources (requests past `STELLA_ARG_COOKIES` read nothing). */
export function argumentReadsGlobal(sources: readonly (AlgorithmSource | undefined)[]): Uint8Array | undefined {
  const words = new Uint32Array(StellaAbi.argCookies);
  let any = false;
  sources.forEach((source, index) => {
    if (!source?.read || index >= StellaAbi.argCookies) return;
    words[index] = encodeArgumentRead(source.read);
    any = true;
  });
  return any ? new Uint8Array(words.buffer) : undefined;
}

/** The registers a read needs intact where the probe sits (x86-64 names). */
export function argumentRegisters(read: ArgumentRead): string[] {
  const numbers = read.whenNullFirstMemberOf ? [read.argument, read.whenNullFirstMemberOf] : [read.argument];
  return numbers.map((n) => X86_ARGUMENT_REGISTERS[n - 1]!);
}

/**
 * value read → algorithm name, per request; undefined for requests whose function names none.
 * `readsArmed` false (an object built before argument.bpf.h): every read source says `unknown`.
 */
export function algorithmNamers(
  sources: readonly (AlgorithmSource | undefined)[],
  readsArmed: boolean,
): (((value: number) => string) | undefined)[] {
  return sources.map((source, index): ((value: number) => string) | undefined => {
    if (!source) return undefined;
    if (!source.read) {
      const fixed = source.fixed;
      return () => fixed;
    }
    const nameOf = source.nameOf;
    if (!readsArmed || index >= StellaAbi.argCookies) return () => UNKNOWN_ALGORITHM;
    const names = new Map<number, string>();
    return (value) => {
      let name = names.get(value);
      if (name === undefined) {
        const unreadable = value === StellaAbi.argUnread || value === StellaAbi.argNull;
        name = (unreadable ? undefined : nameOf(value)) ?? UNKNOWN_ALGORITHM;
        // Values are bounded by the library's tables; the cap only guards against a corrupt stream.
        if (names.size < 4096) names.set(value, name);
      }
      return name;
    };
  });
}

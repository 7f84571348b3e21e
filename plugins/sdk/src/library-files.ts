// SPDX-License-Identifier: Apache-2.0
import { statSync } from 'node:fs';
import { readElfSymbols } from './elf.js';
import type { ProbeFailureReason, ProbeRequest } from './types/probe-requests.js';

/** One library file on this node, identified by (st_dev, st_ino) as the agent sees it. */
export interface LibraryFile {
  /**
   * `${st_dev}:${st_ino}:${mtime}:${size}`: two paths to one inode (host path, /proc/PID/root/…)
   * are one file, and a library rewritten in place (`cp` over it: same inode, other code) is
   * another one, so links at its old offsets are released rather than kept on the new code.
   */
  key: string;
  /** A path the agent can open (host path, `/proc/PID/root/…` or `/proc/PID/map_files/…`). */
  hostPath: string;
  /** The path as the process (or the map) names it. */
  path: string;
  inode: bigint;
  buildId?: string;
  hasSymtab: boolean;
  offsetOf(symbol: string): number | undefined;
  /** Set when the file is not a readable ELF: nothing in it can be attached. */
  error?: string;
}

export type ResolveVerdict = { ok: true; offset: number } | { ok: false; reason: ProbeFailureReason; detail: string };

/**
 * Reads each library once per inode and content (ELF symbols, build-id) and answers "can this request attach
 * to this file, and where". Entries are dropped with `forget` when the inode leaves every target.
 */
export class LibraryFileCache {
  private readonly files = new Map<string, LibraryFile>();

  /** stat + (first time) ELF read; undefined when the path does not exist (any more). */
  open(hostPath: string, path: string): LibraryFile | undefined {
    let key: string;
    let inode: bigint;
    try {
      const st = statSync(hostPath, { bigint: true });
      if (!st.isFile()) return undefined;
      key = `${st.dev}:${st.ino}:${st.mtimeNs}:${st.size}`;
      inode = st.ino;
    } catch {
      return undefined;
    }
    const cached = this.files.get(key);
    if (cached) return cached;
    let file: LibraryFile;
    try {
      const elf = readElfSymbols(hostPath);
      file = {
        key,
        hostPath,
        path,
        inode,
        hasSymtab: elf.hasSymtab,
        offsetOf: elf.offsetOf,
        ...(elf.buildId ? { buildId: elf.buildId } : {}),
      };
    } catch (error) {
      file = {
        key,
        hostPath,
        path,
        inode,
        hasSymtab: false,
        offsetOf: () => undefined,
        error: (error as Error).message,
      };
    }
    this.files.set(key, file);
    return file;
  }

  forget(key: string): void {
    this.files.delete(key);
  }

  keys(): string[] {
    return [...this.files.keys()];
  }
}

/** Build-id first (a different build may have moved or changed the function), then the symbol. */
export function resolveRequest(file: LibraryFile, request: ProbeRequest): ResolveVerdict {
  if (file.error) return { ok: false, reason: 'attach-error', detail: `cannot read ${file.path}: ${file.error}` };
  if (request.buildId && file.buildId && request.buildId.toLowerCase() !== file.buildId) {
    return {
      ok: false,
      reason: 'build-id-mismatch',
      detail: `${file.path} has build-id ${file.buildId}, the function map expects ${request.buildId} (regenerate the map for this build)`,
    };
  }
  const offset = file.offsetOf(request.symbol);
  if (offset !== undefined) return { ok: true, offset };
  if (!file.hasSymtab) {
    return {
      ok: false,
      reason: 'stripped',
      detail: `${request.symbol} is not exported by ${file.path}, which has no .symtab (stripped): it cannot be located`,
    };
  }
  return { ok: false, reason: 'symbol-missing', detail: `${request.symbol} is not defined in ${file.path}` };
}

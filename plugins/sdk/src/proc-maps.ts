// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface MappedFile {
  /** Path as the process sees it (inside its mount namespace). */
  path: string;
  /** Path the agent can open: through `/proc/PID/root`, so container files resolve. */
  hostPath: string;
  inode: bigint;
  /** Device as printed in maps (`fd:01`), for display only: use stat() for kernel comparisons. */
  device: string;
  /**
   * The file was unlinked or replaced on disk (a package upgrade) while mapped: `hostPath` then
   * points at `/proc/PID/map_files/START-END`, which still opens the old inode.
   */
  deleted: boolean;
}

/**
 * File-backed mappings of a process, one entry per distinct file (libraries loaded later with
 * dlopen appear here as soon as they are mapped).
 */
export function mappedFiles(pid: number, procRoot = '/proc'): MappedFile[] {
  let text: string;
  try {
    text = readFileSync(join(procRoot, String(pid), 'maps'), 'utf8');
  } catch {
    return [];
  }
  const seen = new Set<string>();
  const files: MappedFile[] = [];
  for (const line of text.split('\n')) {
    // address perms offset dev inode pathname
    const m = /^(\S+)\s+\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\/.*)$/.exec(line);
    if (!m || m[3] === '0') continue;
    const deleted = m[4]!.endsWith(' (deleted)');
    const path = deleted ? m[4]!.slice(0, -' (deleted)'.length) : m[4]!;
    const key = `${m[2]}:${m[3]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const hostPath = deleted
      ? join(procRoot, String(pid), 'map_files', m[1]!)
      : join(procRoot, String(pid), 'root', path);
    files.push({ path, hostPath, inode: BigInt(m[3]!), device: m[2]!, deleted });
  }
  return files;
}

/** Whether a mapped file is the library a request names (`libssl.so.3` or a full path). */
export function isLibrary(file: { path: string }, library: string, binaryPath?: string): boolean {
  if (binaryPath && file.path === binaryPath) return true;
  const name = basename(file.path);
  const wanted = basename(library);
  return name === wanted || (wanted.includes('.so') && name.startsWith(`${wanted}.`));
}

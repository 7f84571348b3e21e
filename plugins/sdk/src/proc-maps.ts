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
    const m = /^\S+\s+\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\/.*)$/.exec(line);
    if (!m || m[2] === '0') continue;
    const path = m[3]!.replace(/ \(deleted\)$/, '');
    const key = `${m[1]}:${m[2]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    files.push({ path, hostPath: join(procRoot, String(pid), 'root', path), inode: BigInt(m[2]!), device: m[1]! });
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

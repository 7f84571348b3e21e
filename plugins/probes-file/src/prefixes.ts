// SPDX-License-Identifier: Apache-2.0
import type { BpfObjectHandle, Logger } from '@stella/sdk';
import { MAX_PREFIXES, PREFIX_BYTES } from './syscalls.js';

/** Prefixes watched when neither the plugin options nor `probes.sensitive_paths` name any. */
export const DEFAULT_SENSITIVE_PATHS: readonly string[] = [
  '/etc/shadow',
  '/etc/gshadow',
  '/etc/passwd',
  '/etc/sudoers',
  '/etc/ssl/private/',
  '/etc/ssh/',
  '/root/.ssh/',
];

/**
 * The prefixes the kernel can compare: absolute, at most PREFIX_BYTES bytes, at most MAX_PREFIXES
 * of them, no duplicates. What is left out is logged, never fatal.
 */
export function usablePrefixes(paths: readonly string[], log: Logger): string[] {
  const out: string[] = [];
  for (const path of paths) {
    const bytes = Buffer.byteLength(path);
    if (!path.startsWith('/')) log.warn('sensitive path ignored: the kernel compares absolute paths only', { path });
    else if (bytes > PREFIX_BYTES)
      log.warn(`sensitive path ignored: longer than ${PREFIX_BYTES} bytes`, { path, bytes });
    else if (out.length >= MAX_PREFIXES)
      log.warn(`sensitive path ignored: at most ${MAX_PREFIXES} prefixes are compared in the kernel`, { path });
    else if (!out.includes(path)) out.push(path);
  }
  return out;
}

/** Writes the table into the object's `const volatile` globals (file_access.bpf.c), before load. */
export function setPrefixGlobals(handle: BpfObjectHandle, prefixes: readonly string[]): void {
  const table = Buffer.alloc(MAX_PREFIXES * PREFIX_BYTES);
  const lengths = Buffer.alloc(MAX_PREFIXES * 4);
  prefixes.forEach((prefix, i) => {
    const written = table.write(prefix, i * PREFIX_BYTES, PREFIX_BYTES, 'utf8');
    lengths.writeUInt32LE(written, i * 4);
  });
  handle.setGlobal('stella_file_prefixes', table);
  handle.setGlobal('stella_file_prefix_lens', lengths);
  handle.setGlobal('stella_file_prefix_count', prefixes.length);
}

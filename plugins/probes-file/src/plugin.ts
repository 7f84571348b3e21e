// SPDX-License-Identifier: Apache-2.0
import { fileURLToPath } from 'node:url';
import { defineProbePlugin, detectSyscallPlugin, type ProbePlugin, startSyscallSession } from '@stella/sdk';
import { catalogue } from './catalogue.js';
import { DEFAULT_SENSITIVE_PATHS, setPrefixGlobals, usablePrefixes } from './prefixes.js';
import { FILE_REQUIRES, FILE_SYMBOL_SYSCALLS, FILE_SYSCALLS } from './syscalls.js';

export interface FileProbesOptions {
  /**
   * Path prefixes to watch. Default: the agent's `probes.sensitive_paths`, else
   * `DEFAULT_SENSITIVE_PATHS`. At most 16, each at most 128 bytes, absolute.
   */
  sensitivePaths?: string[];
  /** Ring buffer bytes (power of two). Default 4 MiB. */
  ringBufferBytes: number;
}

const OBJECT_PATH = fileURLToPath(new URL('../bpf/file_access.bpf.o', import.meta.url));
const NAME = '@stella/probes-file';

/**
 * open/openat/openat2 on sensitive path prefixes and read/write on the descriptors they returned,
 * filtered in the kernel (prefix compare, then a {tgid, fd} map), through the first of kprobe →
 * fentry → syscall tracepoint that this kernel offers.
 */
export function fileProbes(options: Partial<FileProbesOptions> = {}): ProbePlugin<FileProbesOptions> {
  const resolved: FileProbesOptions = { ringBufferBytes: 4 * 1024 * 1024, ...options };
  return defineProbePlugin<FileProbesOptions>(
    {
      name: NAME,
      version: '0.1.0',
      categories: ['file'],
      catalogue,
      bpfObjects: [OBJECT_PATH],
      async detect({ bpf }) {
        return detectSyscallPlugin(bpf, OBJECT_PATH, FILE_SYSCALLS, 'file');
      },
      start(ctx, requests) {
        const log = ctx.logger.child({ scope: NAME });
        const prefixes = usablePrefixes(
          resolved.sensitivePaths ?? ctx.tuning.sensitivePaths ?? DEFAULT_SENSITIVE_PATHS,
          log,
        );
        log.info('sensitive path prefixes compared in the kernel', { prefixes });
        return startSyscallSession(ctx, requests, {
          plugin: NAME,
          category: 'file',
          objectPath: OBJECT_PATH,
          probes: FILE_SYSCALLS,
          symbolSyscalls: FILE_SYMBOL_SYSCALLS,
          requires: FILE_REQUIRES,
          configure: (handle) => setPrefixGlobals(handle, prefixes),
          ringBufferBytes: resolved.ringBufferBytes,
        });
      },
    },
    resolved,
  );
}

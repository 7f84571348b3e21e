// SPDX-License-Identifier: Apache-2.0
import { fileURLToPath } from 'node:url';
import { defineProbePlugin, detectSyscallPlugin, type ProbePlugin, startSyscallSession } from '@stella/sdk';
import { catalogue } from './catalogue.js';
import { NET_SYMBOL_SYSCALLS, NET_SYSCALLS } from './syscalls.js';

export interface NetProbesOptions {
  /** Ring buffer bytes (power of two). Default 4 MiB: < 3 % drops under contention (docs/KERNEL.md §6). */
  ringBufferBytes: number;
}

/** Compiled by `npm run build:bpf` beside its source; the same relative path from src/ and dist/. */
const OBJECT_PATH = fileURLToPath(new URL('../bpf/net_syscalls.bpf.o', import.meta.url));
const NAME = '@stella/probes-net';

/**
 * Network calls (connect, accept/accept4, sendto, recvfrom, sendmsg, recvmsg) observed at the
 * syscall boundary, per syscall through the first of kprobe → fentry → syscall tracepoint that
 * this kernel offers. One event per call of a target process, attributed to the libc function the
 * function map declares (see `NET_SYMBOL_SYSCALLS`).
 */
export function netProbes(options: Partial<NetProbesOptions> = {}): ProbePlugin<NetProbesOptions> {
  const resolved: NetProbesOptions = { ringBufferBytes: 4 * 1024 * 1024, ...options };
  return defineProbePlugin<NetProbesOptions>(
    {
      name: NAME,
      version: '0.1.0',
      categories: ['net'],
      catalogue,
      bpfObjects: [OBJECT_PATH],
      async detect({ bpf }) {
        return detectSyscallPlugin(bpf, OBJECT_PATH, NET_SYSCALLS, 'net');
      },
      start(ctx, requests) {
        return startSyscallSession(ctx, requests, {
          plugin: NAME,
          category: 'net',
          objectPath: OBJECT_PATH,
          probes: NET_SYSCALLS,
          symbolSyscalls: NET_SYMBOL_SYSCALLS,
          ringBufferBytes: resolved.ringBufferBytes,
        });
      },
    },
    resolved,
  );
}

// SPDX-License-Identifier: Apache-2.0
import { fileURLToPath } from 'node:url';
import {
  type CatalogueEntry,
  type CatalogueFunction,
  defineProbePlugin,
  detectSyscallPlugin,
  type ProbePlugin,
  type SyscallProbe,
  startSyscallSession,
} from '@stella/sdk';

const OBJECT_PATH = fileURLToPath(new URL('../bpf/listen_syscalls.bpf.o', import.meta.url));
const NAME = 'stella-probe-listen';

/** Mirrors `enum listen_syscall` (bpf/listen_syscalls.h); the test checks it against the BTF. */
export const LISTEN_SYSCALLS: readonly SyscallProbe[] = [
  { syscall: 'bind', id: 1 },
  { syscall: 'listen', id: 2 },
];

/** Observed through the kernel, whichever of these this kernel offers (see `detect`). */
const listen = (symbol: string): CatalogueFunction => ({
  symbol,
  category: 'listen',
  priority: 'net',
  probeTypes: ['kprobe', 'fentry', 'tracepoint'],
});

/** glibc carries `bind` and `listen`: `stella function-map generate` adds them for SBOMs listing libc6. */
export const catalogue: CatalogueEntry[] = [
  {
    name: 'GNU C library (listening sockets)',
    match: { name: ['libc6', 'glibc'] },
    libraries: [{ library: 'libc.so.6', functions: [listen('bind'), listen('listen')] }],
  },
];

export interface ListenProbesOptions {
  /** Ring buffer bytes (a power of two). Default 1 MiB: a server binds and listens rarely. */
  ringBufferBytes: number;
}

/** `bind` and `listen` of target processes, counted at the syscall boundary. */
export function listenProbes(options: Partial<ListenProbesOptions> = {}): ProbePlugin<ListenProbesOptions> {
  const resolved: ListenProbesOptions = { ringBufferBytes: 1024 * 1024, ...options };
  return defineProbePlugin<ListenProbesOptions>(
    {
      name: NAME,
      version: '0.1.0',
      categories: ['listen'],
      catalogue,
      bpfObjects: [OBJECT_PATH],
      // Which mechanism each syscall would get here, and why the better ones were passed over.
      detect: async ({ bpf }) => detectSyscallPlugin(bpf, OBJECT_PATH, LISTEN_SYSCALLS, 'listen'),
      start: (ctx, requests) =>
        startSyscallSession(ctx, requests, {
          plugin: NAME,
          category: 'listen',
          objectPath: OBJECT_PATH,
          probes: LISTEN_SYSCALLS,
          // libc symbol → the syscalls that carry it: here one each.
          symbolSyscalls: { bind: ['bind'], listen: ['listen'] },
          ringBufferBytes: resolved.ringBufferBytes,
        }),
    },
    resolved,
  );
}

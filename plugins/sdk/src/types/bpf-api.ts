// SPDX-License-Identifier: Apache-2.0
/** The narrow view of the libbpf addon a plugin gets: objects, links, maps, ring buffers. */

/**
 * The narrow view of the libbpf addon a plugin gets. Implemented by `@stella/bpf`.
 * Every failure throws a `BpfError` whose message reads "failed to <verb> <object>: <errno text>".
 */
export interface BpfApi {
  open(objectPath: string, options?: { name?: string }): BpfObjectHandle;
  /** What this kernel offers, detected without loading anything. */
  features(): KernelFeatures;
  /**
   * Whether uprobe_multi links work here (a trial link, made once per process). Optional so a
   * test double need not implement it; absent means perf-event uprobes.
   */
  uprobeMultiSupported?(): Promise<{ supported: boolean; reason?: string }>;
  /** The compiled target filter object (maps + exec/fork/exit tracker) this BPF API ships. */
  readonly targetFilterObject?: string;
  /**
   * Gives memory freed by finished native work (object loads, the placement worker) back to the
   * kernel, off the main thread; resolves whether any was given back. Optional: a test double or
   * a non-glibc build need not.
   */
  releaseFreedMemory?(): Promise<boolean>;
}

export interface KernelFeatures {
  kernelRelease: string;
  btf: boolean;
  uprobes: boolean;
  kprobes: boolean;
  /** `undefined` until a trial load was made. */
  fentry?: boolean;
  syscallTracepoints: boolean;
  tracefsPath?: string;
  /** A tracefs mount this process may not read (a non-root uid without CAP_DAC_READ_SEARCH). */
  tracefsUnreadable?: string;
  ringbuf: boolean;
  /**
   * `bpf_get_attach_cookie` for uprobes (Linux 5.15+): how one uprobe program tells its attach
   * points apart. Without it the uprobe plugins refuse to start. `undefined`: not detected.
   */
  attachCookies?: boolean;
}

export interface BpfObjectHandle {
  readonly path: string;
  programNames(): string[];
  mapNames(): string[];
  /** Before load: set a `const volatile` global in `.rodata` (or `.data`/`.bss`) by name. */
  setGlobal(name: string, value: number | bigint | boolean | Uint8Array): void;
  /** Before load: switch a program off (opensnoop's set_autoload). */
  setAutoload(program: string, enabled: boolean): void;
  /** Before load: resize a map (e.g. the ring buffer, bytes, power of two). */
  setMaxEntries(map: string, entries: number): void;
  /**
   * Before load: `map` becomes the kernel map behind `fd` (another loaded object's, from its
   * `mapFd`), so two objects share one map: how every plugin reads the node's one target filter.
   */
  reuseMap(map: string, fd: number): void;
  /** After load: the fd of `map`, valid until this object is closed. */
  mapFd(map: string): number;
  load(): void;
  attachUprobe(opts: {
    program: string;
    binaryPath: string;
    /** Symbol name, resolved by libbpf (dynamic symbols included). */
    symbol?: string;
    /** File offset, when the caller resolved the symbol itself. */
    offset?: number;
    /** -1 or undefined = every process mapping the file. */
    pid?: number;
    retprobe?: boolean;
    cookie?: bigint;
  }): BpfLink;
  attachTracepoint(opts: { program: string; category: string; name: string; cookie?: bigint }): BpfLink;
  attachRawTracepoint(opts: { program: string; name: string }): BpfLink;
  attachKprobe(opts: { program: string; symbol: string; retprobe?: boolean; cookie?: bigint }): BpfLink;
  /** Attach per the program's SEC() definition. */
  attachAuto(program: string): BpfLink;
  mapLookup(map: string, key: Uint8Array): Buffer | null;
  /** Per-CPU maps: one value per possible CPU. */
  mapLookupPerCpu(map: string, key: Uint8Array): Buffer[] | null;
  /** Per-CPU maps: reads and removes an entry in one syscall (nothing lands between the two). */
  mapLookupAndDeletePerCpu(map: string, key: Uint8Array): Buffer[] | null;
  mapUpdate(map: string, key: Uint8Array, value: Uint8Array): void;
  mapDelete(map: string, key: Uint8Array): void;
  mapKeys(map: string): Buffer[];
  /**
   * Consume a ring buffer on a worker thread. `onBatch` receives a Buffer of records, each framed
   * as [u32 little-endian length][record bytes][pad to 8]. Never blocks the event loop.
   */
  consumeRingBuffer(map: string, onBatch: (batch: Buffer, records: number) => void): RingBufferConsumer;
  close(): void;
  /**
   * Before load: how a program will be attached. `uprobe.multi` (BPF_TRACE_UPROBE_MULTI) is what
   * `attachUprobeMulti` needs, and the kernel then refuses that program for `attachUprobe`; a
   * program declared `SEC("uprobe")` starts as `uprobe`.
   */
  setProgramAttachType(program: string, attachType: UprobeAttachType): void;
  /** `attachUprobe` with the libbpf work (ELF lookup, perf event, link) on a worker thread. */
  attachUprobeAsync(opts: UprobeAttachOptions): Promise<BpfLink>;
  /**
   * One uprobe_multi link (kernel >= 6.6) carrying every offset of one file, each with its cookie;
   * made on a worker thread. Released at once: one grace period for all offsets. The program must
   * be `uprobe.multi` (`setProgramAttachType` before load, or `SEC("uprobe.multi")`).
   */
  attachUprobeMulti(opts: UprobeMultiAttachOptions): Promise<BpfLink>;
  /** Releases every link on worker threads (in parallel), then frees the object. Idempotent. */
  closeAsync(): Promise<void>;
}

/** How a uprobe program is attached: one perf event per probe, or uprobe_multi links. */
export type UprobeAttachType = 'uprobe' | 'uprobe.multi';

export interface UprobeAttachOptions {
  program: string;
  binaryPath: string;
  /** Symbol name, resolved by libbpf (dynamic symbols included). */
  symbol?: string;
  /** File offset, when the caller resolved the symbol itself. */
  offset?: number;
  /** -1 or undefined = every process mapping the file. */
  pid?: number;
  retprobe?: boolean;
  cookie?: bigint;
}

export interface UprobeMultiAttachOptions {
  program: string;
  /** Absolute path of the executable or library. */
  binaryPath: string;
  /** File offsets (not symbol names: libbpf 1.4.6 cannot resolve names in a stripped library). */
  offsets: number[];
  /** One cookie per offset, read back with bpf_get_attach_cookie(); default 0. */
  cookies?: bigint[];
  /** -1 or undefined = every process mapping the file; else the breakpoints go into that process only. */
  pid?: number;
  retprobe?: boolean;
}

export interface BpfLink {
  readonly description: string;
  /**
   * Detaches on the calling thread. Blocking: a uprobe's release waits for an RCU-tasks-trace
   * grace period (~50 ms on 6.18) with the event loop frozen. Prefer `destroyAsync()`.
   */
  destroy(): void;
  /**
   * Detaches on a worker thread; idempotent (every call returns the same promise). Many links
   * released at once share grace periods, so N of them take about one period, not N.
   */
  destroyAsync(): Promise<void>;
}

export interface RingBufferConsumer {
  /** Stops polling, drains what the kernel already wrote, delivers it, then resolves. */
  stop(): Promise<void>;
}

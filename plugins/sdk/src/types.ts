// SPDX-License-Identifier: Apache-2.0
/**
 * Public types of the Stella plugin SDK. Probe and store plugins (first- and third-party)
 * compile against these and nothing else from core.
 */

import type { ArgumentRead } from './abi.js';

/** Kernel attach mechanisms, in the vocabulary of the function map's `probeTypes`. */
export type ProbeType = 'uprobe' | 'uretprobe' | 'kprobe' | 'kretprobe' | 'fentry' | 'tracepoint' | 'raw_tracepoint';

/** Built-in categories; plugins may add more. A function id is `category/symbol`. */
export type Category = 'crypto' | 'tls' | 'auth' | 'net' | 'file' | (string & {});

/** Path priority, highest first: crypto > auth > net > general. */
export type Priority = 'crypto' | 'auth' | 'net' | 'general';

/** One observed call (or an aggregated count of calls), the NDJSON record of docs/FUNCTION-MAP.md. */
export interface Observation {
  /** ISO-8601 UTC time of the call (of the last call when aggregated). */
  observedAt: string;
  service: string;
  /** Function id, `category/symbol`. */
  function: string;
  symbol: string;
  purl?: string;
  binaryPath: string;
  buildId?: string;
  /** `sha256:` + hex(sha256(normalizedPurl + ":" + symbol)); absent only in foreign records. */
  nodeHash?: string;
  probeType: string;
  pid: number;
  tid?: number;
  comm: string;
  containerId?: string;
  cgroupId?: string;
  nodeName: string;
  /** 1 per call, or the count over the aggregation window. */
  hitCount: number;
  windowStart?: string;
  windowEnd?: string;
  /** Present when per-call events were sampled in the kernel (0 < sampleRate < 1). */
  sampleRate?: number;
  /**
   * `presence` when the probe ran in presence mode: it stopped trapping in that process once seen in
   * the window, so `hitCount` is a lower bound; whether the call happened in the window is exact.
   * Absent in count mode (every call counted).
   */
  countMode?: 'presence';
  /**
   * The algorithm the call ran (`SHA-256`, `AES-256-CBC`, `X25519`), for functions whose catalogue
   * entry says how to know it; `unknown` when it could not be read. Absent for other functions.
   */
  algorithm?: string;
}

/** Minimal structured logger handed to plugins. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

// ---------------------------------------------------------------------------------------------
// Catalogue: which libraries carry which security-relevant functions (used by `generate`).
// ---------------------------------------------------------------------------------------------

/** Matches SBOM components by purl. All given fields must match (case-insensitive globs). */
export interface ComponentMatcher {
  /** purl type, e.g. `deb`, `apk`, `rpm`, `generic`, `npm`. Omit for any. */
  purlType?: string | string[];
  /** purl name globs, e.g. `libssl*`, `openssl`, `openssl-libs`. */
  name: string | string[];
  /** purl namespace globs (e.g. `debian`, `alpine`); omit for any. */
  namespace?: string | string[];
}

export interface CatalogueFunction {
  symbol: string;
  category: Category;
  /** Tags for per-tag rates; defaults to `[category]`. */
  tags?: string[];
  priority?: Priority;
  /** Optional calls never count against the observation rate (e.g. SSL_read: hot, noisy). */
  optional?: boolean;
  /** Preferred mechanisms, best first. Defaults to `['uprobe']`. */
  probeTypes?: ProbeType[];
  /**
   * Called per record or block (SSL_read, EVP_DigestUpdate): probed only when a map declares it,
   * never merely to catch undeclared calls, since every call pays the uprobe trap (docs/KERNEL.md §2).
   */
  hot?: boolean;
  description?: string;
  /** Which algorithm each call runs, when the API says so (the crypto plugin's CBOM). */
  algorithm?: AlgorithmSource;
}

/**
 * How a call's algorithm is known: read at the call (`read`, named by `nameOf`; a value it cannot
 * name, a failed read or a NULL pointer is recorded as `unknown`), or the function is the
 * algorithm (`fixed`, libsodium's `crypto_box_easy`).
 */
export type AlgorithmSource =
  | { read: ArgumentRead; nameOf(value: number): string | undefined }
  | { fixed: string; read?: undefined };

export interface CatalogueLibrary {
  /** Soname or file name to look for, e.g. `libssl.so.3`; for static binaries the path (`/usr/bin/node`). */
  library: string;
  /** Other acceptable sonames (`libssl.so.1.1`). */
  alternatives?: string[];
  /** Absolute path when the library is an executable (node's static OpenSSL). */
  binaryPath?: string;
  functions: CatalogueFunction[];
}

export interface CatalogueEntry {
  /** Human name of what is matched, e.g. "OpenSSL 3 libssl". */
  name: string;
  match: ComponentMatcher;
  libraries: CatalogueLibrary[];
}

// ---------------------------------------------------------------------------------------------
// Probing: the agent hands each plugin the expected calls of its categories.
// ---------------------------------------------------------------------------------------------

/** One expected call the agent wants observed, taken from a loaded function map. */
export interface ProbeRequest {
  service: string;
  /** `category/symbol`. */
  functionId: string;
  category: Category;
  symbol: string;
  /** Library soname or basename as in the map (`libssl.so.3`). */
  library: string;
  /** Path as in the map; may be a path inside a container image. */
  binaryPath: string;
  purl?: string;
  buildId?: string;
  nodeHash: string;
  probeTypes: ProbeType[];
}

/**
 * The life of one expected call on this node: declared → resolvable → attached → observed, or
 * failed with a reason. `detached` is a report about one attach point only (see
 * {@link ProbeStatus.attachPoint}): its link was released — the process left, or no target maps
 * that file any more — so it no longer counts. A call never reads `detached`: it reads attached
 * through its other points, failed if one failed, else resolvable.
 */
export type ProbeState = 'declared' | 'resolvable' | 'attached' | 'observed' | 'failed' | 'detached';

export type ProbeFailureReason =
  | 'library-absent'
  | 'symbol-missing'
  | 'stripped'
  | 'kernel-feature-missing'
  | 'build-id-mismatch'
  | 'attach-error'
  | 'limit-reached'
  | 'plugin-error';

export interface ProbeStatus {
  plugin: string;
  service: string;
  functionId: string;
  nodeHash: string;
  /** Resolved file on this node, when known. */
  resolvedPath?: string;
  probeType?: ProbeType;
  state: ProbeState;
  reason?: ProbeFailureReason;
  /** One sentence, e.g. "failed to attach kprobe do_sys_openat2: No such file or directory (ENOENT)". */
  detail?: string;
  pid?: number;
  /**
   * A stable id of one place this call is probed, opaque to the agent: e.g. a library file's
   * `dev:inode`, plus the pid for a per-process link. The agent keeps the latest report of each
   * point and reads the call as attached while any point is attached, else failed while any point
   * failed, else resolvable; so a later failure or a `detached` report of a point does downgrade
   * the call. Reports without it share one implicit point per (plugin, `resolvedPath`, `pid`).
   */
  attachPoint?: string;
}

/** Which processes belong to which service. Filtering happens in the kernel. */
export interface TargetSpec {
  service: string;
  /** Executable paths (exact, or globs) whose processes belong to the service. */
  executables?: string[];
  /** cgroup v2 paths (relative to the cgroup root) or numeric cgroup ids. */
  cgroups?: string[];
  containerIds?: string[];
  pids?: number[];
  /** When true, every process on the node belongs to the service (demo/sidecar use). */
  allProcesses?: boolean;
}

/** Target rules resolved to what the kernel can compare cheaply. */
export interface TargetRules {
  /** Service names; the kernel refers to them by index. */
  services: string[];
  /** When set, no filtering: every process belongs to this service. */
  allProcessesService?: string;
  /** Executables by (device, inode) as the kernel sees them (`s_dev` encoding, not `st_dev`). */
  executables: { service: string; path: string; kernelDev: bigint; inode: bigint }[];
  /** cgroup v2 ids (the cgroup directory's inode number). */
  cgroups: { service: string; path: string; cgroupId: bigint }[];
  /** Processes already running that match a rule (exe, container, explicit pid). */
  pids: { service: string; pid: number }[];
}

/** Fds of the node's target maps (stella/target.bpf.h), owned by the core's target filter. */
export interface TargetMapFds {
  pids: number;
  cgroups: number;
  exes: number;
}

/** A process the agent decided to watch. */
export interface TargetProcess {
  pid: number;
  service: string;
  exe: string;
  comm: string;
  cgroupId?: bigint;
  containerId?: string;
  /** `/proc/PID/root`, through which container paths are opened. */
  root: string;
}

/** Overhead controls the agent passes to every probe (docs/OPERATIONS.md §5). */
export interface ProbeTuning {
  /**
   * 0 < samplingRate ≤ 1, applied in the kernel to per-call events. With aggregation on no per-call
   * event is sent (the counts carry every call), so the rate has no effect there.
   */
  samplingRate: number;
  /** 0 = per-call events; > 0 = counts aggregated in BPF maps, read every window. */
  aggregationWindowMs: number;
  maxConcurrent: number;
  attachTimeoutMs: number;
  /** Probe types the operator allows, best first (config `probes.default_types`). */
  defaultTypes: ProbeType[];
  /** Path prefixes the file probes watch, compared in the kernel (config `probes.sensitive_paths`). */
  sensitivePaths?: string[];
  /** Config `probes.mode`: absent means presence for catalogue functions marked hot, count otherwise. */
  countMode?: ProbeCountMode;
  /** Config `probes.modes`: per category or function id; the most specific key wins. */
  countModes?: Record<string, ProbeCountMode>;
  /**
   * Presence mode's window: a function seen in a process is disarmed there until the window rolls
   * over. The aggregation window when aggregating, else the verifier's interval.
   */
  presenceWindowMs?: number;
}

/**
 * `count`: every call traps and is counted (exact `hitCount`). `presence`: a function traps until
 * seen in the current window, then is disarmed for that process until the window rolls over
 * (`hitCount` is a lower bound; whether it was called in the window is exact).
 */
export type ProbeCountMode = 'count' | 'presence';

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

/** What the agent hands a probe plugin's `start`: nothing a plugin does not use. */
export interface PluginContext {
  readonly bpf: BpfApi;
  readonly logger: Logger;
  readonly nodeName: string;
  readonly tuning: ProbeTuning;
  /** Processes currently targeted; refreshed as processes come and go. */
  targets(): TargetProcess[];
  /**
   * The target rules in kernel terms, read-only: the service names by the index the kernel
   * carries, and whether the rules name pids only (per-pid attach). The core fills the maps.
   */
  targetRules(): TargetRules;
  /**
   * The node's one set of target maps, which every plugin object reuses before load
   * (`openProbeObject` does it). Undefined only when the rules claim every process.
   */
  readonly targetMaps?: TargetMapFds;
  /** Called with every target change (new process, exit, new library mapped via dlopen). */
  onTargetsChanged(listener: (targets: TargetProcess[]) => void): () => void;
  /** Hand observations to the pipeline (never blocks; counts drops when the buffer is full). */
  emit(observations: Observation[]): void;
  /** Record a probe's lifecycle state; shown in `plugins list`, the report and metrics. */
  reportStatus(status: ProbeStatus): void;
  /** Count events the kernel could not deliver (ring buffer full), read from the drop counter. */
  reportKernelDrops(plugin: string, total: bigint): void;
}

export interface ProbeSession {
  /** Detach everything, drain ring buffers, deliver what was read. */
  stop(): Promise<void>;
}

export interface ProbePluginDetection {
  /** Whether this plugin can run at all here; when false, `reason` says why. */
  available: boolean;
  reason?: string;
  /** Mechanism per category actually usable, e.g. `{ net: 'tracepoint' }`. */
  mechanisms?: Record<string, ProbeType>;
  notes?: string[];
}

export interface ProbePlugin<TOptions = unknown> {
  readonly kind: 'probe';
  /** Unique name, e.g. `@stella/probes-crypto`. */
  readonly name: string;
  readonly version?: string;
  readonly categories: Category[];
  /** Libraries and functions this plugin knows, for `function-map generate`. */
  readonly catalogue: CatalogueEntry[];
  /** Compiled BPF objects the plugin loads (absolute paths), for `plugins list`. */
  readonly bpfObjects: string[];
  readonly options: TOptions;
  /** Detect what this kernel offers, without side effects beyond trial loads. */
  detect(ctx: Pick<PluginContext, 'bpf' | 'logger'>): Promise<ProbePluginDetection>;
  /** Attach probes for the requests of this plugin's categories and start emitting. */
  start(ctx: PluginContext, requests: ProbeRequest[]): Promise<ProbeSession>;
}

// ---------------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------------

export interface ObservationQuery {
  service?: string;
  /** Glob over function ids (`tls/*`). */
  function?: string;
  from?: Date;
  to?: Date;
  limit?: number;
}

export interface FunctionSummary {
  service: string;
  function: string;
  nodeHash?: string;
  binaryPath: string;
  hitCount: number;
  records: number;
  firstSeen: string;
  lastSeen: string;
}

export interface ObservationStore {
  readonly name: string;
  /** Appends a batch; resolves when durable in the store. Throws `StoreUnavailableError` when down. */
  append(batch: Observation[]): Promise<void>;
  /** Streams matching observations in observedAt order. */
  query(q: ObservationQuery): AsyncIterable<Observation>;
  summary(q: ObservationQuery): Promise<FunctionSummary[]>;
  /** Deletes observations older than `cutoff`; returns how many (or an estimate, for partitions). */
  prune(cutoff: Date): Promise<number>;
  close(): Promise<void>;
}

export interface StoreSettings {
  retentionHours: number;
  maxBatchSize: number;
  // biome-ignore lint/suspicious/noExplicitAny: store-specific connection settings
  [key: string]: any;
}

export interface StorePlugin<TOptions = unknown> {
  readonly kind: 'store';
  /** The `observation_store.type` it serves: `memory`, `postgres`, `valkey`, … */
  readonly type: string;
  readonly options: TOptions;
  create(settings: StoreSettings, ctx: { logger: Logger }): Promise<ObservationStore>;
}

export type StellaPlugin = ProbePlugin<unknown> | StorePlugin<unknown>;

// SPDX-License-Identifier: Apache-2.0
/** BpfObjectHandle over the native addon: argument checks, value encoding and lifetimes live here. */
import { constants } from 'node:os';
import type {
  BpfLink,
  BpfObjectHandle,
  RingBufferConsumer,
  UprobeAttachOptions,
  UprobeAttachType,
  UprobeMultiAttachOptions,
} from '@stella/sdk';
import { BpfError, rethrowNative } from './errors.js';
import { LibbpfLink, LibbpfRingBufferConsumer } from './link.js';
import type { NativeGlobalInfo, NativeLink, NativeMapInfo, NativeObject, NativeUprobeArgs } from './native.js';
import { nativeAddon } from './native.js';

const { ENOENT, EINVAL, ERANGE, EBADF } = constants.errno;

/** enum bpf_attach_type (the kernel UAPI header <linux/bpf.h>): what SEC("uprobe") and SEC("uprobe.multi") set. */
const ATTACH_TYPES: Record<UprobeAttachType, number> = { uprobe: 0, 'uprobe.multi': 48 };

/** BPF_ANY / BPF_NOEXIST / BPF_EXIST for mapUpdate. */
export const MapUpdateFlags = { any: 0, noExist: 1, exist: 2 } as const;

export interface RingBufferOptions {
  /**
   * Longest wait between drains, ms (default 20). Records are submitted without wakeups
   * (BPF_RB_NO_WAKEUP), so this is also the delivery latency.
   */
  pollTimeoutMs?: number;
  /** Most records in one batch (default 8192). */
  maxBatchRecords?: number;
  /** Most bytes in one batch, framing included (default 1 MiB). */
  maxBatchBytes?: number;
  /** Receives what `onBatch` throws (default: a process warning); consuming goes on. */
  onError?: (error: unknown) => void;
}

const forPid = (pid: number) => (pid >= 0 ? ` for pid ${pid}` : '');

/** One perf-event uprobe: a symbol (libbpf resolves it, `offset` then relative to it) or a file offset. */
function perfEventUprobe(opts: UprobeAttachOptions): NativeUprobeArgs {
  const kind = opts.retprobe ? 'uretprobe' : 'uprobe';
  if (!opts.symbol && opts.offset === undefined) {
    throw new BpfError({
      errno: EINVAL,
      verb: 'attach',
      object: `${kind} in ${opts.binaryPath} (no symbol or offset)`,
    });
  }
  const pid = opts.pid ?? -1;
  const where = opts.symbol ?? `0x${(opts.offset ?? 0).toString(16)}`;
  const description = `${kind} ${where} in ${opts.binaryPath}${forPid(pid)}`;
  return [
    0,
    opts.program,
    opts.binaryPath,
    pid,
    opts.retprobe ?? false,
    opts.symbol ?? null,
    [opts.offset ?? 0],
    [opts.cookie ?? 0n],
    description,
  ];
}

/** One uprobe_multi link: every offset of one file, a cookie each. */
function multiUprobe(opts: UprobeMultiAttachOptions): NativeUprobeArgs {
  const kind = opts.retprobe ? 'uretprobe_multi' : 'uprobe_multi';
  const pid = opts.pid ?? -1;
  const description = `${kind} (${opts.offsets.length} offsets) in ${opts.binaryPath}${forPid(pid)}`;
  const bad = opts.offsets.find((o) => !Number.isSafeInteger(o) || o < 0);
  if (opts.offsets.length === 0 || bad !== undefined) {
    const why = bad === undefined ? 'no offsets' : `bad offset ${bad}`;
    throw new BpfError({ errno: EINVAL, verb: 'attach', object: `${description} (${why})` });
  }
  if (opts.cookies && opts.cookies.length !== opts.offsets.length) {
    const why = `${opts.cookies.length} cookies for ${opts.offsets.length} offsets`;
    throw new BpfError({ errno: EINVAL, verb: 'attach', object: `${description} (${why})` });
  }
  const cookies = opts.cookies ?? opts.offsets.map(() => 0n);
  return [1, opts.program, opts.binaryPath, pid, opts.retprobe ?? false, null, opts.offsets, cookies, description];
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Little-endian bytes of `value` for a global of `size` bytes (two's complement for negatives). */
function encodeGlobal(name: string, value: number | bigint | boolean | Uint8Array, size: number): Buffer {
  if (value instanceof Uint8Array) {
    if (value.byteLength > size) {
      throw new BpfError({
        errno: ERANGE,
        verb: 'set',
        object: `global ${name} (${value.byteLength} bytes into ${size})`,
      });
    }
    const out = Buffer.alloc(size);
    out.set(value);
    return out;
  }
  let big: bigint;
  if (typeof value === 'boolean') big = value ? 1n : 0n;
  else if (typeof value === 'bigint') big = value;
  else {
    if (!Number.isInteger(value)) {
      throw new BpfError({ errno: EINVAL, verb: 'set', object: `global ${name} to non-integer ${value}` });
    }
    big = BigInt(value);
  }
  const bits = BigInt(size * 8);
  if (![1, 2, 4, 8].includes(size) || big >= 1n << bits || big < -(1n << (bits - 1n))) {
    throw new BpfError({ errno: ERANGE, verb: 'set', object: `global ${name} to ${big} (${size} bytes)` });
  }
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(BigInt.asUintN(64, big));
  return out.subarray(0, size);
}

/** One opened BPF object file. Not thread-safe; one per plugin/probe set. */
export class BpfObject implements BpfObjectHandle {
  readonly path: string;
  #native: NativeObject | undefined;
  #loaded = false;
  readonly #links = new Set<LibbpfLink>();
  readonly #consumers = new Set<LibbpfRingBufferConsumer>();
  #globals: Map<string, NativeGlobalInfo> | undefined;
  #maps: Map<string, NativeMapInfo> | undefined;

  constructor(path: string, options: { name?: string } = {}) {
    this.path = path;
    try {
      this.#native = new (nativeAddon().BpfObject)(path, options.name);
    } catch (error) {
      rethrowNative(error);
    }
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  #obj(): NativeObject {
    if (!this.#native) throw new BpfError({ errno: EBADF, verb: 'use', object: `BPF object ${this.path} (closed)` });
    return this.#native;
  }

  #call<T>(fn: (native: NativeObject) => T): T {
    const native = this.#obj();
    try {
      return fn(native);
    } catch (error) {
      rethrowNative(error);
    }
  }

  programNames(): string[] {
    return this.#call((o) => o.programNames().map((p) => p.name));
  }

  /** Programs with their SEC() names and autoload state. */
  programs(): { name: string; section: string; autoload: boolean }[] {
    return this.#call((o) => o.programNames());
  }

  mapNames(): string[] {
    return [...this.#mapInfos().keys()];
  }

  #mapInfos(): Map<string, NativeMapInfo> {
    this.#maps ??= new Map(this.#call((o) => o.maps()).map((m) => [m.name, m]));
    return this.#maps;
  }

  /** Key/value sizes, type and capacity of a map (internal maps by section name: `.bss`). */
  mapInfo(map: string): NativeMapInfo {
    const info = this.#mapInfos().get(map);
    if (!info) throw new BpfError({ errno: ENOENT, verb: 'find', object: `map ${map} in ${this.path}` });
    return info;
  }

  /** Variables of .rodata/.data/.bss with their section, offset and size. */
  globals(): NativeGlobalInfo[] {
    this.#globals ??= new Map(this.#call((o) => o.globals()).map((g) => [g.name, g]));
    return [...this.#globals.values()];
  }

  setGlobal(name: string, value: number | bigint | boolean | Uint8Array): void {
    this.globals();
    const info = this.#globals!.get(name);
    if (!info) throw new BpfError({ errno: ENOENT, verb: 'set', object: `global ${name} in ${this.path}` });
    const bytes = encodeGlobal(name, value, info.size);
    this.#call((o) => o.setGlobalBytes(info.section, info.offset, bytes, name));
  }

  setAutoload(program: string, enabled: boolean): void {
    this.#call((o) => o.setAutoload(program, enabled));
  }

  setMaxEntries(map: string, entries: number): void {
    this.#call((o) => o.setMaxEntries(map, entries));
    this.#maps = undefined;
  }

  /** Before load: `map` becomes the kernel map behind `fd` (another object's, see `mapFd`). */
  reuseMap(map: string, fd: number): void {
    if (this.#loaded)
      throw new BpfError({ errno: EINVAL, verb: 'reuse', object: `map ${map} (object already loaded)` });
    this.#call((o) => o.reuseMap(map, fd));
  }

  /** After load: the fd of `map`, valid until this object is closed. */
  mapFd(map: string): number {
    return this.#call((o) => o.mapFd(map));
  }

  load(): void {
    this.#call((o) => o.load());
    this.#loaded = true;
    this.#maps = undefined;
  }

  #track(native: NativeLink, description: string): LibbpfLink {
    const link = new LibbpfLink(native, description, (l) => this.#links.delete(l));
    this.#links.add(link);
    return link;
  }

  attachUprobe(opts: UprobeAttachOptions): BpfLink {
    const args = perfEventUprobe(opts);
    return this.#track(
      this.#call((o) => o.attachUprobe(...args)),
      args[8],
    );
  }

  /** Before load: `uprobe.multi` for programs given to `attachUprobeMulti`. */
  setProgramAttachType(program: string, attachType: UprobeAttachType): void {
    const type = ATTACH_TYPES[attachType];
    if (type === undefined) {
      throw new BpfError({ errno: EINVAL, verb: 'set attach type of', object: `program ${program} to ${attachType}` });
    }
    this.#call((o) => o.setExpectedAttachType(program, type));
  }

  async attachUprobeAsync(opts: UprobeAttachOptions): Promise<BpfLink> {
    return this.#attachUprobeOffThread(perfEventUprobe(opts));
  }

  async attachUprobeMulti(opts: UprobeMultiAttachOptions): Promise<BpfLink> {
    return this.#attachUprobeOffThread(multiUprobe(opts));
  }

  /** Either link kind, made on a worker thread; every failure rejects (none throws). */
  async #attachUprobeOffThread(args: NativeUprobeArgs): Promise<BpfLink> {
    return this.#settleAttach(
      this.#call((o) => o.attachUprobeAsync(...args)),
      args[8],
    );
  }

  /** A link that arrives after close() is released at once: nobody would ever detach it. */
  async #settleAttach(pending: Promise<NativeLink>, description: string): Promise<BpfLink> {
    let native: NativeLink;
    try {
      native = await pending;
    } catch (error) {
      rethrowNative(error);
    }
    if (!this.#native) {
      await native.destroyAsync().catch(() => {});
      throw new BpfError({ errno: EBADF, verb: 'attach', object: `${description} (object closed meanwhile)` });
    }
    return this.#track(native, description);
  }

  attachTracepoint(opts: { program: string; category: string; name: string; cookie?: bigint }): BpfLink {
    const native = this.#call((o) => o.attachTracepoint(opts.program, opts.category, opts.name, opts.cookie ?? 0n));
    return this.#track(native, `tracepoint ${opts.category}/${opts.name}`);
  }

  attachRawTracepoint(opts: { program: string; name: string }): BpfLink {
    const native = this.#call((o) => o.attachRawTracepoint(opts.program, opts.name));
    return this.#track(native, `raw tracepoint ${opts.name}`);
  }

  attachKprobe(opts: { program: string; symbol: string; retprobe?: boolean; cookie?: bigint }): BpfLink {
    const native = this.#call((o) =>
      o.attachKprobe(opts.program, opts.symbol, opts.retprobe ?? false, opts.cookie ?? 0n),
    );
    return this.#track(native, `${opts.retprobe ? 'kretprobe' : 'kprobe'} ${opts.symbol}`);
  }

  attachAuto(program: string): BpfLink {
    const native = this.#call((o) => o.attachAuto(program));
    return this.#track(native, `program ${program}`);
  }

  mapLookup(map: string, key: Uint8Array): Buffer | null {
    return this.#call((o) => o.mapLookup(map, toBuffer(key)));
  }

  mapLookupPerCpu(map: string, key: Uint8Array): Buffer[] | null {
    const valueSize = this.#perCpuValueSize(map);
    return splitPerCpu(this.mapLookup(map, key), valueSize);
  }

  /** Reads and removes an entry in one syscall: no update lands between the read and the delete. */
  mapLookupAndDeletePerCpu(map: string, key: Uint8Array): Buffer[] | null {
    const valueSize = this.#perCpuValueSize(map);
    return splitPerCpu(
      this.#call((o) => o.mapLookupAndDelete(map, toBuffer(key))),
      valueSize,
    );
  }

  #perCpuValueSize(map: string): number {
    const info = this.mapInfo(map);
    if (!info.perCpu)
      throw new BpfError({ errno: EINVAL, verb: 'look up', object: `map ${map} per CPU (not a per-CPU map)` });
    return info.valueSize;
  }

  /** `flags`: MapUpdateFlags (default any). Per-CPU maps take one 8-byte-aligned value per possible CPU. */
  mapUpdate(map: string, key: Uint8Array, value: Uint8Array, flags: number = MapUpdateFlags.any): void {
    this.#call((o) => o.mapUpdate(map, toBuffer(key), toBuffer(value), flags));
  }

  mapDelete(map: string, key: Uint8Array): void {
    this.#call((o) => o.mapDelete(map, toBuffer(key)));
  }

  mapKeys(map: string): Buffer[] {
    return this.#call((o) => o.mapKeys(map));
  }

  consumeRingBuffer(
    map: string,
    onBatch: (batch: Buffer, records: number) => void,
    options: RingBufferOptions = {},
  ): RingBufferConsumer {
    const onError =
      options.onError ??
      ((error: unknown) =>
        process.emitWarning(`ring buffer ${map} batch handler threw: ${(error as Error)?.message ?? error}`));
    const guarded = (batch: Buffer, records: number) => {
      try {
        onBatch(batch, records);
      } catch (error) {
        onError(error);
      }
    };
    const native = this.#call((o) =>
      o.consumeRingBuffer(
        map,
        guarded,
        options.pollTimeoutMs ?? 20,
        options.maxBatchRecords ?? 8192,
        options.maxBatchBytes ?? 1 << 20,
      ),
    );
    const consumer = new LibbpfRingBufferConsumer(native, (c) => this.#consumers.delete(c));
    this.#consumers.add(consumer);
    return consumer;
  }

  /**
   * Detaches every link, stops consumers at once (records not yet delivered are dropped: call
   * `stop()` on consumers first to drain), and frees the object. Idempotent.
   */
  close(): void {
    const native = this.#native;
    if (!native) return;
    for (const link of [...this.#links]) {
      try {
        link.destroy();
      } catch {
        // Closing must finish; a link the kernel already dropped is gone either way.
      }
    }
    this.#native = undefined;
    this.#consumers.clear();
    native.close();
  }

  /**
   * close() without blocking: every link is released on its own worker thread at the same time
   * (they share grace periods), then the object is freed. Idempotent.
   */
  async closeAsync(): Promise<void> {
    const native = this.#native;
    if (!native) return;
    const releases = [...this.#links].map((link) => link.destroyAsync().catch(() => {}));
    this.#native = undefined;
    this.#consumers.clear();
    await Promise.all(releases);
    native.close();
  }
}

/** The kernel lays per-CPU values out one per possible CPU, each rounded up to 8 bytes. */
function splitPerCpu(raw: Buffer | null, valueSize: number): Buffer[] | null {
  if (!raw) return null;
  const stride = (valueSize + 7) & ~7;
  const values: Buffer[] = [];
  for (let off = 0; off + stride <= raw.length; off += stride) values.push(raw.subarray(off, off + valueSize));
  return values;
}

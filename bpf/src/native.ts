// SPDX-License-Identifier: Apache-2.0
/** Finds and loads the compiled addon; the shapes the C++ binding (addon/binding.cc) exposes. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AddonNotFoundError } from './errors.js';

export interface NativeProgramInfo {
  name: string;
  section: string;
  autoload: boolean;
}

export interface NativeMapInfo {
  name: string;
  /** enum bpf_map_type */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  perCpu: boolean;
  internal: boolean;
}

export interface NativeGlobalInfo {
  name: string;
  section: string;
  offset: number;
  size: number;
}

export interface NativeLink {
  destroy(): void;
  /** bpf_link__destroy on a worker thread; resolves when the kernel released the link. */
  destroyAsync(): Promise<void>;
  fd(): number;
}

export interface NativeConsumer {
  stop(): Promise<void>;
}

export interface NativeObject {
  programNames(): NativeProgramInfo[];
  maps(): NativeMapInfo[];
  globals(): NativeGlobalInfo[];
  setGlobalBytes(section: string, offset: number, bytes: Buffer, name: string): void;
  setAutoload(program: string, enabled: boolean): void;
  setMaxEntries(map: string, entries: number): void;
  reuseMap(map: string, fd: number): void;
  mapFd(map: string): number;
  load(): void;
  /** One perf-event uprobe, made on the calling thread: see {@link NativeUprobeArgs}. */
  attachUprobe(...args: NativeUprobeArgs): NativeLink;
  attachTracepoint(program: string, category: string, name: string, cookie: bigint): NativeLink;
  attachRawTracepoint(program: string, name: string): NativeLink;
  attachKprobe(program: string, symbol: string, retprobe: boolean, cookie: bigint): NativeLink;
  attachAuto(program: string): NativeLink;
  mapLookup(map: string, key: Buffer): Buffer | null;
  mapUpdate(map: string, key: Buffer, value: Buffer, flags: number): void;
  mapDelete(map: string, key: Buffer): void;
  mapLookupAndDelete(map: string, key: Buffer): Buffer | null;
  mapKeys(map: string): Buffer[];
  consumeRingBuffer(
    map: string,
    onBatch: (batch: Buffer, records: number) => void,
    pollTimeoutMs: number,
    maxBatchRecords: number,
    maxBatchBytes: number,
  ): NativeConsumer;
  close(): void;
  /** enum bpf_attach_type, before load. */
  setExpectedAttachType(program: string, attachType: number): void;
  /** A perf-event uprobe or a uprobe_multi link, made on a worker thread. */
  attachUprobeAsync(...args: NativeUprobeArgs): Promise<NativeLink>;
}

/**
 * The addon's one uprobe request (binding.cc `UprobeAttach`): kind 0 is a perf-event uprobe (one
 * offset, relative to `symbol` when named, one cookie), kind 1 a uprobe_multi link (N offsets, no
 * symbol, a cookie each). `description` names it in errors and on the link.
 */
export type NativeUprobeArgs = [
  kind: 0 | 1,
  program: string,
  binaryPath: string,
  pid: number,
  retprobe: boolean,
  symbol: string | null,
  offsets: number[],
  cookies: bigint[],
  description: string,
];

export interface NativeAddon {
  BpfObject: new (path: string, name?: string) => NativeObject;
  numPossibleCpus(): number;
  libbpfVersion(): string;
  probeMapType(type: number): boolean;
  /** glibc malloc_trim(0) on its own thread: whether freed arena pages went back to the kernel. */
  releaseFreedMemory(): Promise<boolean>;
}

/** The package directory (bpf/), the same from src/ and dist/. */
export const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const BUILD_COMMAND = 'npm run build:bpf';

/** Where the addon may be, in the order tried: $STELLA_BPF_ADDON, then node-gyp's outputs. */
export function addonCandidates(): string[] {
  const paths: string[] = [];
  const fromEnv = process.env.STELLA_BPF_ADDON;
  if (fromEnv) paths.push(resolve(fromEnv));
  paths.push(join(packageDir, 'build', 'Release', 'stella_bpf.node'));
  paths.push(join(packageDir, 'build', 'Debug', 'stella_bpf.node'));
  return paths;
}

/** Loads the first candidate that exists; throws AddonNotFoundError listing every path tried. */
export function loadAddon(candidates: string[] = addonCandidates()): NativeAddon {
  const require = createRequire(import.meta.url);
  const causes: string[] = [];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    try {
      return require(path) as NativeAddon;
    } catch (error) {
      causes.push(`${path} failed to load: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new AddonNotFoundError(candidates, BUILD_COMMAND, causes);
}

let cached: NativeAddon | undefined;

/** The addon of this process, loaded on first use. */
export function nativeAddon(): NativeAddon {
  cached ??= loadAddon();
  return cached;
}

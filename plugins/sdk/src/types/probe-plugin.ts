// SPDX-License-Identifier: Apache-2.0
/** A probe plugin's shape and the context the agent hands its `start`. */
import type { BpfApi } from './bpf-api.js';
import type { CatalogueEntry, Category, ProbeType } from './catalogue.js';
import type { Logger } from './logger.js';
import type { Observation } from './observation.js';
import type { ProbeRequest, ProbeStatus } from './probe-requests.js';
import type { StorePlugin } from './store.js';
import type { TargetMapFds, TargetProcess, TargetScope } from './targets.js';
import type { ProbeTuning } from './tuning.js';

/** What the agent hands a probe plugin's `start`: nothing a plugin does not use. */
export interface PluginContext {
  readonly bpf: BpfApi;
  readonly logger: Logger;
  readonly nodeName: string;
  readonly tuning: ProbeTuning;
  /** Processes currently targeted; refreshed as processes come and go. */
  targets(): TargetProcess[];
  /**
   * What a session needs of the target rules: service names by kernel index, the all-processes
   * service, and the explicit pids when only pids are named. The rules stay in the core.
   */
  targetScope(): TargetScope;
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

export type StellaPlugin = ProbePlugin<unknown> | StorePlugin<unknown>;

// SPDX-License-Identifier: Apache-2.0
/** Observation stores: the interface a store implements and the plugin that creates it. */
import type { Logger } from './logger.js';
import type { Observation } from './observation.js';

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

// SPDX-License-Identifier: Apache-2.0
/**
 * The injection tokens of the agent's one container (compose.ts). A part is found by its token;
 * a test or an embedding program replaces one by registering its own under the token in a
 * container it passes to `composeAgent` (compose only fills in what is not registered yet).
 * Plugins never see the container: compose registers each loaded plugin under its kind's token.
 */
import type { Observation } from '@stella/sdk';

/** The time the agent's clocked parts read, in epoch ms. */
export interface Clock {
  now(): number;
}

/** The system clock: the default `Clock`. */
export const systemClock: Clock = { now: () => Date.now() };

/** What the agent needs of an observation exporter (the NDJSON exporter is the built-in one). */
export interface ObservationExporter {
  /** Buffers a batch; never blocks on I/O. */
  write(batch: Observation[]): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Bytes held in memory, which the pipeline counts against its buffer budget. */
  stats(): { bufferedBytes: number };
}

export const TOKENS = {
  /** The resolved configuration: every part reads its own settings from the one validated copy. */
  Config: Symbol('stella.Config'),
  /** The root logger: one format and level for all parts; a test swaps in one that records lines. */
  Logger: Symbol('stella.Logger'),
  /**
   * Time for the clocked parts (segment names and rotation, verification windows): a test pins it
   * to check what is written at a given time without waiting for the wall clock.
   */
  Clock: Symbol('stella.Clock'),
  /** The kernel: the libbpf addon, or a wrapper that injects faults or lies about features. */
  Bpf: Symbol('stella.Bpf'),
  /**
   * Every probe plugin, one registration each (resolved all at once): the built-in ones and the
   * config's own modules, in config order. A test registers its own plugin beside them.
   */
  ProbePlugin: Symbol('stella.ProbePlugin'),
  /** Every store plugin, one registration each; compose opens the one `observation_store.type` names. */
  StorePlugin: Symbol('stella.StorePlugin'),
  /** The opened observation store (retrying in the background while its server is down). */
  Store: Symbol('stella.Store'),
  /** Where batches go besides the store: the NDJSON exporter, or a test's in-memory one. */
  Exporter: Symbol('stella.Exporter'),
  /** Metrics and traces; a test may register its own meter-backed one to read gauges directly. */
  Telemetry: Symbol('stella.Telemetry'),
  /** The function maps the agent probes for and verifies against, read once at start. */
  FunctionMaps: Symbol('stella.FunctionMaps'),
} as const;

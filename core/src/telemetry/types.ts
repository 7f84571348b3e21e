// SPDX-License-Identifier: Apache-2.0
import type { Meter, Tracer } from '@opentelemetry/api';
import type { Logger, Observation } from '@stella/sdk';
import type { LearningStateName, PathObservedState } from './metrics.js';

/** Why an observation never reached the store. Bounded: these are the only label values. */
/** Why observations were lost: the three otel-collector/README.md lists, plus the NDJSON export's bound while the disk fails. */
export type DropReason = 'buffer_full' | 'ringbuf' | 'store_error' | 'export_error';

export interface PrometheusOptions {
  enabled: boolean;
  /** Bind address. Default in config is loopback: the endpoint is unauthenticated. */
  host: string;
  /** 0 binds an ephemeral port; read it back with `prometheusUrl()`. */
  port: number;
}

export interface OtlpOptions {
  /** gRPC endpoint, e.g. `http://otel-collector:4317` (`https://` for TLS). Default: the OTel SDK's
   * (`OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4317`). */
  endpoint?: string;
  /** Push the metrics over OTLP as well (the Prometheus endpoint is independent of this). */
  metrics: boolean;
  /** Send observations as spans. */
  traces: boolean;
  /** Share of observations that become spans, 0..1. Sampling happens before a span is built. */
  spanSamplingRatio: number;
  /** gRPC metadata sent with every export (e.g. an API key for a managed backend). */
  headers?: Record<string, string>;
  /** Metric export interval and span batch delay, in milliseconds. */
  exportIntervalMs: number;
}

export interface TelemetryOptions {
  /** This node's name: `host.name` resource attribute and the `node` label. */
  nodeName: string;
  /** `service.instance.id` of the agent; default `nodeName`. */
  serviceInstanceId?: string;
  prometheus?: PrometheusOptions;
  otlp?: OtlpOptions;
  logger: Logger;
}

export interface ProbeHealth {
  /** Probes attached in this category for this service. */
  attached: number;
  /** Probes that could not attach (every reason counts: missing library, kernel feature, …). */
  failed: number;
}

/**
 * The agent's telemetry: an OTel meter and tracer for plugins, and a typed state the agent writes
 * into. Gauges are observable instruments that read this state at collection time, so values are
 * always the last ones written and a scrape never races an update.
 */
export interface Telemetry {
  /** Meter named `stella`, for plugins that want their own instruments. */
  readonly meter: Meter;
  /** Tracer named `stella`. */
  readonly tracer: Tracer;
  /** `observation_rate{service, tag}`; tag `all` is the overall rate. `rate` is clamped to 0..1. */
  setCoverage(service: string, tag: string, rate: number): void;
  /** `path_observed{service, path_id, tag}`: 1/0 per required expected path, once under tag `all`
   * and once per tag of the path; the input of the fleet recording rules (docs/OPERATIONS.md). */
  setPathsObserved(service: string, paths: readonly PathObservedState[]): void;
  /** Retires every series of a service (its map was unloaded): they report NaN, so alerts on them
   * resolve (the OTel SDK cannot drop an observed series under cumulative temporality). Any later
   * `set…` for the service starts it afresh. */
  clearService(service: string): void;
  /** `learning_state{service, state}`: 1 for the current state of the agent's learning of the map. */
  setLearningState(service: string, state: LearningStateName): void;
  /** `unexpected_symbols_count{service}`: distinct unexpected nodeHashes in the window. */
  setUnexpected(service: string, count: number): void;
  /** `probe_attach_failures{service, category}` and `probe_attach_failure_rate{service}`
   * (failed ÷ (attached + failed) over every category of the service). */
  setProbeHealth(service: string, category: string, health: ProbeHealth): void;
  /** `observation_buffer_full{node}`, 1 while the buffer refuses observations. */
  setBufferFull(full: boolean): void;
  /** Adds to the `observations` counter (`stella_observations_total`). `n` is the hit count. */
  countObservations(service: string, fn: string, probeType: string, n: number): void;
  /**
   * Adds to `crypto_algorithm_calls` (`stella_crypto_algorithm_calls_total{service, algorithm,
   * primitive}`); an algorithm name the CBOM does not know is counted as `other`.
   */
  countAlgorithmCalls(service: string, algorithm: string, n: number): void;
  /** Adds to the `observations_dropped` counter (`stella_observations_dropped_total`). */
  countDropped(reason: DropReason, n: number): void;
  /** Sends observations as spans (sampled, batched). A no-op when OTLP traces are off. */
  recordObservationSpans(batch: readonly Observation[]): void;
  /** `http://host:port/metrics` actually bound, or undefined when Prometheus is off. */
  prometheusUrl(): string | undefined;
  /** Flushes pending metrics and spans, closes the HTTP server. Safe to call more than once. */
  shutdown(): Promise<void>;
}

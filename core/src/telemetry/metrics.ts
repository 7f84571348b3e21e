// SPDX-License-Identifier: Apache-2.0
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Attributes, Counter, Meter, ObservableResult } from '@opentelemetry/api';
import type { ProbeHealth } from './types.js';

/**
 * Instrument names of the metrics table in otel-collector/README.md. The Prometheus exporter adds the `stella_` prefix and,
 * for counters, `_total`; the collector's remote-write exporter (`namespace: stella`) gives the same
 * names. Ratio and 0/1 gauges carry no unit on purpose: the collector's Prometheus translation
 * would turn unit `1` into a `_ratio` suffix and the alert rules would no longer match. Curly-brace
 * units (`{call}`) are annotations the translation drops.
 */
export const INSTRUMENT = {
  observationRate: 'observation_rate',
  unexpectedSymbolsCount: 'unexpected_symbols_count',
  probeAttachFailures: 'probe_attach_failures',
  probeAttachFailureRate: 'probe_attach_failure_rate',
  observationBufferFull: 'observation_buffer_full',
  observations: 'observations',
  observationsDropped: 'observations_dropped',
  pathObserved: 'path_observed',
  pathVisibility: 'path_visibility',
  learningState: 'learning_state',
  eventLoopDelayMax: 'event_loop_delay_max_ms',
  cryptoAlgorithmCalls: 'crypto_algorithm_calls',
} as const;

/** Sampling step of the event-loop delay histogram: finer costs timer wake-ups, coarser hides stalls. */
const EVENT_LOOP_RESOLUTION_MS = 10;
const EVENT_LOOP_WINDOW_MS = 10_000;

/** The event loop's longest delay over rolling windows (perf_hooks' histogram, reset per window). */
export class EventLoopStalls {
  readonly #histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  #previousWindowMs = 0;
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#histogram.enable();
    this.#timer = setInterval(() => {
      this.#previousWindowMs = this.#currentMs();
      this.#histogram.reset();
    }, EVENT_LOOP_WINDOW_MS);
    this.#timer.unref();
  }

  /** Worst stall of the current and the previous window, in ms; an idle loop reads ~0. */
  maxMs(): number {
    return Math.max(this.#previousWindowMs, this.#currentMs());
  }

  disable(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }

  #currentMs(): number {
    // Every sample includes the timer's own period; what is beyond it is the stall.
    if (this.#histogram.count === 0) return 0;
    return Math.max(0, this.#histogram.max / 1e6 - EVENT_LOOP_RESOLUTION_MS);
  }
}

/** Overall coverage is reported under this tag. */
export const OVERALL_TAG = 'all';

/**
 * What the agent last wrote. Keyed by service so a service's series can be dropped at once.
 * Everything here is bounded by the loaded maps (services × tags × categories), never by traffic.
 */
export class TelemetryState {
  readonly coverage = new Map<string, Map<string, number>>();
  /** service → `pathId\u0000tag` → 1/0 observed, or NaN once the path left the map. */
  readonly pathObserved = new Map<string, Map<string, number>>();
  /** service → pathId → 2 observed, 1 not exercised (its canaries fired), 0 not observable; NaN once gone. */
  readonly pathVisibility = new Map<string, Map<string, number>>();
  /** service → the agent's learning state for it (absent: the service is not learned). */
  readonly learning = new Map<string, LearningStateName>();
  readonly unexpected = new Map<string, number>();
  readonly probeHealth = new Map<string, Map<string, ProbeHealth>>();
  /**
   * Services whose map was unloaded. The SDK keeps reporting every attribute set an observable
   * instrument ever observed under cumulative temporality (the Prometheus exporter's only one), so
   * a series cannot be removed; its value becomes NaN instead, which every PromQL comparison treats
   * as false: alerts on it resolve and dashboards show a gap.
   */
  readonly retired = new Set<string>();
  bufferFull = false;

  setCoverage(service: string, tag: string, rate: number): void {
    this.revive(service);
    const clamped = Number.isFinite(rate) ? Math.min(1, Math.max(0, rate)) : 0;
    let tags = this.coverage.get(service);
    if (!tags) {
      tags = new Map();
      this.coverage.set(service, tags);
    }
    tags.set(tag, clamped);
  }

  /**
   * Replaces the service's per-path state. A required path gets one series under tag `all` and one
   * per tag it carries; optional paths are left out, as they are of the rate. A path the new map no
   * longer has reports NaN (the SDK cannot drop the series), so fleet sums skip nothing silently.
   */
  setPathsObserved(service: string, paths: readonly PathObservedState[]): void {
    this.revive(service);
    let series = this.pathObserved.get(service);
    if (!series) {
      series = new Map();
      this.pathObserved.set(service, series);
    }
    const current = new Set<string>();
    for (const p of paths) {
      if (p.optional) continue;
      for (const tag of [OVERALL_TAG, ...p.tags.filter((t) => t !== OVERALL_TAG)]) {
        const key = `${p.pathId}\u0000${tag}`;
        current.add(key);
        series.set(key, p.observed ? 1 : 0);
      }
    }
    for (const key of series.keys()) if (!current.has(key)) series.set(key, Number.NaN);
    let visibility = this.pathVisibility.get(service);
    if (!visibility) {
      visibility = new Map();
      this.pathVisibility.set(service, visibility);
    }
    const required = new Set<string>();
    for (const p of paths) {
      if (p.optional) continue;
      required.add(p.pathId);
      visibility.set(p.pathId, p.observed ? 2 : p.visibility === 'not-exercised' ? 1 : 0);
    }
    for (const id of visibility.keys()) if (!required.has(id)) visibility.set(id, Number.NaN);
  }

  setLearningState(service: string, state: LearningStateName): void {
    this.revive(service);
    this.learning.set(service, state);
  }

  setUnexpected(service: string, count: number): void {
    this.revive(service);
    this.unexpected.set(service, Math.max(0, Math.trunc(count)));
  }

  setProbeHealth(service: string, category: string, health: ProbeHealth): void {
    this.revive(service);
    let categories = this.probeHealth.get(service);
    if (!categories) {
      categories = new Map();
      this.probeHealth.set(service, categories);
    }
    categories.set(category, { attached: Math.max(0, health.attached), failed: Math.max(0, health.failed) });
  }

  /** failed ÷ (attached + failed) over all categories; 0 when nothing was tried. */
  probeFailureRate(service: string): number {
    let attached = 0;
    let failed = 0;
    for (const h of this.probeHealth.get(service)?.values() ?? []) {
      attached += h.attached;
      failed += h.failed;
    }
    return attached + failed === 0 ? 0 : failed / (attached + failed);
  }

  clearService(service: string): void {
    if (
      this.coverage.has(service) ||
      this.unexpected.has(service) ||
      this.probeHealth.has(service) ||
      this.pathObserved.has(service) ||
      this.learning.has(service)
    )
      this.retired.add(service);
  }

  /** The value to report: NaN for a retired service. */
  valueOf(service: string, value: number): number {
    return this.retired.has(service) ? Number.NaN : value;
  }

  private revive(service: string): void {
    if (!this.retired.delete(service)) return;
    this.coverage.delete(service);
    this.pathObserved.delete(service);
    this.pathVisibility.delete(service);
    this.learning.delete(service);
    this.unexpected.delete(service);
    this.probeHealth.delete(service);
  }
}

/** What the fleet rules need of one expected path (a subset of the verification report's PathResult). */
export interface PathObservedState {
  pathId: string;
  tags: readonly string[];
  optional: boolean;
  observed: boolean;
  /** Unobserved paths: whether the libraries' canaries fired (see the report's `visibility`). */
  visibility?: 'not-exercised' | 'not-observable';
}

export const LEARNING_STATES = ['learning', 'completed', 'partial', 'failed'] as const;
export type LearningStateName = (typeof LEARNING_STATES)[number];

export interface StellaInstruments {
  observations: Counter<Attributes>;
  observationsDropped: Counter<Attributes>;
  cryptoAlgorithmCalls: Counter<Attributes>;
  /** Samples the event loop's delay for the gauge; disabled at shutdown. */
  eventLoopDelay: EventLoopStalls;
}

/** Registers every documented instrument on `meter`; gauges read `state` at collection time. */
export function registerInstruments(meter: Meter, state: TelemetryState, nodeName: string): StellaInstruments {
  meter
    .createObservableGauge(INSTRUMENT.observationRate, {
      description: 'Share of required expected paths of the function map observed in its window (0..1)',
    })
    .addCallback((result: ObservableResult) => {
      for (const [service, tags] of state.coverage) {
        for (const [tag, rate] of tags) result.observe(state.valueOf(service, rate), { service, tag });
      }
    });

  // The fleet view (docs/OPERATIONS.md): Prometheus takes max over nodes per path, then the share
  // per service and tag. Labels are bounded by the map (required paths × (tags + 1)), never a pid.
  meter
    .createObservableGauge(INSTRUMENT.pathObserved, {
      description: "1 when this node observed the map's required expected path in the map's window, else 0",
    })
    .addCallback((result: ObservableResult) => {
      for (const [service, series] of state.pathObserved) {
        for (const [key, observed] of series) {
          const cut = key.indexOf('\u0000');
          result.observe(state.valueOf(service, observed), {
            service,
            path_id: key.slice(0, cut),
            tag: key.slice(cut + 1),
          });
        }
      }
    });

  // The coverage alerts' descriptions count missing paths by this: max over nodes per path says
  // whether any node could see it. Bounded like path_observed: one series per required path.
  meter
    .createObservableGauge(INSTRUMENT.pathVisibility, {
      description:
        "Per required expected path: 2 observed, 1 not exercised (its libraries' canaries fired, the path did not run), 0 not observable (no canary: the probes may not see the library)",
    })
    .addCallback((result: ObservableResult) => {
      for (const [service, paths] of state.pathVisibility)
        for (const [pathId, value] of paths)
          result.observe(state.valueOf(service, value), { service, path_id: pathId });
    });

  // One series per state, 1 for the current one (the alert rules test state="learning").
  meter
    .createObservableGauge(INSTRUMENT.learningState, {
      description:
        "1 for the agent's current learning state of the service's map (learning, completed, partial, failed)",
    })
    .addCallback((result: ObservableResult) => {
      for (const [service, current] of state.learning)
        for (const s of LEARNING_STATES)
          result.observe(state.valueOf(service, s === current ? 1 : 0), { service, state: s });
    });

  meter
    .createObservableGauge(INSTRUMENT.unexpectedSymbolsCount, {
      description: 'Distinct observed functions (nodeHashes) the function map does not declare, in its window',
      unit: '{symbol}',
    })
    .addCallback((result) => {
      for (const [service, count] of state.unexpected) result.observe(state.valueOf(service, count), { service });
    });

  meter
    .createObservableGauge(INSTRUMENT.probeAttachFailures, {
      description: 'Probes that failed to attach, per service and probe category',
      unit: '{probe}',
    })
    .addCallback((result) => {
      for (const [service, categories] of state.probeHealth) {
        for (const [category, health] of categories)
          result.observe(state.valueOf(service, health.failed), { service, category });
      }
    });

  meter
    .createObservableGauge(INSTRUMENT.probeAttachFailureRate, {
      description: 'Failed ÷ attempted probe attachments for the service (0..1)',
    })
    .addCallback((result) => {
      for (const service of state.probeHealth.keys())
        result.observe(state.valueOf(service, state.probeFailureRate(service)), { service });
    });

  meter
    .createObservableGauge(INSTRUMENT.observationBufferFull, {
      description: '1 while the observation buffer is full and observations are being dropped',
    })
    .addCallback((result) => {
      result.observe(state.bufferFull ? 1 : 0, { node: nodeName });
    });

  // Whatever blocks the loop (a synchronous kernel call, a large map read) delays ring-buffer
  // draining and scrapes alike. The gauge is the worst stall of the current and the previous
  // window, so every scrape interval up to a window sees it, however many readers collect.
  const eventLoopDelay = new EventLoopStalls();
  meter
    .createObservableGauge(INSTRUMENT.eventLoopDelayMax, {
      description: "Longest stall of the agent's event loop in the last 10 to 20 seconds, in milliseconds",
    })
    .addCallback((result) => {
      result.observe(eventLoopDelay.maxMs(), { node: nodeName });
    });

  const observations = meter.createCounter(INSTRUMENT.observations, {
    description: 'Observed calls (sum of hit counts), per service, function id and probe type',
    unit: '{call}',
  });
  const observationsDropped = meter.createCounter(INSTRUMENT.observationsDropped, {
    description: 'Observations lost before the store, by reason (buffer_full, ringbuf, store_error)',
    unit: '{observation}',
  });
  // Labels bounded by the probes' algorithm tables: a name outside them is `other` (metricAlgorithm).
  const cryptoAlgorithmCalls = meter.createCounter(INSTRUMENT.cryptoAlgorithmCalls, {
    description: 'Crypto calls per algorithm read at the call (stella cbom), per service and CycloneDX primitive',
    unit: '{call}',
  });
  return { observations, observationsDropped, cryptoAlgorithmCalls, eventLoopDelay };
}

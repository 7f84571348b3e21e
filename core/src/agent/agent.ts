// SPDX-License-Identifier: Apache-2.0
// Before tsyringe, which needs the Reflect metadata API the moment it loads.
import 'reflect-metadata';
import type { BpfApi, Logger, Observation, ObservationStore, ProbePlugin } from '@stella/sdk';
import { inject, injectAll, injectable } from 'tsyringe';
import { probeTuningOf } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/types.js';
import { InputError } from '../errors.js';
import { StoreWriter } from '../export/store-writer.js';
import type { FunctionMap } from '../function-map/index.js';
import type { Telemetry } from '../telemetry/index.js';
import { VerificationAccumulator } from '../verify/accumulator.js';
import type { LearningStatus, VerificationReport } from '../verify/types.js';
import { VERSION } from '../version.js';
import { LiveCanaries, libraryNoteFor } from './canaries.js';
import { LearningController } from './learning.js';
import { ObservationPipeline, type ObservationSink } from './pipeline.js';
import { PluginHost } from './plugin-host.js';
import { type AgentProbeRequest, buildProbeRequests } from './requests.js';
import { ProbeStatusRegistry } from './status.js';
import { TargetResolver } from './targets.js';
import { type Clock, type ObservationExporter, TOKENS } from './tokens.js';
import { ObservationWindowIndex } from './window-index.js';

/** Everything the agent is built from; the container (compose.ts) provides it by token. */
export interface RuntimeAgentDeps {
  config: ResolvedConfig;
  logger: Logger;
  clock: Clock;
  bpf: BpfApi;
  telemetry: Telemetry;
  store: ObservationStore;
  exporter: ObservationExporter;
  plugins: ProbePlugin<unknown>[];
  maps: FunctionMap[];
  /** How often /proc is rescanned for new target processes and newly mapped libraries (ms). */
  targetRescanMs?: number;
}

/**
 * The runtime agent: kernel events → plugins → bounded pipeline → (window index, NDJSON, store,
 * telemetry counters and spans); the verifier reads only the window index and writes only gauges.
 * Data flows one way; nothing downstream calls back into a probe.
 */
@injectable()
export class RuntimeAgent {
  readonly statuses = new ProbeStatusRegistry();
  private readonly logger: Logger;
  private readonly index: ObservationWindowIndex;
  private readonly pipeline: ObservationPipeline;
  private readonly targets: TargetResolver;
  private readonly host: PluginHost;
  private readonly requests: AgentProbeRequest[];
  private readonly kernelDropTotals = new Map<string, bigint>();
  private readonly timers: NodeJS.Timeout[] = [];
  private lastReports: VerificationReport[] = [];
  private readonly storeWriter: StoreWriter;
  private stopped = false;
  /** The maps verified now: a learned service's refined map replaces the loaded one. */
  private readonly maps: FunctionMap[];
  private readonly canaries = new LiveCanaries();
  private readonly learning?: LearningController;
  /** Per service, the target pids already running when the agent started. */
  private readonly runningAtStart = new Map<string, number[]>();

  private readonly deps: RuntimeAgentDeps;

  // Explicit tokens: the test runner's compiler (esbuild) emits no decorator type metadata.
  constructor(
    @inject(TOKENS.Config) config: ResolvedConfig,
    @inject(TOKENS.Logger) logger: Logger,
    @inject(TOKENS.Clock) clock: Clock,
    @inject(TOKENS.Bpf) bpf: BpfApi,
    @inject(TOKENS.Telemetry) telemetry: Telemetry,
    @inject(TOKENS.Store) store: ObservationStore,
    @inject(TOKENS.Exporter) exporter: ObservationExporter,
    @injectAll(TOKENS.ProbePlugin, { isOptional: true }) plugins: ProbePlugin<unknown>[],
    @inject(TOKENS.FunctionMaps) maps: FunctionMap[],
  ) {
    // No probe plugin registered at all resolves as nothing to attach, not as an error.
    const deps: RuntimeAgentDeps = {
      config,
      logger,
      clock,
      bpf,
      telemetry,
      store,
      exporter,
      plugins: plugins ?? [],
      maps,
    };
    this.deps = deps;
    const agentConfig = config.runtimeAgent;
    this.logger = deps.logger.child({ scope: 'agent' });
    this.maps = [...deps.maps];
    const horizonSeconds = Math.max(60, ...deps.maps.map((m) => m.predicate.coverage.windowSeconds));
    this.index = new ObservationWindowIndex(horizonSeconds * 1000);
    this.targets = new TargetResolver(this.targetSpecs(), { logger: this.logger });
    const catalogues = deps.plugins.flatMap((p) => p.catalogue);
    this.requests = buildProbeRequests(deps.maps, catalogues);

    this.storeWriter = new StoreWriter({
      store: deps.store,
      maxBatchSize: agentConfig.observationStore.maxBatchSize,
      logger: deps.logger.child({ scope: `store:${deps.store.name}` }),
      onDrop: (reason, count) => telemetry.countDropped(reason, count),
    });
    this.learning = this.learningController();
    const learning = this.learning;
    const sinks: ObservationSink[] = [
      { name: 'window-index', write: (batch) => this.index.add(batch) },
      ...(learning ? [{ name: 'learning', write: (batch: Observation[]) => learning.add(batch) }] : []),
      {
        name: 'ndjson',
        write: (batch) => deps.exporter.write(batch),
        flush: () => deps.exporter.flush(),
        close: () => deps.exporter.close(),
      },
      {
        // The writer batches at max_batch_size and retries with backoff while the store is down;
        // it never blocks the pipeline (no flush per interval), and what it cannot keep within its
        // bound is counted as observations_dropped{reason="store_error"}.
        name: `store:${deps.store.name}`,
        write: (batch) => this.storeWriter.write(batch),
        close: async () => {
          await this.storeWriter.close();
          await deps.store.close();
        },
      },
      { name: 'spans', write: (batch) => telemetry.recordObservationSpans(batch) },
    ];
    this.pipeline = new ObservationPipeline(sinks, {
      maxBytes: agentConfig.buffer.maxBytes,
      flushIntervalMs: agentConfig.export.flushIntervalMs,
      logger: this.logger,
      downstreamBytes: () => this.storeWriter.approxBytes() + deps.exporter.stats().bufferedBytes,
      events: {
        dropped: (reason, count) => telemetry.countDropped(reason, count),
        bufferFull: (full) => telemetry.setBufferFull(full),
        accepted: (batch) => this.countAccepted(batch),
      },
    });
    this.host = new PluginHost({
      bpf: deps.bpf,
      logger: deps.logger,
      nodeName: agentConfig.nodeName,
      tuning: probeTuningOf(config),
      targets: this.targets,
      statuses: this.statuses,
      emit: (observations) => this.pipeline.emit(observations),
      kernelDrops: (plugin, total) => this.countKernelDrops(plugin, total),
    });
  }

  /** The learning of `runtime_agent.learning`, refused when a service it names has no loaded map. */
  private learningController(): LearningController | undefined {
    const specs = this.deps.config.runtimeAgent.learning;
    if (specs.length === 0) return undefined;
    const maps = new Map(this.deps.maps.map((m) => [m.predicate.service, m]));
    specs.forEach((spec, i) => {
      if (!maps.has(spec.service)) {
        throw new InputError(
          `runtime_agent.learning[${i}].service: "${spec.service}" is the service of none of runtime_agent.function_maps (${[...maps.keys()].join(', ') || 'none loaded'})`,
        );
      }
    });
    return new LearningController({
      specs,
      maps,
      inputs: this.deps.config.runtimeAgent.functionMaps,
      logger: this.logger.child({ scope: 'learning' }),
      generator: { name: 'stella', version: VERSION },
      nodeName: this.deps.config.runtimeAgent.nodeName,
      onLearned: (service, map) => {
        const i = this.maps.findIndex((m) => m.predicate.service === service);
        if (i >= 0) this.maps[i] = map;
        this.verifyNow();
      },
      onState: (service, status) => this.deps.telemetry.setLearningState(service, status.state),
    });
  }

  /** Targets from config; a map whose service no rule names gets none (and a warning). */
  private targetSpecs() {
    const specs = [...this.deps.config.runtimeAgent.targets];
    for (const map of this.deps.maps) {
      const service = map.predicate.service;
      if (!specs.some((s) => s.service === service)) {
        this.logger.warn(`no target rule names service "${service}": none of its processes will be observed`, {
          hint: 'add runtime_agent.targets[] with executables, cgroups, container_ids or pids',
        });
      }
    }
    return specs;
  }

  probeRequests(): readonly AgentProbeRequest[] {
    return this.requests;
  }

  async start(): Promise<void> {
    this.targets.refresh();
    for (const t of this.targets.targets()) {
      const pids = this.runningAtStart.get(t.service) ?? [];
      pids.push(t.pid);
      this.runningAtStart.set(t.service, pids);
    }
    this.learning?.start(this.deps.clock.now(), (service) => this.runningAtStart.get(service) ?? []);
    await this.host.start(this.deps.plugins, this.requests);
    this.pipeline.start();
    const agentConfig = this.deps.config.runtimeAgent;
    const rescan = setInterval(() => {
      if (this.targets.refresh()) this.host.notifyTargetsChanged();
    }, this.deps.targetRescanMs ?? 2000);
    const verify = setInterval(() => {
      this.verifyNow();
      void this.learning?.tick(this.deps.clock.now());
    }, agentConfig.telemetry.verifyIntervalMs);
    for (const timer of [rescan, verify]) {
      timer.unref();
      this.timers.push(timer);
    }
    this.verifyNow();
    const health = this.statuses.health();
    this.logger.info('agent running', {
      maps: this.deps.maps.length,
      probes: this.requests.length,
      attached: health.attached,
      failed: health.failed,
      targets: this.targets.targets().length,
    });
  }

  /** Counters and statuses per run of identical calls: a batch is mostly runs of one function. */
  private countAccepted(batch: Observation[]): void {
    const counts = new Map<string, { o: Observation; n: number }>();
    let head: Observation | undefined;
    let run = 0;
    const closeRun = () => {
      if (!head) return;
      if (head.nodeHash) this.statuses.markObserved(head.service, head.nodeHash);
      const key = `${head.service}\u0000${head.function}\u0000${head.probeType}`;
      const entry = counts.get(key);
      if (entry) entry.n += run;
      else counts.set(key, { o: head, n: run });
    };
    for (const o of batch) {
      this.canaries.note(o);
      if (
        head &&
        o.nodeHash === head.nodeHash &&
        o.function === head.function &&
        o.service === head.service &&
        o.probeType === head.probeType
      ) {
        run += o.hitCount;
        continue;
      }
      closeRun();
      head = o;
      run = o.hitCount;
    }
    closeRun();
    for (const { o, n } of counts.values())
      this.deps.telemetry.countObservations(o.service, o.function, o.probeType, n);
    this.countAlgorithms(batch);
  }

  /** `crypto_algorithm_calls` per service and algorithm, for the records that name one. */
  private countAlgorithms(batch: Observation[]): void {
    let calls: Map<string, { service: string; algorithm: string; n: number }> | undefined;
    for (const o of batch) {
      if (o.algorithm === undefined) continue;
      calls ??= new Map();
      const key = `${o.service}\u0000${o.algorithm}`;
      const entry = calls.get(key);
      if (entry) entry.n += o.hitCount;
      else calls.set(key, { service: o.service, algorithm: o.algorithm, n: o.hitCount });
    }
    if (!calls) return;
    for (const { service, algorithm, n } of calls.values())
      this.deps.telemetry.countAlgorithmCalls(service, algorithm, n);
  }

  private countKernelDrops(plugin: string, total: bigint): void {
    const previous = this.kernelDropTotals.get(plugin) ?? 0n;
    if (total > previous) {
      this.deps.telemetry.countDropped('ringbuf', Number(total - previous));
      this.kernelDropTotals.set(plugin, total);
    }
  }

  /**
   * Per-call records are sampled in the kernel below a sampling rate of 1 unless an aggregation
   * window counts them exactly first: then a canary's single record can be one of those dropped.
   */
  private samplingNote(): string | undefined {
    const { probes, export: exportSettings } = this.deps.config.runtimeAgent;
    if (probes.samplingRate >= 1 || exportSettings.aggregationWindowMs > 0) return undefined;
    return `probes.sampling_rate is ${probes.samplingRate} without export.aggregation_window_ms, so a canary's record may have been sampled out`;
  }

  /** Recomputes every gauge over each map's window, ending now. */
  verifyNow(now = new Date(this.deps.clock.now())): VerificationReport[] {
    const { telemetry } = this.deps;
    const reports: VerificationReport[] = [];
    const statuses = this.statuses.all();
    for (const map of this.maps) {
      const service = map.predicate.service;
      const to = now;
      const from = new Date(to.getTime() - map.predicate.coverage.windowSeconds * 1000);
      const accumulator = new VerificationAccumulator(map, { from, to });
      for (const a of this.index.aggregates(service, from.getTime(), to.getTime()))
        accumulator.addAggregate(a.sample, a.hitCount, a.firstSeenMs, a.lastSeenMs);
      const health = this.statuses.health(service);
      const learning = this.learning?.status(service);
      const report = accumulator.report({
        probeHealth: health,
        generatedAt: now,
        visibility: {
          liveCanaries: this.canaries.liveProcesses(service),
          libraryNote: libraryNoteFor(
            service,
            this.requests,
            statuses,
            this.runningAtStart.get(service) ?? [],
            this.samplingNote(),
          ),
        },
        ...(learning ? { learning } : {}),
      });
      reports.push(report);
      telemetry.setCoverage(service, 'all', report.observationRate);
      for (const [tag, result] of Object.entries(report.perTag)) telemetry.setCoverage(service, tag, result.rate);
      telemetry.setPathsObserved(
        service,
        report.paths.map((p) => ({ ...p, visibility: p.visibility?.verdict })),
      );
      telemetry.setUnexpected(service, report.unexpectedSymbolsCount);
      const categories = new Set(this.requests.filter((r) => r.service === service).map((r) => r.category));
      for (const category of categories)
        telemetry.setProbeHealth(service, category, this.statuses.health(service, category));
    }
    this.index.evict(now.getTime());
    this.lastReports = reports;
    return reports;
  }

  /** Each learned service's state (`stella plugins list --probe-status`). */
  learningStatuses(): (LearningStatus & { service: string })[] {
    return this.deps.maps.flatMap((m) => {
      const status = this.learning?.status(m.predicate.service);
      return status ? [{ service: m.predicate.service, ...status }] : [];
    });
  }

  reports(): readonly VerificationReport[] {
    return this.lastReports;
  }

  /** Detach probes (draining what the kernel wrote), flush everything, close sinks. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const map of this.maps) {
      const learning = this.learning?.status(map.predicate.service);
      if (learning?.state === 'learning')
        this.logger.warn('stopped before the learning window ended: no refined map written', {
          service: map.predicate.service,
          until: learning.to,
          output: learning.output,
        });
    }
    await this.host.stop();
    await this.pipeline.close();
    this.verifyNow();
  }
}

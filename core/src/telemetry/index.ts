// SPDX-License-Identifier: Apache-2.0
import type { Metadata } from '@grpc/grpc-js';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Logger } from '@stella/sdk';
import { metricAlgorithm } from '../cbom/algorithm-properties.js';
import { registerInstruments, TelemetryState } from './metrics.js';
import { servePrometheus } from './prometheus-server.js';
import { emitObservationSpans } from './spans.js';
import type { Telemetry, TelemetryOptions } from './types.js';

export { INSTRUMENT, OVERALL_TAG, type PathObservedState } from './metrics.js';
export { observationAttributes } from './spans.js';
export type { DropReason, OtlpOptions, ProbeHealth, PrometheusOptions, Telemetry, TelemetryOptions } from './types.js';

/** 127.0.0.0/8, ::1 and localhost: the only binds where an unauthenticated /metrics stays on the node. */
const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::ffff:127.0.0.1';

/** Meter and tracer name; also the Prometheus metric prefix (`stella_…`). */
export const TELEMETRY_NAME = 'stella';
const AGENT_SERVICE_NAME = 'stella-agent';

/**
 * Builds the agent's metrics and traces: a Prometheus pull endpoint and/or OTLP/gRPC push for
 * metrics, OTLP/gRPC for observation spans. Resolves once the Prometheus endpoint listens; rejects
 * (e.g. EADDRINUSE) if it cannot.
 */
export async function createTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const logger = options.logger.child({ scope: 'telemetry' });
  routeOtelDiagnostics(logger);
  const resource = resourceFromAttributes({
    'service.name': AGENT_SERVICE_NAME,
    'service.namespace': TELEMETRY_NAME,
    'service.instance.id': options.serviceInstanceId ?? options.nodeName,
    'host.name': options.nodeName,
  });

  const readers: MetricReader[] = [];
  let prometheus: { url: string; close(): Promise<void> } | undefined;
  let prometheusExporter: PrometheusExporter | undefined;
  if (options.prometheus?.enabled) {
    prometheusExporter = new PrometheusExporter({ prefix: TELEMETRY_NAME, preventServerStart: true });
    readers.push(prometheusExporter);
  }
  const otlp = options.otlp;
  const tracesOn = Boolean(otlp?.traces && otlp.spanSamplingRatio > 0);
  // gRPC and the OTLP exporters (~15 MB resident) load only when an OTLP export is configured.
  const grpc = otlp && (otlp.metrics || tracesOn) ? await loadOtlp() : undefined;
  const metadata = grpc && otlp?.headers ? toMetadata(grpc.Metadata, otlp.headers) : undefined;
  if (grpc && otlp?.metrics) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new grpc.OTLPMetricExporter({ url: otlp.endpoint, metadata }),
        exportIntervalMillis: otlp.exportIntervalMs,
        exportTimeoutMillis: Math.min(otlp.exportIntervalMs, 30_000),
      }),
    );
  }
  const meterProvider = new MeterProvider({ resource, readers });
  const meter = meterProvider.getMeter(TELEMETRY_NAME);
  const state = new TelemetryState();
  const instruments = registerInstruments(meter, state, options.nodeName);

  const spanProcessors: SpanProcessor[] = [];
  if (grpc && otlp && tracesOn) {
    spanProcessors.push(
      new BatchSpanProcessor(new grpc.OTLPTraceExporter({ url: otlp.endpoint, metadata }), {
        scheduledDelayMillis: otlp.exportIntervalMs,
        maxExportBatchSize: 512,
        // Bounded: when the collector is down spans are dropped, never buffered without limit.
        maxQueueSize: 8192,
      }),
    );
  }
  const tracerProvider = new BasicTracerProvider({ resource, sampler: new AlwaysOnSampler(), spanProcessors });
  const tracer = tracerProvider.getTracer(TELEMETRY_NAME);

  if (prometheusExporter && options.prometheus) {
    try {
      prometheus = await servePrometheus(prometheusExporter, options.prometheus.host, options.prometheus.port);
    } catch (error) {
      instruments.eventLoopDelay.disable();
      await Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()]);
      const { host, port } = options.prometheus;
      throw new Error(`failed to listen for Prometheus on ${host}:${port}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    logger.info('prometheus endpoint listening', { url: prometheus.url });
    if (!isLoopback(options.prometheus.host)) {
      logger.warn('prometheus endpoint is reachable beyond this node: /metrics has no authentication', {
        host: options.prometheus.host,
      });
    }
  }
  if (otlp && (otlp.metrics || tracesOn)) {
    logger.info('otlp export on', {
      endpoint: otlp.endpoint ?? '(OTel default)',
      metrics: otlp.metrics,
      traces: tracesOn,
    });
  }

  let shuttingDown: Promise<void> | undefined;
  return {
    meter,
    tracer,
    setCoverage: (service, tag, rate) => state.setCoverage(service, tag, rate),
    clearService: (service) => state.clearService(service),
    setPathsObserved: (service, paths) => state.setPathsObserved(service, paths),
    setUnexpected: (service, count) => state.setUnexpected(service, count),
    setLearningState: (service, learning) => state.setLearningState(service, learning),
    setProbeHealth: (service, category, health) => state.setProbeHealth(service, category, health),
    setBufferFull: (full) => {
      state.bufferFull = full;
    },
    countObservations: (service, fn, probeType, n) => {
      if (n > 0) instruments.observations.add(n, { service, function: fn, probe_type: probeType });
    },
    countAlgorithmCalls: (service, algorithm, n) => {
      if (n <= 0) return;
      const { name, primitive } = metricAlgorithm(algorithm);
      instruments.cryptoAlgorithmCalls.add(n, { service, algorithm: name, primitive });
    },
    countDropped: (reason, n) => {
      if (n > 0) instruments.observationsDropped.add(n, { reason });
    },
    recordObservationSpans: (batch) => {
      if (tracesOn && otlp && !shuttingDown) emitObservationSpans(tracer, batch, otlp.spanSamplingRatio);
    },
    prometheusUrl: () => prometheus?.url,
    shutdown: () => {
      shuttingDown ??= (async () => {
        instruments.eventLoopDelay.disable();
        // Flush first (last metric push, queued spans), then stop serving scrapes.
        const results = await Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()]);
        await prometheus?.close();
        for (const r of results) {
          if (r.status === 'rejected') logger.warn('telemetry flush failed', { error: r.reason });
        }
      })();
      return shuttingDown;
    },
  };
}

async function loadOtlp() {
  const [{ Metadata }, { OTLPMetricExporter }, { OTLPTraceExporter }] = await Promise.all([
    import('@grpc/grpc-js'),
    import('@opentelemetry/exporter-metrics-otlp-grpc'),
    import('@opentelemetry/exporter-trace-otlp-grpc'),
  ]);
  return { Metadata, OTLPMetricExporter, OTLPTraceExporter };
}

function toMetadata(MetadataClass: typeof Metadata, headers: Record<string, string>): Metadata {
  const metadata = new MetadataClass();
  for (const [key, value] of Object.entries(headers)) metadata.set(key.toLowerCase(), value);
  return metadata;
}

/** OTel's own errors (export failures, collection errors) go to the agent's log, warnings and up. */
function routeOtelDiagnostics(logger: Logger): void {
  const otelLogger = logger.child({ scope: 'otel' });
  diag.setLogger(
    {
      error: (message, ...args) => otelLogger.error(message, args.length ? { detail: args } : undefined),
      warn: (message, ...args) => otelLogger.warn(message, args.length ? { detail: args } : undefined),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

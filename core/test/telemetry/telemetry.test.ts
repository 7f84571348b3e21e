// SPDX-License-Identifier: Apache-2.0
import { createServer } from 'node:net';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Observation } from '@stella/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { startOtlpReceiver } from '../../../test/support/otlp-receiver.js';
import { find, type Sample, scrape } from '../../../test/support/prometheus.js';
import { createLogger } from '../../src/logger.js';
import { createTelemetry, type Telemetry } from '../../src/telemetry/index.js';
import { emitObservationSpans } from '../../src/telemetry/spans.js';

const logger = createLogger({ level: 'silent' });
const open: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

async function telemetry(options: Partial<Parameters<typeof createTelemetry>[0]> = {}): Promise<Telemetry> {
  const t = await createTelemetry({
    nodeName: 'node-a',
    prometheus: { enabled: true, host: '127.0.0.1', port: 0 },
    logger,
    ...options,
  });
  open.push(t);
  return t;
}

/** The single sample of a query; fails the test when there is not exactly one. */
function only(samples: Sample[]): Sample {
  expect(samples).toHaveLength(1);
  return samples[0] as Sample;
}

/** Label keys otel-collector/README.md documents, without the exporter's instrumentation-scope labels. */
function specLabels(labels: Record<string, string>): string[] {
  return Object.keys(labels)
    .filter((k) => !k.startsWith('otel_scope_'))
    .sort();
}

const observation = (over: Partial<Observation> = {}): Observation => ({
  observedAt: '2025-06-01T12:00:00.250Z',
  service: 'payments',
  function: 'tls/SSL_do_handshake',
  symbol: 'SSL_do_handshake',
  purl: 'pkg:deb/debian/libssl3@3.0.15',
  binaryPath: '/usr/lib/x86_64-linux-gnu/libssl.so.3',
  nodeHash: 'sha256:ab12',
  probeType: 'uprobe',
  pid: 4242,
  tid: 4243,
  comm: 'curl',
  containerId: 'c0ffee',
  nodeName: 'node-a',
  hitCount: 3,
  ...over,
});

describe('Prometheus endpoint (real scrape)', () => {
  it('serves every documented metric under its exact Prometheus name, type and label set', async () => {
    const t = await telemetry();
    t.setCoverage('payments', 'all', 0.75);
    t.setCoverage('payments', 'crypto', 1);
    t.setUnexpected('payments', 2);
    t.setProbeHealth('payments', 'tls', { attached: 18, failed: 1 });
    t.setProbeHealth('payments', 'net', { attached: 0, failed: 1 });
    t.setBufferFull(true);
    t.countObservations('payments', 'tls/SSL_do_handshake', 'uprobe', 5);
    t.countObservations('payments', 'tls/SSL_do_handshake', 'uprobe', 2);
    t.countDropped('ringbuf', 4);
    t.countAlgorithmCalls('payments', 'SHA-256', 300);
    t.countAlgorithmCalls('payments', 'SHA-256', 5);
    t.countAlgorithmCalls('payments', 'X25519', 2);
    t.countAlgorithmCalls('payments', 'openssl-nid:4242', 1);
    t.countAlgorithmCalls('payments', 'openssl-nid:4243', 1);

    const url = t.prometheusUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(url).not.toContain(':0/');
    const scraped = await scrape(url as string);

    expect(scraped.types.get('stella_observation_rate')).toBe('gauge');
    expect(scraped.types.get('stella_unexpected_symbols_count')).toBe('gauge');
    expect(scraped.types.get('stella_probe_attach_failures')).toBe('gauge');
    expect(scraped.types.get('stella_probe_attach_failure_rate')).toBe('gauge');
    expect(scraped.types.get('stella_observation_buffer_full')).toBe('gauge');
    expect(scraped.types.get('stella_observations_total')).toBe('counter');
    expect(scraped.types.get('stella_observations_dropped_total')).toBe('counter');

    const overall = find(scraped, 'stella_observation_rate', { service: 'payments', tag: 'all' });
    expect(overall.map((s) => s.value)).toEqual([0.75]);
    expect(specLabels(only(overall).labels)).toEqual(['service', 'tag']);
    expect(only(find(scraped, 'stella_observation_rate', { tag: 'crypto' })).value).toBe(1);

    const unexpected = find(scraped, 'stella_unexpected_symbols_count');
    expect(unexpected.map((s) => [specLabels(s.labels), s.value])).toEqual([[['service'], 2]]);

    const failures = find(scraped, 'stella_probe_attach_failures');
    expect(failures.map((s) => [s.labels.category, s.value]).sort()).toEqual([
      ['net', 1],
      ['tls', 1],
    ]);
    for (const s of failures) expect(specLabels(s.labels)).toEqual(['category', 'service']);
    // 2 failed of 20 attempts over both categories.
    const rate = find(scraped, 'stella_probe_attach_failure_rate', { service: 'payments' });
    expect(rate.map((s) => s.value)).toEqual([0.1]);

    const buffer = find(scraped, 'stella_observation_buffer_full');
    expect(buffer.map((s) => [s.labels.node, s.value])).toEqual([['node-a', 1]]);
    expect(specLabels(only(buffer).labels)).toEqual(['node']);

    const observed = find(scraped, 'stella_observations_total');
    expect(observed.map((s) => s.value)).toEqual([7]);
    expect(specLabels(only(observed).labels)).toEqual(['function', 'probe_type', 'service']);
    expect(only(observed).labels).toMatchObject({ function: 'tls/SSL_do_handshake', probe_type: 'uprobe' });

    const dropped = find(scraped, 'stella_observations_dropped_total');
    expect(dropped.map((s) => [specLabels(s.labels), s.labels.reason, s.value])).toEqual([[['reason'], 'ringbuf', 4]]);

    expect(scraped.types.get('stella_crypto_algorithm_calls_total')).toBe('counter');
    const algorithms = find(scraped, 'stella_crypto_algorithm_calls_total');
    expect(algorithms.map((s) => [s.labels.algorithm, s.labels.primitive, s.value]).sort()).toEqual([
      ['SHA-256', 'hash', 305],
      ['X25519', 'key-agree', 2],
      ['other', 'unknown', 2], // names outside the CBOM's tables share one series
    ]);
    for (const s of algorithms) expect(specLabels(s.labels)).toEqual(['algorithm', 'primitive', 'service']);

    // Bounded label sets: no pid/tid/timestamp/path label anywhere in our metrics.
    for (const s of scraped.samples.filter((x) => x.name.startsWith('stella_'))) {
      for (const key of Object.keys(s.labels))
        expect([
          'service',
          'tag',
          'category',
          'node',
          'function',
          'probe_type',
          'reason',
          'algorithm',
          'primitive',
        ]).toContain(key.startsWith('otel_scope_') ? 'service' : key);
    }
  });

  it('updates gauges in place, clamps rates, and retires a cleared service (NaN, alerts resolve)', async () => {
    const t = await telemetry();
    t.setCoverage('payments', 'all', 0.2);
    t.setCoverage('payments', 'all', 1.7);
    t.setCoverage('ledger', 'all', 0.4);
    t.setUnexpected('payments', 1);
    t.setProbeHealth('payments', 'tls', { attached: 1, failed: 0 });
    let scraped = await scrape(t.prometheusUrl() as string);
    expect(find(scraped, 'stella_observation_rate', { service: 'payments' }).map((s) => s.value)).toEqual([1]);
    expect(only(find(scraped, 'stella_observation_buffer_full')).value).toBe(0);

    t.clearService('payments');
    scraped = await scrape(t.prometheusUrl() as string);
    expect(find(scraped, 'stella_observation_rate', { service: 'payments' }).map((s) => s.value)).toEqual([Number.NaN]);
    expect(find(scraped, 'stella_unexpected_symbols_count', { service: 'payments' }).map((s) => s.value)).toEqual([
      Number.NaN,
    ]);
    expect(find(scraped, 'stella_probe_attach_failure_rate', { service: 'payments' }).map((s) => s.value)).toEqual([
      Number.NaN,
    ]);
    expect(find(scraped, 'stella_observation_rate', { service: 'ledger' }).map((s) => s.value)).toEqual([0.4]);

    // Loading the map again starts the service afresh.
    t.setCoverage('payments', 'all', 0.9);
    scraped = await scrape(t.prometheusUrl() as string);
    expect(find(scraped, 'stella_observation_rate', { service: 'payments' }).map((s) => s.value)).toEqual([0.9]);
    expect(find(scraped, 'stella_unexpected_symbols_count', { service: 'payments' }).map((s) => s.value)).toEqual([
      Number.NaN,
    ]);
  });

  it('exports path_observed per required path under tag all and each of its tags, bounded by the map', async () => {
    const t = await telemetry();
    const paths = [
      { pathId: 'tls-handshake', tags: ['tls', 'crypto'], optional: false, observed: true },
      { pathId: 'pam-auth', tags: ['auth'], optional: false, observed: false },
      { pathId: 'nightly-export', tags: ['batch'], optional: true, observed: false },
    ];
    t.setPathsObserved('payments', paths);
    let scraped = await scrape(t.prometheusUrl() as string);
    expect(scraped.types.get('stella_path_observed')).toBe('gauge');
    const series = find(scraped, 'stella_path_observed', { service: 'payments' });
    expect(series.map((s) => [s.labels.path_id, s.labels.tag, s.value]).sort()).toEqual([
      ['pam-auth', 'all', 0],
      ['pam-auth', 'auth', 0],
      ['tls-handshake', 'all', 1],
      ['tls-handshake', 'crypto', 1],
      ['tls-handshake', 'tls', 1],
    ]);
    for (const s of series) expect(specLabels(s.labels)).toEqual(['path_id', 'service', 'tag']);

    // Verifying again with the same map changes values, never the series count (no per-call growth).
    for (let i = 0; i < 50; i++)
      t.setPathsObserved(
        'payments',
        paths.map((p) => ({ ...p, observed: i % 2 === 0 })),
      );
    scraped = await scrape(t.prometheusUrl() as string);
    expect(find(scraped, 'stella_path_observed', { service: 'payments' })).toHaveLength(5);

    // A new map without pam-auth: its series turn NaN (dropping one is impossible under cumulative
    // temporality), so a fleet sum over the new map's paths is not inflated by the old one.
    t.setPathsObserved('payments', [paths[0]!]);
    scraped = await scrape(t.prometheusUrl() as string);
    const pam = find(scraped, 'stella_path_observed', { path_id: 'pam-auth' });
    expect(pam.map((s) => s.value)).toEqual([Number.NaN, Number.NaN]);

    t.clearService('payments');
    scraped = await scrape(t.prometheusUrl() as string);
    expect(
      find(scraped, 'stella_path_observed', { path_id: 'tls-handshake' }).every((s) => Number.isNaN(s.value)),
    ).toBe(true);
  });

  it('reports the longest event-loop stall of the last seconds, per node', async () => {
    const t = await telemetry();
    await new Promise((r) => setTimeout(r, 50));
    const quiet = only(find(await scrape(t.prometheusUrl() as string), 'stella_event_loop_delay_max_ms'));
    expect(quiet.labels.node).toBe('node-a');
    expect(quiet.value).toBeLessThan(50);
    // A synchronous 150 ms stall, the kind a blocking kernel call would cause.
    const until = performance.now() + 150;
    while (performance.now() < until) {}
    await new Promise((r) => setTimeout(r, 30));
    for (let scrapes = 0; scrapes < 2; scrapes++) {
      const stalled = only(find(await scrape(t.prometheusUrl() as string), 'stella_event_loop_delay_max_ms'));
      expect(stalled.value).toBeGreaterThanOrEqual(130);
    }
    await t.shutdown();
  });

  it('shuts down once, stops serving, and a second shutdown is harmless', async () => {
    const t = await createTelemetry({
      nodeName: 'n',
      prometheus: { enabled: true, host: '127.0.0.1', port: 0 },
      logger,
    });
    const url = t.prometheusUrl() as string;
    await scrape(url);
    await Promise.all([t.shutdown(), t.shutdown()]);
    await t.shutdown();
    await expect(fetch(url)).rejects.toThrow();
  });

  it('fails with the address when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(
        createTelemetry({ nodeName: 'n', prometheus: { enabled: true, host: '127.0.0.1', port }, logger }),
      ).rejects.toThrow(`failed to listen for Prometheus on 127.0.0.1:${port}`);
    } finally {
      blocker.close();
    }
  });

  it('has no endpoint when Prometheus is off', async () => {
    const t = await telemetry({ prometheus: { enabled: false, host: '127.0.0.1', port: 0 } });
    expect(t.prometheusUrl()).toBeUndefined();
  });
});

describe('OTLP/gRPC export (real gRPC receiver)', () => {
  it('pushes spans with semantic-convention attributes and metrics with the documented names', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const t = await telemetry({
        serviceInstanceId: 'agent-1',
        otlp: {
          endpoint: receiver.endpoint,
          metrics: true,
          traces: true,
          spanSamplingRatio: 1,
          headers: { 'X-Api-Key': 'k1' },
          exportIntervalMs: 300,
        },
      });
      t.setCoverage('payments', 'all', 0.5);
      t.setUnexpected('payments', 1);
      t.countObservations('payments', 'tls/SSL_do_handshake', 'uprobe', 3);
      t.recordObservationSpans([
        observation(),
        observation({
          function: 'tls/SSL_connect',
          symbol: 'SSL_connect',
          binaryPath: '/usr/bin/node',
          containerId: undefined,
          purl: undefined,
        }),
      ]);

      const spans = await receiver.waitFor(
        () => (receiver.spans.length >= 2 ? receiver.spans : undefined),
        15_000,
        'two spans',
      );
      const handshake = spans.find((s) => s.name === 'tls/SSL_do_handshake');
      expect(handshake).toBeDefined();
      const expectedNs = BigInt(Date.parse('2025-06-01T12:00:00.250Z')) * 1_000_000n;
      expect(handshake?.startTimeUnixNano).toBe(expectedNs);
      expect(handshake?.endTimeUnixNano).toBe(expectedNs);
      expect(handshake?.kind).toBe(1);
      expect(handshake?.scope).toBe('stella');
      expect(handshake?.attributes).toMatchObject({
        'service.name': 'payments',
        'process.pid': 4242,
        'process.command': 'curl',
        'thread.id': 4243,
        'code.function.name': 'SSL_do_handshake',
        'code.function': 'SSL_do_handshake',
        'container.id': 'c0ffee',
        'host.name': 'node-a',
        'stella.node_hash': 'sha256:ab12',
        'stella.purl': 'pkg:deb/debian/libssl3@3.0.15',
        'stella.hit_count': 3,
        'stella.binary_path': '/usr/lib/x86_64-linux-gnu/libssl.so.3',
      });
      // A shared library is not the process's executable.
      expect(handshake?.attributes['process.executable.path']).toBeUndefined();
      expect(handshake?.resource).toMatchObject({
        'service.name': 'stella-agent',
        'service.instance.id': 'agent-1',
        'host.name': 'node-a',
      });
      const connect = spans.find((s) => s.name === 'tls/SSL_connect');
      expect(connect?.attributes['process.executable.path']).toBe('/usr/bin/node');
      expect(connect?.attributes['container.id']).toBeUndefined();

      const rate = await receiver.waitFor(
        () => receiver.points.find((p) => p.metric === 'observation_rate' && p.attributes.service === 'payments'),
        15_000,
        'observation_rate point',
      );
      expect(rate).toMatchObject({
        type: 'gauge',
        value: 0.5,
        attributes: { service: 'payments', tag: 'all' },
        scope: 'stella',
      });
      const counter = await receiver.waitFor(
        () => receiver.points.find((p) => p.metric === 'observations'),
        15_000,
        'observations',
      );
      expect(counter).toMatchObject({ type: 'sum', isMonotonic: true, value: 3 });
      expect(counter.attributes).toEqual({
        service: 'payments',
        function: 'tls/SSL_do_handshake',
        probe_type: 'uprobe',
      });
      expect(receiver.points.find((p) => p.metric === 'unexpected_symbols_count')?.value).toBe(1);
      expect(receiver.requestMetadata.some((md) => md['x-api-key'] === 'k1')).toBe(true);
    } finally {
      await Promise.all(open.splice(0).map((t) => t.shutdown()));
      await receiver.close();
    }
  });

  it('flushes queued spans on shutdown and sends none after it', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const t = await createTelemetry({
        nodeName: 'node-a',
        logger,
        // A long batch delay: only the shutdown flush can deliver these spans in time.
        otlp: {
          endpoint: receiver.endpoint,
          metrics: false,
          traces: true,
          spanSamplingRatio: 1,
          exportIntervalMs: 60_000,
        },
      });
      t.recordObservationSpans([observation(), observation()]);
      await t.shutdown();
      expect(receiver.spans).toHaveLength(2);
      t.recordObservationSpans([observation()]);
      await new Promise((r) => setTimeout(r, 200));
      expect(receiver.spans).toHaveLength(2);
      expect(receiver.points).toHaveLength(0);
    } finally {
      await receiver.close();
    }
  });
});

describe('span sampling', () => {
  function memoryTracer() {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    return { exporter, tracer: provider.getTracer('test') };
  }

  it('keeps the share given by the ratio, before building the span', () => {
    const { exporter, tracer } = memoryTracer();
    const draws = [0.05, 0.5, 0.09, 0.99, 0.1];
    let i = 0;
    const emitted = emitObservationSpans(
      tracer,
      Array.from({ length: 5 }, () => observation()),
      0.1,
      () => draws[i++] ?? 1,
    );
    expect(emitted).toBe(2);
    expect(exporter.getFinishedSpans()).toHaveLength(2);
    expect(exporter.getFinishedSpans()[0]?.attributes['stella.span_sampling_ratio']).toBe(0.1);
  });

  it('emits nothing at ratio 0 and everything at ratio 1', () => {
    const { exporter, tracer } = memoryTracer();
    expect(emitObservationSpans(tracer, [observation(), observation()], 0, () => 0)).toBe(0);
    expect(emitObservationSpans(tracer, [observation(), observation()], 1, () => 0.999)).toBe(2);
    expect(exporter.getFinishedSpans()).toHaveLength(2);
  });
});

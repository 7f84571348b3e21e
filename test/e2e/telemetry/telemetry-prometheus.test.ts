// SPDX-License-Identifier: Apache-2.0
/**
 * createTelemetry against real parts: a real Prometheus (scraping the telemetry endpoint, loading
 * the shipped alert rules) and a real OTLP/gRPC receiver. Checks the documented names, labels and values as
 * Prometheus stores them, that each alert fires when its gauge crosses the threshold and stays
 * quiet when it does not, that a resolved gauge resolves the alert, and that every dashboard query
 * is valid PromQL returning data.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../core/src/logger.js';
import { createTelemetry, type Telemetry } from '../../../core/src/telemetry/index.js';
import { type OtlpReceiver, startOtlpReceiver } from '../../support/otlp-receiver.js';
import { type PromAlert, type PrometheusServer, startPrometheus } from '../../support/prometheus.js';

const repo = resolve(import.meta.dirname, '../../..');
const RULES = join(repo, 'otel-collector/rules/stella-alerts.yaml');
const DASHBOARD = join(repo, 'otel-collector/dashboards/stella-runtime-linkage.json');

let telemetry: Telemetry;
let receiver: OtlpReceiver;
let prometheus: PrometheusServer;
let ruleDir: string;

/** `n` required paths, the first `observed` seen, the first `tagged` carrying `tag`. */
const pathStates = (n: number, observed: number, tag: string, tagged: number) =>
  Array.from({ length: n }, (_, i) => ({
    pathId: `p${i}`,
    tags: i < tagged ? [tag] : [],
    optional: false,
    observed: i < observed,
  }));

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  telemetry = await createTelemetry({
    nodeName: 'node-e2e',
    serviceInstanceId: 'node-e2e',
    prometheus: { enabled: true, host: '127.0.0.1', port: 0 },
    otlp: { endpoint: receiver.endpoint, metrics: true, traces: true, spanSamplingRatio: 1, exportIntervalMs: 500 },
    logger: createLogger({ level: 'warn' }),
  });
  // The shipped rules, with only the hold times shortened (15m would outlast the test). The
  // expressions, labels and annotations are the shipped ones; promtool tests cover the hold times.
  ruleDir = mkdtempSync(join(tmpdir(), 'stella-rules-'));
  const shortened = readFileSync(RULES, 'utf8').replace(/^(\s+)for: \S+$/gm, '$1for: 2s');
  expect(shortened).not.toBe(readFileSync(RULES, 'utf8'));
  writeFileSync(join(ruleDir, 'stella-alerts.yaml'), shortened);

  // payments: everything wrong; ledger: everything fine, on the right side of every threshold.
  // The coverage alerts read the fleet rate the recording rules build from path_observed (one node
  // here); observation_rate is this node's own view, for the dashboard.
  telemetry.setCoverage('payments', 'all', 0.3);
  telemetry.setCoverage('payments', 'crypto', 0.6);
  telemetry.setCoverage('ledger', 'all', 0.8);
  telemetry.setCoverage('ledger', 'tls', 1);
  telemetry.setPathsObserved('payments', pathStates(10, 3, 'crypto', 5)); // all 3/10, crypto 3/5
  telemetry.setPathsObserved('ledger', pathStates(5, 4, 'tls', 2)); // all 4/5, tls 2/2
  telemetry.setUnexpected('payments', 2);
  telemetry.setUnexpected('ledger', 0);
  telemetry.setProbeHealth('payments', 'tls', { attached: 9, failed: 1 });
  telemetry.setProbeHealth('ledger', 'crypto', { attached: 20, failed: 1 });
  telemetry.setBufferFull(true);
  telemetry.countObservations('payments', 'tls/SSL_do_handshake', 'uprobe', 12);
  telemetry.countDropped('buffer_full', 3);
  telemetry.countAlgorithmCalls('payments', 'ECDSA', 4);
  telemetry.countAlgorithmCalls('payments', 'SHA-384', 40);

  prometheus = await startPrometheus({
    targets: [telemetry.prometheusUrl() as string],
    ruleFiles: [join(ruleDir, 'stella-alerts.yaml')],
  });
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await telemetry?.shutdown();
  await receiver?.close();
  if (ruleDir) rmSync(ruleDir, { recursive: true, force: true });
});

const firing = (alerts: PromAlert[], name: string) =>
  alerts.filter((a) => a.labels.alertname === name && a.state === 'firing');

describe('Prometheus scraping createTelemetry', () => {
  it('stores the documented metric names with their labels and values', async () => {
    const rate = await prometheus.waitFor(
      async () => {
        const r = await prometheus.query('stella_observation_rate{service="payments",tag="all"}');
        return r.length ? r : undefined;
      },
      30_000,
      'the first scrape',
    );
    expect(rate[0]?.value[1]).toBe('0.3');
    expect(rate[0]?.metric).toMatchObject({ job: 'stella-agent', service: 'payments', tag: 'all' });

    const targets = await prometheus.targets();
    expect(targets.map((t) => t.health)).toEqual(['up']);

    const value = async (expr: string) => (await prometheus.query(expr)).map((s) => Number(s.value[1]));
    expect(await value('stella_unexpected_symbols_count{service="payments"}')).toEqual([2]);
    expect(await value('stella_probe_attach_failures{service="payments",category="tls"}')).toEqual([1]);
    expect(await value('stella_probe_attach_failure_rate{service="payments"}')).toEqual([0.1]);
    expect(await value('stella_observation_buffer_full{node="node-e2e"}')).toEqual([1]);
    expect(
      await value('stella_observations_total{service="payments",function="tls/SSL_do_handshake",probe_type="uprobe"}'),
    ).toEqual([12]);
    expect(await value('stella_observations_dropped_total{reason="buffer_full"}')).toEqual([3]);
  });

  it('fires every alert whose gauge crossed its threshold, and no other', async () => {
    const alerts = await prometheus.waitFor(
      async () => {
        const all = await prometheus.alerts();
        return firing(all, 'observation-buffer-full').length &&
          firing(all, 'function-map-coverage-low').length >= 2 &&
          firing(all, 'function-map-coverage-critical').length &&
          firing(all, 'function-map-unexpected-calls').length &&
          firing(all, 'function-map-probe-failures').length
          ? all
          : undefined;
      },
      45_000,
      'every expected alert to fire',
    );
    const byName = (name: string) =>
      firing(alerts, name)
        .map((a) => `${a.labels.service ?? a.labels.node}/${a.labels.tag ?? ''}`)
        .sort();
    // payments crypto 0.6 is low but not critical; ledger at exactly 0.80 is neither.
    expect(byName('function-map-coverage-low')).toEqual(['payments/all', 'payments/crypto']);
    expect(byName('function-map-coverage-critical')).toEqual(['payments/all']);
    expect(byName('function-map-unexpected-calls')).toEqual(['payments/']);
    // ledger's 1 of 21 (4.8 %) stays under 5 %.
    expect(byName('function-map-probe-failures')).toEqual(['payments/']);
    expect(byName('observation-buffer-full')).toEqual(['node-e2e/']);
    expect(alerts.filter((a) => a.labels.service === 'ledger')).toEqual([]);

    const unexpected = firing(alerts, 'function-map-unexpected-calls')[0] as PromAlert;
    expect(unexpected.labels.severity).toBe('info');
    expect(unexpected.annotations.description).toContain('Unexpected function calls detected in payments');
    expect(unexpected.annotations.runbook).toContain('Review unexpected symbols, regenerate function map if benign');
    const low = firing(alerts, 'function-map-coverage-low')[0] as PromAlert;
    expect(low.annotations.description).toContain('Function map coverage below 80% for payments');
    expect(low.annotations.runbook).toContain(
      'Check probe attachment, verify no binary update without map regeneration',
    );
  });

  it('resolves an alert once the gauge is back, and when the service is cleared', async () => {
    telemetry.setUnexpected('payments', 0);
    telemetry.setBufferFull(false);
    telemetry.clearService('ledger');
    telemetry.clearService('payments');
    await prometheus.waitFor(
      async () => {
        const all = await prometheus.alerts();
        return all.some(
          (a) =>
            a.labels.alertname === 'function-map-unexpected-calls' || a.labels.alertname === 'observation-buffer-full',
        ) || all.some((a) => a.labels.service === 'payments')
          ? undefined
          : true;
      },
      30_000,
      'the alerts to resolve',
    );
  });

  it('answers every dashboard query with valid PromQL', async () => {
    // The previous test retired both services (NaN, which the fleet rules drop): load payments again.
    telemetry.setCoverage('payments', 'all', 0.3);
    telemetry.setPathsObserved('payments', pathStates(10, 3, 'crypto', 5));
    await prometheus.waitFor(
      async () => ((await prometheus.query('service_tag:stella_observation_rate:fleet')).length ? true : undefined),
      30_000,
      'the fleet rate to be recorded again',
    );
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(8);
    for (const { title, expr } of exprs) {
      const concrete = expr
        .replaceAll('$service', '.*')
        .replaceAll('[$__rate_interval]', '[1m]')
        .replaceAll('[$__range]', '[1h]');
      await expect(prometheus.query(concrete), `${title}: ${expr}`).resolves.toBeInstanceOf(Array);
    }
    // The metric panels have data from this agent (the alerts table may be empty by now).
    for (const { title, expr } of exprs.filter((e) => e.expr.includes('stella_') && !e.expr.includes('rate('))) {
      const result = await prometheus.query(expr.replaceAll('$service', '.*').replaceAll('[$__range]', '[1h]'));
      expect(result.length, `${title}: ${expr}`).toBeGreaterThan(0);
    }
  });
});

describe('OTLP receiver beside Prometheus', () => {
  it('received the same gauges over OTLP/gRPC', async () => {
    const point = await receiver.waitFor(
      () =>
        receiver.points.find((p) => p.metric === 'probe_attach_failure_rate' && p.attributes.service === 'payments'),
      15_000,
      'probe_attach_failure_rate over OTLP',
    );
    expect(point.value).toBeCloseTo(0.1);
    expect(point.resource['host.name']).toBe('node-e2e');
    expect(
      receiver.points.some((p) => p.metric === 'observation_buffer_full' && p.attributes.node === 'node-e2e'),
    ).toBe(true);
  });
});

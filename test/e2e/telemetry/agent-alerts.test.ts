// SPDX-License-Identifier: Apache-2.0
/**
 * The whole alerting path with real parts: the `stella agent` CLI (real uprobes on libssl) loads two
 * maps; a real Prometheus scrapes it with the shipped alert rules; a real python `ssl` client makes
 * calls the first map does not declare, so `function-map-unexpected-calls` fires for that service;
 * the second map's service is a process that never does TLS, so `function-map-coverage-low` fires for
 * it. A real OTLP/gRPC receiver gets the agent's spans and metrics, checked against what the
 * workload did. Only the rules' `for:` hold times are shortened (promtool tests cover them).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { nodeHash } from '../../../core/src/function-map/index.js';
import { type RunningCli, startStella } from '../../support/cli.js';
import { LIBSSL, libsslCallMap, LIBSSL_PURL as PURL, stdoutLines } from '../../support/maps.js';
import { type OtlpReceiver, type ReceivedPoint, startOtlpReceiver } from '../../support/otlp-receiver.js';
import { type PromAlert, type PrometheusServer, scrape, startPrometheus } from '../../support/prometheus.js';

const repo = resolve(import.meta.dirname, '../../..');
const RULES = join(repo, 'otel-collector/rules/stella-alerts.yaml');
const TLS_CLIENT = join(repo, 'test/e2e/agent/fixtures/tls_client.py');
const HANDSHAKES = 5;
/** Does TLS, but more than its map declares. */
const CLIENT_SERVICE = 'tls-client';
/** Never does TLS: its map's required path is never exercised. */
const IDLE_SERVICE = 'idle-worker';
const NODE = 'alerts-e2e-node';

const canBpf = process.getuid?.() === 0;
if (!canBpf) console.warn('[skip] agent-alerts e2e: needs root for BPF (CAP_BPF/CAP_PERFMON)');

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

const firing = (alerts: PromAlert[], name: string) =>
  alerts.filter((a) => a.labels.alertname === name && a.state === 'firing');

/** The last point of `metric` for these attributes (points arrive in export order). */
function lastPoint(points: ReceivedPoint[], metric: string, attributes: Record<string, string>) {
  return points.findLast(
    (p) => p.metric === metric && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
  );
}

describe.skipIf(!canBpf)('alerts from a running agent (real BPF, real Prometheus, real OTLP receiver)', () => {
  let dir: string;
  let server: TlsServer;
  let receiver: OtlpReceiver;
  let prometheus: PrometheusServer | undefined;
  let agent: RunningCli | undefined;
  let client: ChildProcess | undefined;
  let idle: ChildProcess | undefined;
  let metricsUrl: string;
  let clientPid: number;
  let idlePid: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-e2e-alerts-'));
    [server, receiver] = await Promise.all([startOpensslServer(dir), startOtlpReceiver()]);

    // The client loads libssl and builds its SSL_CTX, then waits for "go" on stdin.
    client = spawn('python3', [TLS_CLIENT, String(server.port), server.certPath, String(HANDSHAKES)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await stdoutLines(client, 'ready');
    clientPid = client.pid as number;
    idle = spawn('sleep', ['600'], { stdio: 'ignore' });
    idlePid = idle.pid as number;

    const clientMap = join(dir, `${CLIENT_SERVICE}.json`);
    const idleMap = join(dir, `${IDLE_SERVICE}.json`);
    await writeFile(clientMap, JSON.stringify(libsslCallMap(CLIENT_SERVICE)));
    await writeFile(idleMap, JSON.stringify(libsslCallMap(IDLE_SERVICE)));
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    const configPath = join(dir, 'stella.yaml');
    await writeFile(
      configPath,
      [
        'runtime_agent:',
        `  node_name: ${NODE}`,
        `  function_maps: [${JSON.stringify(clientMap)}, ${JSON.stringify(idleMap)}]`,
        '  targets:',
        `    - {service: ${CLIENT_SERVICE}, pids: [${clientPid}]}`,
        `    - {service: ${IDLE_SERVICE}, pids: [${idlePid}]}`,
        '  observation_store: {type: memory}',
        `  export: {flush_interval_ms: 200, output_path: ${JSON.stringify(join(dir, 'observations'))}}`,
        '  telemetry:',
        `    prometheus: {enabled: true, host: 127.0.0.1, port: ${port}}`,
        `    otlp: {endpoint: ${JSON.stringify(receiver.endpoint)}, metrics: true, traces: true, span_sampling_ratio: 1, export_interval_ms: 500}`,
        '    verify_interval_ms: 500',
      ].join('\n'),
    );

    agent = startStella(['agent', '--config', configPath]);
    const ready = await agent.waitFor(/\bready\b.*metrics=/, 60_000);
    expect(ready).toContain(metricsUrl);

    client.stdin?.write('go\n');
    await stdoutLines(client, 'done');

    // Prometheus starts once the verifier has counted the workload, so no alert below can come
    // from the agent's first moments (coverage 0 before the first handshake).
    await waitUntil(
      async () => {
        const text = await (await fetch(metricsUrl)).text();
        return /^stella_unexpected_symbols_count\{service="tls-client"[^}]*\} [1-9]/m.test(text) &&
          /^stella_observation_rate\{service="tls-client",tag="all"[^}]*\} 1$/m.test(text)
          ? true
          : undefined;
      },
      20_000,
      `${CLIENT_SERVICE}'s handshakes and unexpected calls on ${metricsUrl}`,
      () => agent?.stderr() ?? '',
    );

    const rulesDir = join(dir, 'rules');
    const shipped = await readFile(RULES, 'utf8');
    const shortened = shipped.replace(/^(\s+)for: \S+$/gm, '$1for: 2s');
    expect(shortened).not.toBe(shipped);
    await mkdir(rulesDir);
    await writeFile(join(rulesDir, 'stella-alerts.yaml'), shortened);
    prometheus = await startPrometheus({ targets: [metricsUrl], ruleFiles: [join(rulesDir, 'stella-alerts.yaml')] });
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    if (agent && agent.child.exitCode === null) {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    await Promise.all([stopChild(client), stopChild(idle)]);
    await server?.stop();
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fires function-map-unexpected-calls for the service that called undeclared functions, and coverage-low for the one never exercised', async () => {
    const p = prometheus as PrometheusServer;
    const alerts = await p.waitFor(
      async () => {
        const all = await p.alerts();
        return firing(all, 'function-map-unexpected-calls').length && firing(all, 'function-map-coverage-low').length
          ? all
          : undefined;
      },
      30_000,
      'function-map-unexpected-calls and function-map-coverage-low to fire',
    );
    const unexpected = firing(alerts, 'function-map-unexpected-calls');
    expect(unexpected.map((a) => a.labels.service)).toEqual([CLIENT_SERVICE]);
    expect(unexpected[0]?.labels).toMatchObject({ severity: 'info', job: 'stella-agent' });
    expect(unexpected[0]?.annotations.description).toContain(`Unexpected function calls detected in ${CLIENT_SERVICE}`);
    expect(unexpected[0]?.annotations.runbook).toContain(
      'Review unexpected symbols, regenerate function map if benign',
    );

    const low = firing(alerts, 'function-map-coverage-low');
    expect(low.map((a) => `${a.labels.service}/${a.labels.tag}`).sort()).toEqual([
      `${IDLE_SERVICE}/all`,
      `${IDLE_SERVICE}/tls`,
    ]);
    expect(low[0]?.labels.severity).toBe('warning');
    expect(low[0]?.annotations.description).toContain(`Function map coverage below 80% for ${IDLE_SERVICE}`);
    // The client's map is fully covered, the idle worker made no call at all.
    expect(alerts.filter((a) => a.labels.service === CLIENT_SERVICE).map((a) => a.labels.alertname)).toEqual([
      'function-map-unexpected-calls',
    ]);
    expect(
      alerts.filter((a) => a.labels.service === IDLE_SERVICE && /unexpected/.test(a.labels.alertname ?? '')),
    ).toEqual([]);
    // Every probe attached: no probe-failure alert, pending or firing.
    expect(alerts.filter((a) => a.labels.alertname === 'function-map-probe-failures')).toEqual([]);

    const value = async (expr: string) => (await p.query(expr)).map((s) => Number(s.value[1]));
    expect(await value(`stella_observation_rate{service="${CLIENT_SERVICE}",tag="all"}`)).toEqual([1]);
    expect(await value(`stella_observation_rate{service="${IDLE_SERVICE}",tag="all"}`)).toEqual([0]);
    // The fleet rate the coverage alerts use, from the agent's per-path gauge (one node here).
    const fleet = (service: string) => `service_tag:stella_observation_rate:fleet{service="${service}",tag="all"}`;
    expect(await value(fleet(CLIENT_SERVICE))).toEqual([1]);
    expect(await value(fleet(IDLE_SERVICE))).toEqual([0]);
    expect(await value(`stella_unexpected_symbols_count{service="${IDLE_SERVICE}"}`)).toEqual([0]);
    expect(
      await value(
        `stella_observations_total{service="${CLIENT_SERVICE}",function="tls/SSL_do_handshake",probe_type="uprobe"}`,
      ),
    ).toEqual([HANDSHAKES]);
    expect(await value(`stella_probe_attach_failure_rate{service="${CLIENT_SERVICE}"}`)).toEqual([0]);
    // No pid or timestamp labels reach Prometheus.
    const exposition = await scrape(metricsUrl);
    for (const s of exposition.samples.filter((x) => x.name.startsWith('stella_')))
      expect(
        Object.keys(s.labels).filter((k) => /pid|time/.test(k)),
        s.name,
      ).toEqual([]);
  });

  it('exports the observations as OTLP spans and the gauges as OTLP metrics, matching what the workload did', async () => {
    // SIGTERM flushes: the last verify, the last metric export and the queued spans.
    const running = agent as RunningCli;
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);

    const spans = receiver.spans;
    const clientSpans = spans.filter((s) => s.attributes['service.name'] === CLIENT_SERVICE);
    expect(spans.filter((s) => s.attributes['service.name'] === IDLE_SERVICE)).toEqual([]);
    expect(clientSpans.every((s) => s.attributes['process.pid'] === clientPid)).toBe(true);

    const handshakes = clientSpans.filter((s) => s.name === 'tls/SSL_do_handshake');
    expect(handshakes.reduce((n, s) => n + Number(s.attributes['stella.hit_count']), 0)).toBe(HANDSHAKES);
    const handshake = handshakes[0];
    expect(handshake?.attributes).toMatchObject({
      'code.function': 'SSL_do_handshake',
      'code.function.name': 'SSL_do_handshake',
      'stella.function': 'tls/SSL_do_handshake',
      'stella.binary_path': LIBSSL,
      'stella.probe_type': 'uprobe',
      'stella.node_hash': nodeHash(PURL, 'SSL_do_handshake'),
      'stella.purl': PURL,
      'host.name': NODE,
    });
    expect(String(handshake?.attributes['process.command'])).toMatch(/^python3/);
    // libssl is a shared object, not the process's executable.
    expect(handshake?.attributes['process.executable.path']).toBeUndefined();
    expect(handshake?.resource).toMatchObject({ 'service.name': 'stella-agent', 'host.name': NODE });
    expect(handshake?.scope).toBe('stella');
    expect(handshake?.startTimeUnixNano).toBe(handshake?.endTimeUnixNano);

    // The undeclared call: python's ssl module sets the connect state on every socket it wraps
    // (its SSL_CTX_new ran before the agent started; it never calls SSL_shutdown on close).
    // Canary spans (`canary/…`: a library's first use, here none, the context predates the agent) are
    // neither declared nor undeclared calls.
    const undeclared = new Set(
      clientSpans.map((s) => s.name).filter((name) => name !== 'tls/SSL_do_handshake' && !name.startsWith('canary/')),
    );
    expect([...undeclared]).toEqual(['tls/SSL_set_connect_state']);
    const connectState = clientSpans.filter((s) => s.name === 'tls/SSL_set_connect_state');
    expect(connectState.reduce((n, s) => n + Number(s.attributes['stella.hit_count']), 0)).toBe(HANDSHAKES);

    const rate = (service: string) => lastPoint(receiver.points, 'observation_rate', { service, tag: 'all' })?.value;
    expect(rate(CLIENT_SERVICE)).toBe(1);
    expect(rate(IDLE_SERVICE)).toBe(0);
    expect(lastPoint(receiver.points, 'observation_rate', { service: IDLE_SERVICE, tag: 'tls' })?.value).toBe(0);
    // The gauge counts exactly the distinct undeclared functions the spans show.
    const unexpectedPoint = lastPoint(receiver.points, 'unexpected_symbols_count', { service: CLIENT_SERVICE });
    expect(unexpectedPoint?.value).toBe(undeclared.size);
    expect(unexpectedPoint?.resource).toMatchObject({ 'service.name': 'stella-agent', 'host.name': NODE });
    expect(lastPoint(receiver.points, 'unexpected_symbols_count', { service: IDLE_SERVICE })?.value).toBe(0);
    const observed = lastPoint(receiver.points, 'observations', {
      service: CLIENT_SERVICE,
      function: 'tls/SSL_do_handshake',
      probe_type: 'uprobe',
    });
    expect(observed).toMatchObject({ type: 'sum', isMonotonic: true, value: HANDSHAKES });
    for (const p of receiver.points) expect(Object.keys(p.attributes).filter((k) => /pid|time/.test(k))).toEqual([]);
  });
});

async function waitUntil<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  context: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await probe();
      if (result !== undefined) return result;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${(lastError as Error).message})` : ''}\n${context()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

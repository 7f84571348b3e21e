// SPDX-License-Identifier: Apache-2.0
/**
 * Learning inside the agent, end to end with real parts: the `stella agent` CLI (real uprobes on
 * libssl) learns a two-path map for a python TLS client (handshakes, never SSL_accept) over a short
 * window, writes the refined map, and verifies against it. Three phases are scraped from /metrics:
 * learning (coverage 1/2, but learning), learned and the workload still handshaking (coverage 1),
 * and the workload stopped (coverage 0, the handshake path not exercised: the canary fired). Those
 * scrapes become the input series of a promtool test of the shipped rules, unmodified: no coverage
 * alert while learning or while covered; coverage alerts fire 15 minutes into the drop, saying the
 * missing path was not exercised. `stella function-map verify` passes the learned-window workload
 * under the refined map and fails it under the loaded one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { type RunningCli, runStella, startStella } from '../../support/cli.js';
import { LIBSSL, LIBSSL_PURL } from '../../support/maps.js';
import { type Exposition, PROMTOOL_BIN, scrape } from '../../support/prometheus.js';
import { canBpf, type Driven, drive, functionMap, stopDriven, uprobeRefusal } from '../probes/support.js';

const repo = resolve(import.meta.dirname, '../../..');
const RULES = join(repo, 'otel-collector/rules/stella-alerts.yaml');
const CLIENT = join(repo, 'test/e2e/agent/fixtures/tls_client.py');
const PYTHON = '/usr/bin/python3';
const SERVICE = 'learner';
/** Learning window and the map's own coverage window, in seconds: short, so the test is. */
const LEARN_S = 5;
const WINDOW_S = 3;
const METRICS = ['stella_learning_state', 'stella_path_observed', 'stella_path_visibility'];

if (!canBpf) console.warn('[skip] agent learning e2e: needs root for BPF (CAP_BPF/CAP_PERFMON)');

async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const value = (e: Exposition, name: string, labels: Record<string, string>) =>
  e.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

/** A promtool series key, labels sorted, with the instance Prometheus would add. */
const seriesKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries({ ...labels, instance: 'node-a:9464', job: 'stella-agent' })
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;

describe.skipIf(!canBpf || uprobeRefusal !== undefined)(
  'the agent learns a map, then its coverage alerts use it',
  () => {
    let dir: string;
    let server: TlsServer;
    let agent: RunningCli | undefined;
    let client: Driven;
    let metricsUrl: string;
    const phases: Exposition[] = [];
    let learnedPath: string;
    let mapPath: string;
    let learnedWorkload: { from: string; to: string };

    const handshakes = async (n: number) => {
      client.send(String(n));
      const before = client.output().split('done').length;
      await until(async () => (client.output().split('done').length > before ? true : undefined), 20_000, 'done');
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'stella-e2e-learning-'));
      server = await startOpensslServer(dir);
      const map = functionMap(SERVICE, [
        { function: 'tls/SSL_do_handshake', library: 'libssl.so.3', binaryPath: LIBSSL, purl: LIBSSL_PURL },
        { function: 'tls/SSL_accept', library: 'libssl.so.3', binaryPath: LIBSSL, purl: LIBSSL_PURL },
      ]) as { predicate: { coverage: { windowSeconds: number } } };
      map.predicate.coverage.windowSeconds = WINDOW_S;
      mapPath = join(dir, 'map.json');
      learnedPath = join(dir, 'learned.json');
      await writeFile(mapPath, JSON.stringify(map));
      const port = await freePort();
      metricsUrl = `http://127.0.0.1:${port}/metrics`;
      const configPath = join(dir, 'stella.yaml');
      await writeFile(
        configPath,
        [
          'runtime_agent:',
          '  node_name: learning-e2e',
          `  function_maps: [${JSON.stringify(mapPath)}]`,
          `  targets: [{service: ${SERVICE}, executables: [${PYTHON}]}]`,
          `  learning: [{service: ${SERVICE}, window: ${LEARN_S}s, output: ${JSON.stringify(learnedPath)}}]`,
          '  observation_store: {type: memory}',
          `  export: {flush_interval_ms: 200, output_path: ${JSON.stringify(join(dir, 'observations'))}}`,
          `  telemetry: {prometheus: {enabled: true, host: 127.0.0.1, port: ${port}}, verify_interval_ms: 250}`,
        ].join('\n'),
      );
      agent = startStella(['agent', '--config', configPath]);
      await agent.waitFor(/\bready\b.*metrics=/, 60_000);
      // Started after the agent: its library init (and canary) happen under the probes.
      client = drive(PYTHON, [CLIENT, String(server.port), server.certPath, '3']);
      await client.line('ready');

      // Phase 1, learning: handshakes only; SSL_accept never runs.
      const t1 = new Date().toISOString();
      await handshakes(3);
      phases.push(
        await until(
          async () => {
            const e = await scrape(metricsUrl);
            return value(e, 'stella_path_observed', { path_id: 'tls-SSL_do_handshake', tag: 'all' }) === 1
              ? e
              : undefined;
          },
          10_000,
          'the handshakes in the learning window',
        ),
      );
      learnedWorkload = { from: t1, to: new Date().toISOString() };
      // Phase 2, learned: the refined map is written and verified against; the workload goes on.
      await until(
        async () =>
          value(await scrape(metricsUrl), 'stella_learning_state', { service: SERVICE, state: 'completed' }) === 1
            ? true
            : undefined,
        (LEARN_S + 10) * 1000,
        'learning to complete',
      );
      await handshakes(3);
      phases.push(
        await until(
          async () => {
            const e = await scrape(metricsUrl);
            return value(e, 'stella_observation_rate', { service: SERVICE, tag: 'all' }) === 1 ? e : undefined;
          },
          10_000,
          'coverage 1 under the refined map',
        ),
      );
      // Phase 3, the workload stops handshaking: past the map's window the path is unobserved.
      phases.push(
        await until(
          async () => {
            const e = await scrape(metricsUrl);
            return value(e, 'stella_path_observed', { path_id: 'tls-SSL_do_handshake', tag: 'all' }) === 0
              ? e
              : undefined;
          },
          (WINDOW_S + 10) * 1000,
          'coverage to drop',
        ),
      );
    }, 120_000);

    afterAll(async () => {
      await stopDriven();
      if (agent && agent.child.exitCode === null) {
        agent.child.kill('SIGTERM');
        await agent.exited;
      }
      await server?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('scrapes learning → completed, coverage 1/2 → 1 → 0, the dropped path not exercised', () => {
      const [learning, learned, dropped] = phases as [Exposition, Exposition, Exposition];
      expect(value(learning, 'stella_learning_state', { service: SERVICE, state: 'learning' })).toBe(1);
      expect(value(learning, 'stella_observation_rate', { service: SERVICE, tag: 'all' })).toBe(0.5);
      expect(value(learned, 'stella_learning_state', { service: SERVICE, state: 'completed' })).toBe(1);
      // SSL_accept became optional: its series is retired (NaN), the handshake path is all there is.
      expect(value(learned, 'stella_path_observed', { path_id: 'tls-SSL_accept', tag: 'all' })).toBeNaN();
      expect(value(dropped, 'stella_observation_rate', { service: SERVICE, tag: 'all' })).toBe(0);
      expect(value(dropped, 'stella_path_visibility', { service: SERVICE, path_id: 'tls-SSL_do_handshake' })).toBe(1);
    });

    it('wrote a refined map under which the learning window verifies pass (fail under the loaded map)', async () => {
      const learned = JSON.parse(await readFile(learnedPath, 'utf8'));
      expect(
        learned.predicate.expectedPaths.map((p: { pathId: string; optional: boolean }) => [p.pathId, p.optional]),
      ).toEqual([
        ['tls-SSL_do_handshake', false],
        ['tls-SSL_accept', true],
      ]);
      expect(learned.predicate.generatedFrom.learning).toMatchObject({ node: 'learning-e2e' });
      const verify = (map: string) =>
        runStella([
          'function-map',
          'verify',
          '--function-map',
          map,
          '--offline',
          '--observations',
          join(dir, 'observations'),
          '--from',
          learnedWorkload.from,
          '--to',
          learnedWorkload.to,
          '--format',
          'json',
        ]);
      const [before, after] = await Promise.all([verify(mapPath), verify(learnedPath)]);
      expect(JSON.parse(before.stdout).verdict).toBe('fail');
      expect(before.code).toBe(1);
      expect(JSON.parse(after.stdout).verdict).toBe('pass');
      expect(after.code).toBe(0);
    });

    it('the shipped rules, fed the three scrapes: quiet while learning and while covered, coverage alerts once the path stops', async () => {
      const names = new Map<string, Record<string, string>>();
      for (const e of phases)
        for (const s of e.samples)
          if (METRICS.includes(s.name) && s.labels.service === SERVICE)
            names.set(seriesKey(s.name, s.labels), s.labels);
      const PHASE_MINUTES = 20;
      const series = [...names].map(([key, labels]) => {
        const name = key.slice(0, key.indexOf('{'));
        const values = phases.map((e) => {
          const v = value(e, name, labels);
          // promtool's `axN` takes numbers only: NaN (a retired path) is spelled out per minute.
          if (v !== undefined && Number.isNaN(v)) return Array(PHASE_MINUTES).fill('NaN').join(' ');
          return `${v === undefined ? '_' : String(v)}x${PHASE_MINUTES - 1}`;
        });
        return `      - series: '${key}'\n        values: "${values.join(' ')}"`;
      });
      const description = (tag: string, opening: string) =>
        `${opening} for ${SERVICE}: only 0% of the required expected paths (tag ${tag}) were observed by any node in the map's window. 1 missing path(s) were not exercised: their library's canary fired, so the probes see it and the code did not run.`;
      const firing = (alert: string, severity: string) => ['all', 'tls'].map((tag) => ({ alert, severity, tag }));
      const tests = [
        'rule_files:',
        `  - ${RULES}`,
        'evaluation_interval: 1m',
        'tests:',
        '  - interval: 1m',
        '    input_series:',
        ...series,
        '    alert_rule_test:',
        // Phase 1 ends at 19m, phase 2 at 39m: no coverage alert in either.
        ...['19m', '39m'].flatMap((t) =>
          ['function-map-coverage-low', 'function-map-coverage-critical'].map(
            (a) => `      - {eval_time: ${t}, alertname: ${a}, exp_alerts: []}`,
          ),
        ),
        // The drop starts at 40m; 15 minutes later both fire, per tag (a minute later when promtool
        // evaluates the alert group before the recording group: the check is at 56m).
        '      - {eval_time: 54m, alertname: function-map-coverage-critical, exp_alerts: []}',
        '      - eval_time: 56m',
        '        alertname: function-map-coverage-critical',
        '        exp_alerts:',
        ...firing('critical', 'critical').map(
          ({ tag }) =>
            `          - exp_labels: {severity: critical, service: ${SERVICE}, tag: ${tag}}\n            exp_annotations:\n              summary: ${JSON.stringify(`Function map coverage below 50% for ${SERVICE} (tag ${tag})`)}\n              description: ${JSON.stringify(description(tag, 'Significant coverage loss'))}\n              runbook: ${JSON.stringify('Coverage dropped after deployment: check whether the binary was updated without regenerating the function map; verify probes are still attached (`stella observations query --summary`); check for symbol changes (different build); regenerate the function map from the new SBOM and redeploy.')}`,
        ),
        '',
      ].join('\n');
      const testsPath = join(dir, 'learning.test.yaml');
      await writeFile(testsPath, tests);
      const result = spawnSync(PROMTOOL_BIN, ['test', 'rules', testsPath], { encoding: 'utf8', timeout: 60_000 });
      const output = `${result.stdout}${result.stderr}`;
      expect(output, tests).toContain('SUCCESS');
      expect(result.status).toBe(0);
      // Coverage-low fires with it (its description is covered by the rules' own promtool tests).
      const low = tests.replace(
        /alertname: function-map-coverage-critical\n {8}exp_alerts:\n[\s\S]*$/,
        'alertname: function-map-coverage-low\n        exp_alerts: []\n',
      );
      await writeFile(testsPath, low);
      const lowResult = spawnSync(PROMTOOL_BIN, ['test', 'rules', testsPath], { encoding: 'utf8', timeout: 60_000 });
      // Expecting none at 56m must fail: the low alert is firing then too.
      expect(`${lowResult.stdout}${lowResult.stderr}`, low).toContain('FAILED');
    });
  },
);

// SPDX-License-Identifier: Apache-2.0
/**
 * The shipped Prometheus rules (otel-collector/rules) against docs/OPERATIONS.md §4, and
 * through the real promtool: `check rules`, `test rules` (series across and on each threshold), and
 * a mutated copy that promtool must reject, so the promtool tests are shown to bite.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INSTRUMENT } from '../../../core/src/telemetry/index.js';
import { PROMTOOL_BIN } from '../../support/prometheus.js';

const rulesDir = resolve(import.meta.dirname, '../../../otel-collector/rules');
const RULES = join(rulesDir, 'stella-alerts.yaml');
const TESTS = join(rulesDir, 'stella-alerts.test.yaml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const allRules = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap(
  (g) => g.rules,
);
const rules = allRules.filter((r) => r.alert);
const recordings = allRules.filter((r) => r.record);

/** The coverage conditions compare the fleet rate, a recording rule (docs/OPERATIONS.md §7). */
const FLEET_RATE = 'service_tag:stella_observation_rate:fleet';

/** Coverage is not judged while a node still learns the service's map (runtime_agent.learning). */
const QUIET_WHILE_LEARNING = 'unless on (service) service:stella_learning:active == 1';

/** docs/OPERATIONS.md §4: each alert's condition, severity and the opening words of its annotations. */
const SPEC_ALERTS = [
  {
    alert: 'function-map-coverage-low',
    expr: `${FLEET_RATE} < 0.80 ${QUIET_WHILE_LEARNING}`,
    severity: 'warning',
    description: 'Function map coverage below 80% for',
    runbook: 'Check probe attachment, verify no binary update without map regeneration',
  },
  {
    alert: 'function-map-coverage-critical',
    expr: `${FLEET_RATE} < 0.50 ${QUIET_WHILE_LEARNING}`,
    severity: 'critical',
    description: 'coverage loss',
    runbook: 'regenerate the function map from the new SBOM',
  },
  {
    alert: 'function-map-unexpected-calls',
    expr: `stella_${INSTRUMENT.unexpectedSymbolsCount} > 0`,
    severity: 'info',
    description: 'Unexpected function calls detected in',
    runbook: 'Review unexpected symbols, regenerate function map if benign',
  },
  {
    alert: 'function-map-probe-failures',
    expr: `stella_${INSTRUMENT.probeAttachFailureRate} > 0.05`,
    severity: 'warning',
    description: 'Probe attachment failure rate above 5%',
    runbook: 'Check kernel version, verify BTF availability, check CAP_BPF',
  },
  {
    alert: 'observation-buffer-full',
    expr: `stella_${INSTRUMENT.observationBufferFull} == 1`,
    severity: 'critical',
    description: 'observations are being dropped',
    runbook: 'Observations are being dropped',
  },
];

function promtool(...args: string[]) {
  const result = spawnSync(PROMTOOL_BIN, args, { encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`cannot run ${PROMTOOL_BIN} (Debian package prometheus): ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('alert rules', () => {
  it('ship exactly the documented alerts with their conditions, severities and runbook annotations', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(SPEC_ALERTS.map((a) => a.alert).sort());
    for (const spec of SPEC_ALERTS) {
      const rule = rules.find((r) => r.alert === spec.alert) as Rule;
      expect(rule.expr, spec.alert).toBe(spec.expr);
      expect(rule.labels.severity, spec.alert).toBe(spec.severity);
      expect(rule.annotations.summary, spec.alert).toBeTruthy();
      expect(rule.annotations.description, spec.alert).toContain(spec.description);
      expect(rule.annotations.runbook, spec.alert).toContain(spec.runbook);
    }
  });

  it('compute the fleet rate from the per-path gauge the agent exports: union over nodes, per service and tag', () => {
    expect(recordings.map((r) => r.record)).toEqual([
      'service_path_tag:stella_path_observed:max',
      FLEET_RATE,
      'service_path:stella_path_visibility:max',
      'service:stella_learning:active',
    ]);
    expect(recordings[0]!.expr).toBe(`max by (service, path_id, tag) (stella_${INSTRUMENT.pathObserved} >= 0)`);
    expect(recordings[1]!.expr).toContain('sum by (service, tag) (service_path_tag:stella_path_observed:max)');
    expect(recordings[2]!.expr).toBe(`max by (service, path_id) (stella_${INSTRUMENT.pathVisibility} >= 0)`);
    expect(recordings[3]!.expr).toBe(`max by (service) (stella_${INSTRUMENT.learningState}{state="learning"})`);
    // No node, pod or pid in the fleet series: the alert is per service and tag.
    for (const r of recordings) expect(r.expr).not.toMatch(/instance|pod|pid|node/);
  });

  it('pass promtool check rules', () => {
    const { status, output } = promtool('check', 'rules', RULES);
    expect(output).toContain('SUCCESS: 9 rules found');
    expect(status).toBe(0);
  });

  it('are loaded by the example prometheus.yml, which promtool accepts', () => {
    const { status, output } = promtool('check', 'config', join(rulesDir, '..', 'prometheus.yml'));
    expect(output).toContain('SUCCESS: 9 rules found');
    expect(status).toBe(0);
  });

  it('pass promtool test rules (each threshold crossed, met exactly, and crossed too briefly)', () => {
    const { status, output } = promtool('test', 'rules', TESTS);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it.each([
    ['a threshold moved', `${FLEET_RATE} < 0.80`, `${FLEET_RATE} <= 0.80`],
    ['the union became per node', 'max by (service, path_id, tag)', 'max by (service, path_id, tag, instance)'],
    ['a retired (NaN) path counted', '(stella_path_observed >= 0)', '(stella_path_observed)'],
    [
      'a hold time dropped',
      'stella_probe_attach_failure_rate > 0.05\n        for: 5m',
      'stella_probe_attach_failure_rate > 0.05\n        for: 0m',
    ],
    ['a runbook text changed', 'Review unexpected symbols, regenerate', 'Look at unexpected symbols, regenerate'],
    ['learning no longer keeps coverage quiet', `< 0.50 ${QUIET_WHILE_LEARNING}`, '< 0.50'],
    [
      'canaries no longer explain a miss',
      'stella_path_visibility:max{service=%q} == 0',
      'stella_path_visibility:max{service=%q} == 3',
    ],
  ])('fail promtool test rules when %s', (_what, from, to) => {
    const dir = mkdtempSync(join(tmpdir(), 'stella-rules-mutant-'));
    scratch.push(dir);
    const original = readFileSync(RULES, 'utf8');
    expect(original).toContain(from);
    writeFileSync(join(dir, 'stella-alerts.yaml'), original.replace(from, to));
    copyFileSync(TESTS, join(dir, 'stella-alerts.test.yaml'));
    const { status, output } = promtool('test', 'rules', join(dir, 'stella-alerts.test.yaml'));
    expect(output).toContain('FAILED');
    expect(status).not.toBe(0);
  });
});

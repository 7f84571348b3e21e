// SPDX-License-Identifier: Apache-2.0
/**
 * No cluster runs here, so the manifests are checked for structure and for the properties that
 * matter: least capabilities, hostPID, read-only host mounts, the agent config loading through the
 * real config loader, the collector pipeline referring only to defined components, generated
 * copies in sync with their sources, and the dashboard's shape.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../core/src/config/index.js';

const repo = resolve(import.meta.dirname, '../../..');
const k8s = join(repo, 'deploy/kubernetes');
/** Grafana's variable syntax, not a JS template. */
const DATASOURCE_VARIABLE = ['$', '{datasource}'].join('');
// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML
type Obj = Record<string, any>;

function docs(file: string): Obj[] {
  const text = readFileSync(join(k8s, file), 'utf8');
  expect(text.startsWith('# SPDX-License-Identifier: Apache-2.0'), file).toBe(true);
  return parseAllDocuments(text).map((d) => {
    expect(d.errors, file).toEqual([]);
    return d.toJS() as Obj;
  });
}
const kind = (all: Obj[], k: string) => all.filter((d) => d.kind === k);

function checkAgentContainer(container: Obj, where: string) {
  const sc = container.securityContext;
  expect(sc.privileged, where).toBe(false);
  expect(sc.allowPrivilegeEscalation, where).toBe(false);
  expect(sc.readOnlyRootFilesystem, where).toBe(true);
  expect(sc.capabilities.drop, where).toEqual(['ALL']);
  expect([...sc.capabilities.add].sort(), where).toEqual(['BPF', 'PERFMON', 'SYS_PTRACE']);
  expect(sc.capabilities.add, where).not.toContain('SYS_ADMIN');
  expect(sc.seccompProfile.type, where).toBe('RuntimeDefault');
  const mounts = new Map<string, Obj>(container.volumeMounts.map((m: Obj) => [m.mountPath, m]));
  for (const path of ['/sys/kernel/btf', '/sys/kernel/tracing', '/etc/stella/stella.config.yaml']) {
    expect(mounts.get(path)?.readOnly, `${where} ${path}`).toBe(true);
  }
  const env = new Map<string, Obj>(container.env.map((e: Obj) => [e.name, e]));
  expect(env.get('STELLA_NODE_NAME')?.valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
  expect(env.get('STELLA_PROMETHEUS_HOST')?.valueFrom.fieldRef.fieldPath).toBe('status.podIP');
  expect(env.get('STELLA_OTLP_ENDPOINT')?.value).toBe('http://stella-otel-collector.stella.svc:4317');
  expect(container.ports.find((p: Obj) => p.name === 'metrics')?.containerPort).toBe(9464);
}

function checkVolumesResolve(spec: Obj, container: Obj, where: string) {
  const volumes = new Map<string, Obj>(spec.volumes.map((v: Obj) => [v.name, v]));
  for (const m of container.volumeMounts) expect(volumes.has(m.name), `${where}: volume ${m.name}`).toBe(true);
  return volumes;
}

describe('deploy/kubernetes', () => {
  it('runs the agent as a DaemonSet with least capabilities, hostPID and read-only host mounts', () => {
    const all = docs('daemonset.yaml');
    const [ds] = kind(all, 'DaemonSet');
    expect(ds?.metadata.namespace).toBe('stella');
    const spec = ds?.spec.template.spec;
    expect(ds?.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'stella-agent' });
    expect(ds?.spec.template.metadata.labels).toMatchObject(ds?.spec.selector.matchLabels);
    expect(spec.hostPID).toBe(true);
    expect(spec.hostNetwork).toBe(false);
    expect(spec.serviceAccountName).toBe(kind(all, 'ServiceAccount')[0]?.metadata.name);
    const [agent] = spec.containers;
    checkAgentContainer(agent, 'daemonset');
    expect(agent.volumeMounts.find((m: Obj) => m.mountPath === '/host/proc')?.readOnly).toBe(true);
    const volumes = checkVolumesResolve(spec, agent, 'daemonset');
    expect(volumes.get('btf')?.hostPath.path).toBe('/sys/kernel/btf');
    expect(volumes.get('tracefs')?.hostPath.path).toBe('/sys/kernel/tracing');
    expect(volumes.get('host-proc')?.hostPath.path).toBe('/proc');
    expect(ds?.spec.template.metadata.annotations['prometheus.io/port']).toBe('9464');
  });

  it('has a sidecar example with the same capabilities and no hostPID', () => {
    const [deployment] = kind(docs('sidecar.yaml'), 'Deployment');
    const spec = deployment?.spec.template.spec;
    expect(spec.hostPID ?? false).toBe(false);
    expect(spec.shareProcessNamespace).toBe(true);
    const agent = spec.containers.find((c: Obj) => c.name === 'stella-agent');
    checkAgentContainer(agent, 'sidecar');
    checkVolumesResolve(spec, agent, 'sidecar');
    const app = spec.containers.find((c: Obj) => c.name === 'app');
    expect(app.securityContext.capabilities.add).toBeUndefined();
  });

  it('ships an agent config that the real config loader accepts, wired to the collector', async () => {
    const [cm] = kind(docs('agent-config.yaml'), 'ConfigMap');
    const text: string = cm?.data['stella.config.yaml'];
    const dir = mkdtempSync(join(tmpdir(), 'stella-deploy-config-'));
    try {
      writeFileSync(join(dir, 'stella.config.yaml'), text);
      const { config } = await loadConfig({
        configPath: join(dir, 'stella.config.yaml'),
        cwd: dir,
        env: { STELLA_NODE_NAME: 'node-1', STELLA_PROMETHEUS_HOST: '10.0.0.7' },
      });
      const agent = config.runtimeAgent;
      expect(agent.nodeName).toBe('node-1');
      expect(agent.telemetry.prometheus).toEqual({ enabled: true, host: '10.0.0.7', port: 9464 });
      expect(agent.telemetry.otlp.endpoint).toBe('http://stella-otel-collector.stella.svc:4317');
      expect(agent.buffer.maxBytes).toBe(64 * 1024 * 1024);
      expect(agent.functionMaps).toEqual(['/etc/stella/maps/payments.function-map.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deploys the collector with its pipeline (in sync with otel-collector/collector.yaml) and RBAC for k8sattributes', () => {
    const [cm] = kind(docs('otel-collector-config.yaml'), 'ConfigMap');
    expect(cm?.data['collector.yaml']).toBe(readFileSync(join(repo, 'otel-collector/collector.yaml'), 'utf8'));
    const all = docs('otel-collector.yaml');
    const [deployment] = kind(all, 'Deployment');
    const spec = deployment?.spec.template.spec;
    const [container] = spec.containers;
    expect(container.image).toMatch(/opentelemetry-collector-contrib:/);
    expect(spec.volumes[0].configMap.name).toBe(cm?.metadata.name);
    // Every ${env:X} the pipeline uses is set on the container.
    const used = [...String(cm?.data['collector.yaml']).matchAll(/\$\{env:([A-Z_]+)\}/g)].map((m) => m[1]);
    const set = container.env.map((e: Obj) => e.name);
    for (const name of new Set(used)) expect(set, `env ${name}`).toContain(name);
    const [service] = kind(all, 'Service');
    expect(service?.metadata.name).toBe('stella-otel-collector');
    expect(service?.spec.ports.find((p: Obj) => p.name === 'otlp-grpc')?.port).toBe(4317);
    const [role] = kind(all, 'ClusterRole');
    expect(role?.rules.flatMap((r: Obj) => r.resources)).toEqual(
      expect.arrayContaining(['pods', 'namespaces', 'replicasets']),
    );
    expect(kind(all, 'ClusterRoleBinding')[0]?.subjects[0].name).toBe(kind(all, 'ServiceAccount')[0]?.metadata.name);
  });

  it('keeps the PrometheusRule in sync with the shipped rules, and the kustomization complete', () => {
    const [rule] = kind(docs('prometheus-rule.yaml'), 'PrometheusRule');
    expect(rule?.spec).toEqual(parse(readFileSync(join(repo, 'otel-collector/rules/stella-alerts.yaml'), 'utf8')));
    // The generator reproduces the checked-in files byte for byte.
    const before = ['otel-collector-config.yaml', 'prometheus-rule.yaml'].map((f) =>
      readFileSync(join(k8s, f), 'utf8'),
    );
    const run = spawnSync(process.execPath, [join(repo, 'deploy/scripts/sync-manifests.mjs')], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const after = ['otel-collector-config.yaml', 'prometheus-rule.yaml'].map((f) => readFileSync(join(k8s, f), 'utf8'));
    expect(after).toEqual(before);
    const [kustomization] = docs('kustomization.yaml');
    for (const file of kustomization?.resources ?? []) expect(() => docs(file)).not.toThrow();
    expect(kustomization?.resources).toEqual(
      expect.arrayContaining(['daemonset.yaml', 'otel-collector.yaml', 'agent-config.yaml']),
    );
  });

  it('has an image recipe for the agent', () => {
    const dockerfile = readFileSync(join(repo, 'deploy/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-bookworm AS build$/m);
    expect(dockerfile).toMatch(/bookworm-backports libbpf1/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/opt\/stella\/core\/bin\/stella-runtime-agent\.js"\]/);
    // The image starts node itself, so the shebang's arena limit must be repeated here.
    expect(dockerfile).toMatch(/^ENV MALLOC_ARENA_MAX=2$/m);
    expect(readFileSync(join(repo, 'core/bin/stella-runtime-agent.js'), 'utf8')).toMatch(
      /^#!\/usr\/bin\/env -S MALLOC_ARENA_MAX=2 node$/m,
    );
  });
});

describe('otel-collector/collector.yaml', () => {
  const config = parse(readFileSync(join(repo, 'otel-collector/collector.yaml'), 'utf8')) as Obj;

  it('wires only defined components into its pipelines', () => {
    for (const [name, pipeline] of Object.entries(config.service.pipelines as Record<string, Obj>)) {
      for (const section of ['receivers', 'processors', 'exporters']) {
        for (const component of pipeline[section])
          expect(Object.keys(config[section]), `${name}.${section}`).toContain(component);
      }
      expect(pipeline.processors[0], `${name}: memory_limiter first`).toBe('memory_limiter');
      expect(pipeline.processors.at(-1), `${name}: batch last`).toBe('batch');
    }
    for (const ext of config.service.extensions) expect(Object.keys(config.extensions)).toContain(ext);
    expect(config.service.pipelines.metrics.exporters).toEqual(['prometheusremotewrite']);
    expect(config.service.pipelines.traces.exporters).toEqual(['otlp/backend']);
    expect(config.receivers.otlp.protocols.grpc.endpoint).toMatch(/:4317$/);
  });

  it('writes series under the agent’s Prometheus names', () => {
    expect(config.exporters.prometheusremotewrite.namespace).toBe('stella');
    expect(config.exporters.prometheusremotewrite.add_metric_suffixes).toBe(true);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(
    readFileSync(join(repo, 'otel-collector/dashboards/stella-runtime-linkage.json'), 'utf8'),
  ) as Obj;

  it('is a dashboard with unique panel ids, panels inside the 24-column grid and not overlapping', () => {
    expect(dashboard.uid).toBe('stella-runtime-linkage');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((p: Obj) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const boxes = dashboard.panels.map((p: Obj) => p.gridPos);
    for (const b of boxes) expect(b.x + b.w).toBeLessThanOrEqual(24);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${dashboard.panels[i].title} / ${dashboard.panels[j].title}`).toBe(false);
      }
    }
  });

  it('shows every documented metric, through the datasource and service variables', () => {
    const exprs = dashboard.panels.flatMap((p: Obj) => (p.targets ?? []).map((t: Obj) => t.expr as string)).join('\n');
    for (const metric of [
      'stella_observation_rate',
      'stella_unexpected_symbols_count',
      'stella_probe_attach_failures',
      'stella_probe_attach_failure_rate',
      'stella_observation_buffer_full',
      'stella_observations_total',
      'stella_observations_dropped_total',
      'stella_crypto_algorithm_calls_total',
    ]) {
      expect(exprs).toMatch(new RegExp(`\\b${metric}\\b`));
    }
    const variables = dashboard.templating.list.map((v: Obj) => v.name);
    expect(variables).toEqual(['datasource', 'service']);
    for (const p of dashboard.panels.filter((x: Obj) => x.type !== 'row'))
      expect(p.datasource.uid, p.title).toBe(DATASOURCE_VARIABLE);
    const coverage = dashboard.panels.find((p: Obj) => p.title === 'Fleet coverage per service (overall)');
    expect(coverage.fieldConfig.defaults.thresholds.steps.map((s: Obj) => s.value)).toEqual([null, 0.5, 0.8]);
    // The fleet rate (what the alerts compare) and the per-node detail are separate panels.
    expect(coverage.targets[0].expr).toMatch(/^service_tag:stella_observation_rate:fleet\{/);
    const perNode = dashboard.panels.find((p: Obj) => p.title === 'Coverage per node (overall)');
    expect(perNode.targets[0].expr).toMatch(/^stella_observation_rate\{/);
    expect(perNode.targets[0].legendFormat).toContain('{{instance}}');
    expect(exprs).toMatch(/\bstella_path_observed\b/);
  });
});

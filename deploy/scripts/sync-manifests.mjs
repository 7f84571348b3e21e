#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Copies otel-collector/collector.yaml and otel-collector/rules/stella-alerts.yaml into the
// Kubernetes objects that carry them (deploy/kubernetes/otel-collector-config.yaml,
// deploy/kubernetes/prometheus-rule.yaml), so there is one source of truth. The deploy test fails
// when they drift: run `node deploy/scripts/sync-manifests.mjs` after editing either source.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p) => readFileSync(join(root, p), 'utf8');
const header = (source) =>
  `# SPDX-License-Identifier: Apache-2.0\n# GENERATED from ${source} by deploy/scripts/sync-manifests.mjs: edit the source, then rerun it.\n`;

const labels = {
  'app.kubernetes.io/name': 'stella-otel-collector',
  'app.kubernetes.io/part-of': 'stella-runtime-linkage',
};
const configMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'stella-otel-collector-config', namespace: 'stella', labels },
  data: { 'collector.yaml': read('otel-collector/collector.yaml') },
};
writeFileSync(
  join(root, 'deploy/kubernetes/otel-collector-config.yaml'),
  header('otel-collector/collector.yaml') + stringify(configMap, { lineWidth: 0 }),
);

const rules = parse(read('otel-collector/rules/stella-alerts.yaml'));
const prometheusRule = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: {
    name: 'stella-alerts',
    namespace: 'stella',
    labels: { 'app.kubernetes.io/part-of': 'stella-runtime-linkage', role: 'alert-rules' },
  },
  spec: rules,
};
writeFileSync(
  join(root, 'deploy/kubernetes/prometheus-rule.yaml'),
  header('otel-collector/rules/stella-alerts.yaml') + stringify(prometheusRule, { lineWidth: 0 }),
);

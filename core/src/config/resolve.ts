// SPDX-License-Identifier: Apache-2.0
/** Defaults (docs/OPERATIONS.md "Limits and tuning") and the snake_case → camelCase mapping. */

import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SENSITIVE_PATHS } from '@stella/probes-file';
import type { ProbeTuning, StoreSettings, TargetSpec } from '@stella/sdk';
import { parseDurationMs } from '../time.js';
import { parseByteSize } from './byte-size.js';
import { isPluginObject } from './semantic.js';
import type { PluginModuleSpec, ResolvedConfig, UserConfig, UserTargetSpec } from './types.js';

const MIB = 1024 * 1024;

/** Prefixes the file probes watch unless `probes.sensitive_paths` says otherwise (the plugin's list). */
export { DEFAULT_SENSITIVE_PATHS };

/**
 * Applies every default. `userConfig` must already be valid (`validateUserConfig`).
 * Relative function map paths resolve against `configDir`.
 */
export function resolveConfig(
  userConfig: UserConfig,
  options: { configDir: string; env?: Readonly<Record<string, string | undefined>> },
): ResolvedConfig {
  const env = options.env ?? process.env;
  const agent = userConfig.runtime_agent ?? {};
  const store = agent.observation_store ?? {};
  const postgres = store.postgres ?? {};
  const valkey = store.valkey ?? {};
  const probes = agent.probes ?? {};
  const exportSettings = agent.export ?? {};
  const telemetry = agent.telemetry ?? {};
  const prometheus = telemetry.prometheus ?? {};
  const otlp = telemetry.otlp ?? {};
  return {
    runtimeAgent: {
      nodeName: agent.node_name ?? (env.NODE_NAME || os.hostname()),
      functionMaps: (agent.function_maps ?? []).map((p) => path.resolve(options.configDir, p)),
      targets: (agent.targets ?? []).map(resolveTarget),
      learning: (agent.learning ?? []).map((l) => ({
        service: l.service,
        // Validated before resolving: a duration of at least 1 ms.
        windowMs: parseDurationMs(l.window) ?? 0,
        output: path.resolve(options.configDir, l.output),
        dropUnobserved: l.drop_unobserved ?? false,
        acceptUnexpected: l.accept_unexpected ?? false,
      })),
      observationStore: {
        type: store.type ?? 'memory',
        retentionHours: store.retention_hours ?? 72,
        maxBatchSize: store.max_batch_size ?? 1000,
        postgres: {
          ...pick({ url: postgres.url, host: postgres.host, user: postgres.user, password: postgres.password }),
          ...pick({ database: postgres.database }),
          port: postgres.port ?? 5432,
          schema: postgres.schema ?? 'stella',
          ssl: postgres.ssl ?? false,
        },
        valkey: {
          ...pick({ url: valkey.url, password: valkey.password }),
          host: valkey.host ?? '127.0.0.1',
          port: valkey.port ?? 6379,
          db: valkey.db ?? 0,
          keyPrefix: valkey.key_prefix ?? 'stella:',
          ...pick({ clusterNodes: valkey.cluster_nodes, waitReplicas: valkey.wait_replicas }),
        },
      },
      probes: {
        maxConcurrent: probes.max_concurrent ?? 256,
        attachTimeoutMs: probes.attach_timeout_ms ?? 5000,
        defaultTypes: probes.default_types ?? ['uprobe', 'kprobe'],
        samplingRate: probes.sampling_rate ?? 1.0,
        sensitivePaths: probes.sensitive_paths ?? [...DEFAULT_SENSITIVE_PATHS],
        ...(probes.mode ? { mode: probes.mode } : {}),
        modes: { ...(probes.modes ?? {}) },
      },
      export: {
        format: exportSettings.format ?? 'ndjson',
        flushIntervalMs: exportSettings.flush_interval_ms ?? 5000,
        outputPath: exportSettings.output_path ?? '/var/stella/observations/',
        aggregationWindowMs: exportSettings.aggregation_window_ms ?? 0,
        rotateBytes: parseByteSize(exportSettings.rotate_bytes ?? 64 * MIB) ?? 64 * MIB,
        rotateIntervalMs: exportSettings.rotate_interval_ms ?? 3_600_000,
        compressRotated: exportSettings.compress_rotated ?? true,
        retentionHours: exportSettings.retention_hours ?? 72,
      },
      buffer: { maxBytes: parseByteSize(agent.buffer?.max_bytes ?? 64 * MIB) ?? 64 * MIB },
      telemetry: {
        prometheus: {
          enabled: prometheus.enabled ?? true,
          host: prometheus.host ?? '127.0.0.1',
          port: prometheus.port ?? 9464,
        },
        otlp: {
          ...pick({ endpoint: otlp.endpoint }),
          metrics: otlp.metrics ?? true,
          traces: otlp.traces ?? true,
          spanSamplingRatio: otlp.span_sampling_ratio ?? 1.0,
          headers: { ...(otlp.headers ?? {}) },
          exportIntervalMs: otlp.export_interval_ms ?? 10_000,
        },
        verifyIntervalMs: telemetry.verify_interval_ms ?? 15_000,
      },
      log: { level: agent.log?.level ?? 'info', format: agent.log?.format ?? 'text' },
    },
    plugins: userConfig.plugins?.map((spec) =>
      isPluginObject(spec)
        ? spec
        : typeof spec === 'string'
          ? { module: spec, options: {} }
          : { module: (spec as PluginModuleSpec).module, options: { ...((spec as PluginModuleSpec).options ?? {}) } },
    ),
    configDir: options.configDir,
  };
}

function resolveTarget(target: UserTargetSpec): TargetSpec {
  return {
    service: target.service,
    ...pick({
      executables: target.executables,
      cgroups: target.cgroups,
      containerIds: target.container_ids,
      pids: target.pids,
    }),
    allProcesses: target.all_processes ?? false,
  };
}

/** Drops undefined members, so optional keys are absent rather than `undefined`. */
function pick<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The overhead controls every probe plugin receives (`PluginContext.tuning`). */
export function probeTuningOf(config: ResolvedConfig): ProbeTuning {
  const { probes, export: exportSettings } = config.runtimeAgent;
  return {
    samplingRate: probes.samplingRate,
    aggregationWindowMs: exportSettings.aggregationWindowMs,
    maxConcurrent: probes.maxConcurrent,
    attachTimeoutMs: probes.attachTimeoutMs,
    defaultTypes: [...probes.defaultTypes],
    sensitivePaths: [...probes.sensitivePaths],
    ...(probes.mode ? { countMode: probes.mode } : {}),
    countModes: { ...probes.modes },
    presenceWindowMs:
      exportSettings.aggregationWindowMs > 0
        ? exportSettings.aggregationWindowMs
        : config.runtimeAgent.telemetry.verifyIntervalMs,
  };
}

/** What `StorePlugin.create` receives: retention, batch size, and the connection block of the chosen type. */
export function storeSettingsOf(config: ResolvedConfig): StoreSettings {
  const store = config.runtimeAgent.observationStore;
  const connection: Record<string, unknown> =
    store.type === 'postgres' ? { ...store.postgres } : store.type === 'valkey' ? { ...store.valkey } : {};
  return { ...connection, retentionHours: store.retentionHours, maxBatchSize: store.maxBatchSize };
}

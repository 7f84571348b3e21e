// SPDX-License-Identifier: Apache-2.0
/**
 * Environment overrides, applied over the file before validation (a DaemonSet sets these from its
 * pod spec). Empty values count as unset.
 *
 * | variable | key |
 * |---|---|
 * | `STELLA_NODE_NAME` | `runtime_agent.node_name` |
 * | `STELLA_OBSERVATION_STORE_TYPE` | `runtime_agent.observation_store.type` |
 * | `STELLA_POSTGRES_URL` | `runtime_agent.observation_store.postgres.url` |
 * | `STELLA_VALKEY_URL` | `runtime_agent.observation_store.valkey.url` |
 * | `STELLA_OUTPUT_PATH` | `runtime_agent.export.output_path` |
 * | `STELLA_FUNCTION_MAPS` | `runtime_agent.function_maps` (comma-separated, relative to the working directory) |
 * | `STELLA_PROMETHEUS_HOST` / `STELLA_PROMETHEUS_PORT` | `runtime_agent.telemetry.prometheus.host` / `.port` |
 * | `STELLA_OTLP_ENDPOINT` | `runtime_agent.telemetry.otlp.endpoint` |
 * | `STELLA_SAMPLING_RATE` | `runtime_agent.probes.sampling_rate` |
 * | `STELLA_LOG_LEVEL` | `runtime_agent.log.level` |
 * | `STELLA__A__B__C` | any key by path, `__` between levels: `STELLA__RUNTIME_AGENT__PROBES__MAX_CONCURRENT=64` |
 *
 * Values are converted by the key's schema type (numbers, `true`/`false`, comma-separated lists);
 * a value that does not convert stays a string, so validation reports it under `env STELLA_…`.
 */
import path from 'node:path';
import { formatKeyPath, isPlainObject } from './key-path.js';
import { schemaAt } from './schema.js';

const NAMED: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['STELLA_NODE_NAME', ['runtime_agent', 'node_name']],
  ['STELLA_OBSERVATION_STORE_TYPE', ['runtime_agent', 'observation_store', 'type']],
  ['STELLA_POSTGRES_URL', ['runtime_agent', 'observation_store', 'postgres', 'url']],
  ['STELLA_VALKEY_URL', ['runtime_agent', 'observation_store', 'valkey', 'url']],
  ['STELLA_OUTPUT_PATH', ['runtime_agent', 'export', 'output_path']],
  ['STELLA_FUNCTION_MAPS', ['runtime_agent', 'function_maps']],
  ['STELLA_PROMETHEUS_PORT', ['runtime_agent', 'telemetry', 'prometheus', 'port']],
  ['STELLA_PROMETHEUS_HOST', ['runtime_agent', 'telemetry', 'prometheus', 'host']],
  ['STELLA_OTLP_ENDPOINT', ['runtime_agent', 'telemetry', 'otlp', 'endpoint']],
  ['STELLA_SAMPLING_RATE', ['runtime_agent', 'probes', 'sampling_rate']],
  ['STELLA_LOG_LEVEL', ['runtime_agent', 'log', 'level']],
];

/** The environment variables `loadConfig` reads, for `--help` and docs. */
export const CONFIG_ENV_VARIABLES: readonly string[] = [...NAMED.map(([name]) => name), 'STELLA__<KEY>__<PATH>'];

export interface EnvOverrides {
  /** The config with overrides applied (a copy; the input is not modified). */
  config: Record<string, unknown>;
  /** Formatted key path → the variable that set it, so problems there are reported as `env STELLA_…`. */
  origins: Map<string, string>;
}

export function applyEnvOverrides(
  config: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): EnvOverrides {
  const out = structuredCloneLoose(config);
  const origins = new Map<string, string>();
  const set = (name: string, keyPath: readonly string[], raw: string) => {
    let value = coerce(raw, keyPath);
    if (name === 'STELLA_FUNCTION_MAPS' && Array.isArray(value)) {
      value = value.map((p) => (typeof p === 'string' ? path.resolve(cwd, p) : p));
    }
    if (setPath(out, keyPath, value)) origins.set(formatKeyPath(keyPath), name);
  };
  // Generic first, so a named variable wins when both set the same key.
  for (const [name, raw] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith('STELLA__') || !raw) continue;
    const keyPath = name.slice('STELLA__'.length).toLowerCase().split('__').filter(Boolean);
    if (keyPath.length > 0) set(name, keyPath, raw);
  }
  for (const [name, keyPath] of NAMED) {
    const raw = env[name];
    if (raw) set(name, keyPath, raw);
  }
  return { config: out, origins };
}

function coerce(raw: string, keyPath: readonly string[]): unknown {
  const schema = schemaAt(keyPath);
  const types = schema ? (Array.isArray(schema.type) ? schema.type : [schema.type]) : ['string'];
  if (types.includes('array')) {
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return items.map((item) => coerce(item, [...keyPath, '0']));
  }
  const trimmed = raw.trim();
  if ((types.includes('integer') || types.includes('number')) && trimmed !== '' && Number.isFinite(Number(trimmed))) {
    return Number(trimmed);
  }
  if (types.includes('boolean')) {
    if (/^(true|1|yes|on)$/i.test(trimmed)) return true;
    if (/^(false|0|no|off)$/i.test(trimmed)) return false;
  }
  return raw;
}

/** Sets a nested key, creating mappings on the way; false when a non-mapping is in the way (the file's error stands). */
function setPath(target: Record<string, unknown>, keyPath: readonly string[], value: unknown): boolean {
  let node = target;
  for (const segment of keyPath.slice(0, -1)) {
    const next = node[segment];
    if (next === undefined || next === null) node[segment] = {};
    else if (!isPlainObject(next)) return false;
    node = node[segment] as Record<string, unknown>;
  }
  node[keyPath[keyPath.length - 1]!] = value;
  return true;
}

/** Deep copy of plain data; plugin objects and functions (from stella.config.ts) are kept by reference. */
function structuredCloneLoose<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => structuredCloneLoose(v)) as T;
  if (isPlainObject(value) && Object.getPrototypeOf(value) === Object.prototype && !('kind' in value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structuredCloneLoose(v)])) as T;
  }
  return value;
}

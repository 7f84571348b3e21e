// SPDX-License-Identifier: Apache-2.0
/**
 * Checks the JSON Schema cannot express. Each runs only where the schema already accepted the
 * value's type, so one mistake is reported once.
 */

import { normalize } from 'node:path';
import { isProbePlugin, isStorePlugin, type StellaPlugin } from '@stella/sdk';
import { parseDurationMs } from '../time.js';
import { parseByteSize } from './byte-size.js';
import { isPlainObject, type KeySegment } from './key-path.js';
import { type RawProblem, showValue } from './problems.js';

/** Smallest observation buffer: one page, a few dozen ~100-byte records. */
const MIN_BUFFER_BYTES = 4096;

export function semanticProblems(config: Record<string, unknown>): RawProblem[] {
  const problems: RawProblem[] = [];
  const agent = config.runtime_agent;
  if (isPlainObject(agent)) checkAgent(agent, problems);
  return problems;
}

function checkAgent(agent: Record<string, unknown>, problems: RawProblem[]): void {
  const at = (...segments: KeySegment[]): KeySegment[] => ['runtime_agent', ...segments];

  if (Array.isArray(agent.targets)) {
    agent.targets.forEach((target, index) => {
      if (!isPlainObject(target)) return;
      const selects =
        target.all_processes === true ||
        ['executables', 'cgroups', 'container_ids', 'pids'].some(
          (k) => Array.isArray(target[k]) && (target[k] as unknown[]).length > 0,
        );
      if (!selects) {
        problems.push({
          segments: at('targets', index),
          message:
            'selects no process: give at least one of executables, cgroups, container_ids, pids, or all_processes: true',
        });
      }
    });
  }

  if (Array.isArray(agent.learning)) checkLearning(agent, problems);

  const store = agent.observation_store;
  if (isPlainObject(store)) {
    const postgres = isPlainObject(store.postgres) ? store.postgres : {};
    if (store.type === 'postgres' && postgres.url === undefined && postgres.host === undefined) {
      problems.push({
        segments: at('observation_store', 'postgres'),
        message: 'the postgres store needs url (or STELLA_POSTGRES_URL) or host',
      });
    }
    checkUrl(postgres.url, at('observation_store', 'postgres', 'url'), problems);
    if (isPlainObject(store.valkey)) {
      const valkey = store.valkey;
      checkUrl(valkey.url, at('observation_store', 'valkey', 'url'), problems);
      // A cluster has only database 0 and its nodes come from cluster_nodes: a url or db beside them
      // would be silently ignored, so it is refused.
      if (Array.isArray(valkey.cluster_nodes)) {
        for (const key of ['url', 'db'] as const) {
          if (valkey[key] !== undefined && !(key === 'db' && valkey[key] === 0))
            problems.push({
              segments: at('observation_store', 'valkey', key),
              message: `is not used with cluster_nodes (a Valkey Cluster has database 0 and is reached through its nodes): remove it`,
            });
        }
      }
    }
  }

  const telemetry = agent.telemetry;
  if (isPlainObject(telemetry) && isPlainObject(telemetry.otlp)) {
    checkUrl(telemetry.otlp.endpoint, at('telemetry', 'otlp', 'endpoint'), problems);
  }

  checkSize(agent.buffer, 'max_bytes', at('buffer', 'max_bytes'), MIN_BUFFER_BYTES, problems);
  checkSize(agent.export, 'rotate_bytes', at('export', 'rotate_bytes'), 1, problems);
}

/**
 * A learning entry: a window of at least a second, one entry per service, and an output that is
 * neither a map the agent reads nor another entry's output (relative paths compared as written:
 * both resolve against the config file's directory).
 */
function checkLearning(agent: Record<string, unknown>, problems: RawProblem[]): void {
  const maps = new Set(
    (Array.isArray(agent.function_maps) ? agent.function_maps : [])
      .filter((m): m is string => typeof m === 'string')
      .map((m) => normalize(m)),
  );
  const services = new Map<string, number>();
  const outputs = new Map<string, number>();
  (agent.learning as unknown[]).forEach((entry, index) => {
    if (!isPlainObject(entry)) return;
    const at = (key: string): KeySegment[] => ['runtime_agent', 'learning', index, key];
    if (typeof entry.window === 'string') {
      const ms = parseDurationMs(entry.window);
      if (ms !== undefined && ms < 1000)
        problems.push({
          segments: at('window'),
          message: `must be at least 1s, got ${showValue(entry.window, at('window'))}`,
        });
    }
    if (typeof entry.service === 'string') {
      const first = services.get(entry.service);
      if (first !== undefined)
        problems.push({
          segments: at('service'),
          message: `learns "${entry.service}" again: runtime_agent.learning[${first}] already does; one entry per service`,
        });
      else services.set(entry.service, index);
    }
    if (typeof entry.output === 'string' && entry.output.length > 0) {
      const out = normalize(entry.output);
      if (maps.has(out))
        problems.push({
          segments: at('output'),
          message: `is one of runtime_agent.function_maps: the refined map is written beside the map it refines, never over it`,
        });
      const first = outputs.get(out);
      if (first !== undefined)
        problems.push({
          segments: at('output'),
          message: `is also runtime_agent.learning[${first}].output: each service's refined map needs its own file`,
        });
      else outputs.set(out, index);
    }
  });
}

const wellEncoded = (url: string) => !/%(?![0-9a-f]{2})/i.test(url);

/** URLs the schema's prefix pattern accepted must also parse (host present, port numeric). */
function checkUrl(value: unknown, segments: KeySegment[], problems: RawProblem[]): void {
  if (typeof value !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return;
  let host = '';
  try {
    host = new URL(value).hostname;
  } catch {
    // fall through: reported below
  }
  if (!host) problems.push({ segments, message: `must be a URL with a host, got ${showValue(value, segments)}` });
  else if (!wellEncoded(value)) {
    // Drivers decode the URL themselves (pg: decodeURI) and throw a bare URIError on a stray `%`.
    problems.push({
      segments,
      message: `has a "%" that does not start a %XX escape (write %25 for a literal percent sign), got ${showValue(value, segments)}`,
    });
  }
}

function checkSize(section: unknown, key: string, segments: KeySegment[], min: number, problems: RawProblem[]): void {
  if (!isPlainObject(section) || section[key] === undefined) return;
  const value = section[key];
  if (typeof value !== 'string' && typeof value !== 'number') return; // the schema reported it
  const bytes = parseByteSize(value);
  if (bytes === undefined) return; // pattern/type mismatch already reported
  if (bytes < min) {
    problems.push({
      segments,
      message: `must be at least ${min} bytes${min >= 1024 ? ` (${min / 1024} KiB)` : ''}, got ${showValue(value, segments)}`,
    });
  }
}

/**
 * `plugins` entries that are plugin objects (from `stella.config.ts`) are not JSON: they are checked
 * here and replaced by a placeholder before the schema sees the list.
 */
export function splitPluginObjects(config: Record<string, unknown>): {
  forSchema: Record<string, unknown>;
  problems: RawProblem[];
} {
  if (!Array.isArray(config.plugins)) return { forSchema: config, problems: [] };
  const problems: RawProblem[] = [];
  const plugins = config.plugins.map((entry, index) => {
    if (!isPlainObject(entry) || !('kind' in entry || typeof entry.start === 'function')) return entry;
    if (isProbePlugin(entry) || isStorePlugin(entry)) return { module: '(plugin object)' };
    problems.push({
      segments: ['plugins', index],
      message:
        'must be a plugin object from defineProbePlugin/defineStorePlugin, a module specifier, or {module, options}',
    });
    return { module: '(invalid plugin object)' };
  });
  return { forSchema: { ...config, plugins }, problems };
}

export function isPluginObject(value: unknown): value is StellaPlugin {
  return isProbePlugin(value) || isStorePlugin(value);
}

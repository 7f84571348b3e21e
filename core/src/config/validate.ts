// SPDX-License-Identifier: Apache-2.0
/** The one validator: JSON Schema + semantic checks, every problem at once, as a `ConfigError`. */
import { ConfigError } from '../errors.js';
import { isPlainObject } from './key-path.js';
import { type ConfigProblem, finishProblems, type RawProblem } from './problems.js';
import { schemaProblems } from './schema.js';
import { semanticProblems, splitPluginObjects } from './semantic.js';
import type { UserConfig } from './types.js';

export interface ValidateOptions {
  /** Key path → environment variable that set it (from `applyEnvOverrides`). */
  envOrigins?: ReadonlyMap<string, string>;
}

/** Every problem of a user config (file content with env overrides applied); empty when valid. */
export function collectConfigProblems(raw: unknown, options: ValidateOptions = {}): ConfigProblem[] {
  const config = normalizeUserConfig(raw);
  const problems: RawProblem[] = [];
  if (!isPlainObject(config)) {
    problems.push({ segments: [], message: `must be a mapping of settings, got ${describeRoot(config)}` });
  } else {
    const { forSchema, problems: pluginProblems } = splitPluginObjects(config);
    problems.push(...schemaProblems(forSchema), ...pluginProblems, ...semanticProblems(config));
  }
  return finishProblems(problems, options.envOrigins ?? new Map());
}

/** Validates and returns the config typed; throws `ConfigError` listing every problem. */
export function validateUserConfig(raw: unknown, options: ValidateOptions & { source: string }): UserConfig {
  const problems = collectConfigProblems(raw, options);
  if (problems.length > 0) throw new ConfigError(options.source, problems);
  return normalizeUserConfig(raw) as UserConfig;
}

/**
 * An empty file is no settings; a key left empty in YAML (`telemetry:` with everything commented
 * out) is null, read as "not set" rather than as an error.
 */
export function normalizeUserConfig(raw: unknown): unknown {
  if (raw === undefined || raw === null) return {};
  return withoutNulls(raw);
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (isPlainObject(value) && Object.getPrototypeOf(value) === Object.prototype && !('kind' in value)) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

function describeRoot(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string' ? 'a string' : String(value);
}

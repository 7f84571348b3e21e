// SPDX-License-Identifier: Apache-2.0
/**
 * Finds and reads the agent configuration (cosmiconfig, module name `stella`), applies environment
 * overrides (see env.ts), validates, and fills in defaults.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { cosmiconfig, type Loader } from 'cosmiconfig';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { applyEnvOverrides } from './env.js';
import { isPlainObject } from './key-path.js';
import { resolveConfig } from './resolve.js';
import type { ResolvedConfig, UserConfig } from './types.js';
import { normalizeUserConfig, validateUserConfig } from './validate.js';

export const CONFIG_MODULE_NAME = 'stella';

/** Where cosmiconfig looks, in order, in the working directory and up to the nearest package.json. */
export const CONFIG_SEARCH_PLACES: readonly string[] = [
  'package.json',
  '.stellarc',
  '.stellarc.json',
  '.stellarc.yaml',
  '.stellarc.yml',
  '.stellarc.js',
  '.stellarc.ts',
  '.stellarc.mjs',
  '.stellarc.cjs',
  'stella.config.ts',
  'stella.config.mts',
  'stella.config.js',
  'stella.config.mjs',
  'stella.config.cjs',
  'stella.config.json',
  'stella.config.yaml',
  'stella.config.yml',
];

/** The `source` of a configuration made only of defaults and environment variables. */
export const DEFAULTS_SOURCE = '(defaults)';

export interface LoadConfigOptions {
  /** `--config F`: load exactly this file (any supported extension, or a package.json). */
  configPath?: string;
  /** Where to search when no path is given; also the base of `STELLA_FUNCTION_MAPS`. Default `process.cwd()`. */
  cwd?: string;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface LoadedConfig {
  config: ResolvedConfig;
  /** Absolute path of the file read, or `"(defaults)"`. */
  source: string;
  /** What the file said, with environment overrides applied and empty keys dropped. */
  userConfig: UserConfig;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const { raw, source } = await readConfigFile(options.configPath, cwd);
  const normalized = normalizeUserConfig(raw);
  const base = isPlainObject(normalized) ? normalized : {};
  // A root that is not a mapping is reported by the validator; env overrides need a mapping to land in.
  const { config: withEnv, origins } = isPlainObject(normalized)
    ? applyEnvOverrides(base, env, cwd)
    : { config: normalized as Record<string, unknown>, origins: new Map<string, string>() };
  const userConfig = validateUserConfig(withEnv, { source, envOrigins: origins });
  const configDir = source === DEFAULTS_SOURCE ? cwd : path.dirname(source);
  return { config: resolveConfig(userConfig, { configDir, env }), source, userConfig };
}

async function readConfigFile(configPath: string | undefined, cwd: string): Promise<{ raw: unknown; source: string }> {
  const explorer = cosmiconfig(CONFIG_MODULE_NAME, {
    searchPlaces: [...CONFIG_SEARCH_PLACES],
    searchStrategy: 'project',
    loaders: LOADERS,
    cache: false,
  });
  if (configPath) {
    const file = path.resolve(cwd, configPath);
    if (!existsSync(file)) throw new ConfigError(file, [{ path: '--config', message: 'file does not exist' }]);
    if (!statSync(file).isFile()) throw new ConfigError(file, [{ path: '--config', message: 'is not a file' }]);
    const result = await explore(() => explorer.load(file), file);
    if (path.basename(file) === 'package.json' && result === null) {
      throw new ConfigError(file, [{ path: CONFIG_MODULE_NAME, message: 'package.json has no "stella" key' }]);
    }
    return { raw: result?.config, source: file };
  }
  const result = await explore(() => explorer.search(cwd), cwd);
  if (!result) return { raw: undefined, source: DEFAULTS_SOURCE };
  return { raw: result.config, source: result.filepath };
}

/** How long a config module (stella.config.ts may await anything) gets to settle. */
export const CONFIG_LOAD_TIMEOUT_MS = 10_000;

async function explore<T>(run: () => Promise<T>, fallbackSource: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // A module whose export never settles would otherwise leave Node with nothing to wait for: it
  // exits 13 ("unsettled top-level await") without a word. The timer keeps it alive and says why.
  const ms = Number(process.env.STELLA_CONFIG_TIMEOUT_MS) || CONFIG_LOAD_TIMEOUT_MS;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const message = `did not finish loading within ${ms / 1000} s (a promise in it never settles?)`;
      reject(new ConfigError(fallbackSource, [{ path: '(file)', message }]));
    }, ms);
  });
  try {
    return await Promise.race([run(), timeout]);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const file = (error as { filepath?: string }).filepath ?? fallbackSource;
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(file, [{ path: '(file)', message: `cannot be loaded: ${message}` }]);
  } finally {
    clearTimeout(timer);
  }
}

/** YAML (a superset of JSON) for data files: errors carry line and column, never the line's text. */
const loadData: Loader = (filepath, content) => {
  const doc = parseDocument(content, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      filepath,
      doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(file)',
        message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
      })),
    );
  }
  return doc.toJS();
};

/**
 * TypeScript and JavaScript configs through jiti (works on Node 20 without a loader flag). The
 * default export may be the config, a promise of it, or a function returning either.
 */
const loadModule: Loader = async (filepath) => {
  // Loaded on first use: a YAML or JSON config (every agent in the runbook) never needs it.
  const { createJiti } = await import('jiti');
  const jiti = createJiti(filepath, { fsCache: false, moduleCache: false, interopDefault: true });
  let value: unknown;
  try {
    value = await jiti.import(filepath, { default: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(filepath, [{ path: '(module)', message: `failed to load: ${message}` }]);
  }
  if (typeof value === 'function') value = await (value as () => unknown)();
  return await value;
};

const LOADERS: Record<string, Loader> = {
  '.ts': loadModule,
  '.mts': loadModule,
  '.cts': loadModule,
  '.js': loadModule,
  '.mjs': loadModule,
  '.cjs': loadModule,
  '.json': loadData,
  '.yaml': loadData,
  '.yml': loadData,
  noExt: loadData,
};

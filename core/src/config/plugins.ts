// SPDX-License-Identifier: Apache-2.0
/**
 * Turns `plugins` entries into plugin objects. A module that fails to load (throws, missing,
 * exports something else) is reported as a failure; the others load regardless.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StellaPlugin } from '@stella/sdk';
import { isPlainObject } from './key-path.js';
import { isPluginObject } from './semantic.js';
import type { PluginSpec } from './types.js';

export interface PluginLoadFailure {
  /** The specifier as written (`./x.js`), or `plugins[i]` for a bad inline entry. */
  spec: string;
  /** One sentence: `plugin "./x.js" failed to load: <cause>`. */
  error: Error;
}

export interface ResolvedPlugins {
  plugins: StellaPlugin[];
  failures: PluginLoadFailure[];
}

export interface ResolvePluginSpecsOptions {
  /** Directory relative specifiers resolve against (`ResolvedConfig.configDir`). */
  baseDir: string;
  /** The built-in plugins, used when `specs` is undefined (no `plugins` key in the config). */
  builtins: readonly StellaPlugin[] | (() => readonly StellaPlugin[] | Promise<readonly StellaPlugin[]>);
}

export async function resolvePluginSpecs(
  specs: readonly PluginSpec[] | undefined,
  options: ResolvePluginSpecsOptions,
): Promise<ResolvedPlugins> {
  if (specs === undefined) {
    const builtins = typeof options.builtins === 'function' ? await options.builtins() : options.builtins;
    return { plugins: [...builtins], failures: [] };
  }
  const results = await Promise.all(specs.map((spec, index) => resolveOne(spec, index, options.baseDir)));
  const plugins: StellaPlugin[] = [];
  const failures: PluginLoadFailure[] = [];
  for (const result of results) {
    if ('failure' in result) failures.push(result.failure);
    else plugins.push(...result.plugins);
  }
  return { plugins, failures };
}

type OneResult = { plugins: StellaPlugin[] } | { failure: PluginLoadFailure };

async function resolveOne(spec: PluginSpec, index: number, baseDir: string): Promise<OneResult> {
  if (isPluginObject(spec)) return { plugins: [spec] };
  const moduleSpec = typeof spec === 'string' ? { module: spec, options: {} } : spec;
  if (!isPlainObject(moduleSpec) || typeof moduleSpec.module !== 'string') {
    return fail(`plugins[${index}]`, 'is neither a plugin object, a module specifier, nor {module, options}');
  }
  const name = moduleSpec.module;
  let exported: unknown;
  try {
    exported = await importPluginModule(name, baseDir);
  } catch (error) {
    return fail(name, `failed to load: ${firstLine(error)}`, error);
  }
  try {
    const value = typeof exported === 'function' ? await exported(moduleSpec.options ?? {}) : exported;
    const plugins = (Array.isArray(value) ? value : [value]) as unknown[];
    const bad = plugins.findIndex((p) => !isPluginObject(p));
    if (plugins.length === 0 || bad >= 0) {
      return fail(
        name,
        'does not export a plugin: its default export must be a plugin object (defineProbePlugin/defineStorePlugin), a list of them, or a factory returning one',
      );
    }
    return { plugins: plugins as StellaPlugin[] };
  } catch (error) {
    return fail(name, `factory threw: ${firstLine(error)}`, error);
  }
}

/**
 * Relative and absolute specifiers are files next to the config; bare ones are packages resolved
 * from there, then from Stella's own installation (so `@stella/probes-crypto` works from a config
 * in /etc/stella, where no node_modules is).
 */
async function importPluginModule(specifier: string, baseDir: string): Promise<unknown> {
  const isPath = specifier.startsWith('.') || path.isAbsolute(specifier);
  const target = isPath ? path.resolve(baseDir, specifier) : specifier;
  // jiti: TypeScript plugins work too, and bare names resolve from the config's directory. Loaded
  // here, not at start: only a config naming plugin modules needs it.
  const { createJiti } = await import('jiti');
  const jiti = createJiti(pathToFileURL(path.join(baseDir, '_')).href, { fsCache: false, interopDefault: true });
  let namespace: Record<string, unknown> | undefined;
  try {
    namespace = (await jiti.import(target)) as Record<string, unknown> | undefined;
  } catch (error) {
    const notFound =
      (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ||
      /Cannot find (module|package)/.test(String(error));
    if (isPath || !notFound) throw error;
    const own = createJiti(import.meta.url, { fsCache: false, interopDefault: true });
    namespace = (await own.import(target)) as Record<string, unknown> | undefined;
  }
  const value = namespace && 'default' in namespace ? namespace.default : namespace;
  return isPlainObject(value) && !isPluginObject(value) && 'default' in value ? value.default : value;
}

function fail(spec: string, reason: string, cause?: unknown): { failure: PluginLoadFailure } {
  return { failure: { spec, error: new Error(`plugin "${spec}" ${reason}`, { cause }) } };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

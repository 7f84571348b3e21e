// SPDX-License-Identifier: Apache-2.0
import type { ProbePlugin } from './types/probe-plugin.js';
import type { StorePlugin } from './types/store.js';

type ProbePluginInput<TOptions> = Omit<ProbePlugin<TOptions>, 'kind' | 'options'> & {
  /** Defaults merged under the user's options. */
  defaults?: TOptions;
};

/**
 * Declares a probe plugin. A factory in the plugin package usually wraps this so users write
 * `cryptoProbes({ ... })` in `stella.config.ts`:
 *
 * ```ts
 * export const myProbes = (options: Partial<MyOptions> = {}) =>
 *   defineProbePlugin({ name: 'my-probes', categories: ['crypto'], ... }, options);
 * ```
 */
export function defineProbePlugin<TOptions extends object>(
  plugin: ProbePluginInput<TOptions>,
  options: Partial<TOptions> = {},
): ProbePlugin<TOptions> {
  if (!plugin.name) throw new TypeError('defineProbePlugin: "name" is required');
  if (!Array.isArray(plugin.categories) || plugin.categories.length === 0) {
    throw new TypeError(`defineProbePlugin(${plugin.name}): "categories" must list at least one category`);
  }
  const { defaults, ...rest } = plugin;
  return Object.freeze({ ...rest, kind: 'probe' as const, options: { ...(defaults ?? {}), ...options } as TOptions });
}

type StorePluginInput<TOptions> = Omit<StorePlugin<TOptions>, 'kind' | 'options'> & { defaults?: TOptions };

/** Declares an observation store for `observation_store.type`. */
export function defineStorePlugin<TOptions extends object>(
  plugin: StorePluginInput<TOptions>,
  options: Partial<TOptions> = {},
): StorePlugin<TOptions> {
  if (!plugin.type) throw new TypeError('defineStorePlugin: "type" is required');
  const { defaults, ...rest } = plugin;
  return Object.freeze({ ...rest, kind: 'store' as const, options: { ...(defaults ?? {}), ...options } as TOptions });
}

export function isProbePlugin(value: unknown): value is ProbePlugin<unknown> {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'probe';
}

export function isStorePlugin(value: unknown): value is StorePlugin<unknown> {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'store';
}

// SPDX-License-Identifier: Apache-2.0
import {
  type CatalogueEntry,
  isProbePlugin,
  isStorePlugin,
  type Logger,
  type StellaPlugin,
  type StorePlugin,
} from '@stella/sdk';
import { resolvePluginSpecs } from '../config/plugins.js';
import type { ResolvedConfig } from '../config/types.js';
import { builtinPlugins } from './builtin.js';

/**
 * The config's `plugins` (or every built-in when it names none). Built-in stores stay available
 * unless a listed plugin serves the same type: listing a third-party probe must not lose `memory`.
 * A plugin that fails to load is logged under its name; the others load regardless.
 */
export async function loadPlugins(config: ResolvedConfig, logger: Logger): Promise<StellaPlugin[]> {
  const { plugins, failures } = await resolvePluginSpecs(config.plugins, {
    baseDir: config.configDir,
    builtins: builtinPlugins,
  });
  for (const failure of failures) logger.error(failure.error.message, { spec: failure.spec });
  const storeTypes = new Set(plugins.filter(isStorePlugin).map((p) => p.type));
  const stores = builtinPlugins().filter((p): p is StorePlugin<unknown> => isStorePlugin(p) && !storeTypes.has(p.type));
  return [...plugins, ...stores];
}

/** Every catalogue the loaded probe plugins carry: what `function-map generate` knows about. */
export function cataloguesOf(plugins: readonly StellaPlugin[]): CatalogueEntry[] {
  return plugins.filter(isProbePlugin).flatMap((p) => p.catalogue);
}

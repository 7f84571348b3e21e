// SPDX-License-Identifier: Apache-2.0
import type { Logger, ObservationStore, StellaPlugin, StorePlugin } from '@stella/sdk';
import { isStorePlugin } from '@stella/sdk';
import { builtinStores, isStoreUnavailableError } from '@stella/stores';
import { resolvePluginSpecs } from '../config/plugins.js';
import { storeSettingsOf } from '../config/resolve.js';
import { assertStoreTypeServed } from '../config/stores.js';
import type { ResolvedConfig } from '../config/types.js';
import { UnavailableError } from '../errors.js';
import { createLogger } from '../logger.js';

export interface OpenConfiguredStoreOptions {
  logger?: Logger;
  /** Plugins already loaded (the agent); default: the config's plugins, else the built-in stores. */
  plugins?: readonly StellaPlugin[];
  /** Where the config came from, for error messages. Default `configuration`. */
  source?: string;
}

/**
 * Opens `runtime_agent.observation_store` of a resolved config, for the CLI (`observations`,
 * `function-map verify`) and the agent. An unreachable server becomes `UnavailableError` (exit 3)
 * naming the store and where it is, never the password.
 */
export async function openConfiguredStore(
  config: ResolvedConfig,
  options: OpenConfiguredStoreOptions = {},
): Promise<ObservationStore> {
  const logger = options.logger ?? createLogger({}, { scope: 'store' });
  const source = options.source ?? 'configuration';
  let plugins = options.plugins;
  if (!plugins) {
    const resolved = await resolvePluginSpecs(config.plugins, { baseDir: config.configDir, builtins: builtinStores() });
    for (const f of resolved.failures) logger.warn(f.error.message, { plugin: f.spec });
    plugins = resolved.plugins;
    // Stores are always available even when a config lists only probe plugins.
    if (!plugins.some(isStorePlugin)) plugins = [...plugins, ...builtinStores()];
  }
  assertStoreTypeServed(config, [...plugins], source);
  const type = config.runtimeAgent.observationStore.type;
  const plugin = plugins.filter(isStorePlugin).find((p) => p.type === type) as StorePlugin<unknown>;
  try {
    return await plugin.create(storeSettingsOf(config), { logger });
  } catch (error) {
    if (isStoreUnavailableError(error))
      throw new UnavailableError(`observation store: ${error.message}`, { cause: error });
    throw error;
  }
}

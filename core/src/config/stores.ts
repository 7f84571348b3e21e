// SPDX-License-Identifier: Apache-2.0
import type { StellaPlugin } from '@stella/sdk';
import { isStorePlugin } from '@stella/sdk';
import { ConfigError } from '../errors.js';
import type { ResolvedConfig } from './types.js';

/**
 * The agent calls this once plugins are loaded: `observation_store.type` must be served by one of
 * them. Throws `ConfigError` naming the types that are available.
 */
export function assertStoreTypeServed(config: ResolvedConfig, plugins: readonly StellaPlugin[], source: string): void {
  const type = config.runtimeAgent.observationStore.type;
  const served = plugins.filter(isStorePlugin).map((p) => p.type);
  if (served.includes(type)) return;
  const available = served.length > 0 ? `one of ${served.map((t) => JSON.stringify(t)).join(', ')}` : 'none loaded';
  throw new ConfigError(source, [
    {
      path: 'runtime_agent.observation_store.type',
      message: `no loaded store plugin serves ${JSON.stringify(type)} (available: ${available}); add the store plugin to plugins or pick an available type`,
    },
  ]);
}

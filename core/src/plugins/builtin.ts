// SPDX-License-Identifier: Apache-2.0
import { cryptoProbes } from '@stella/probes-crypto';
import type { StellaPlugin } from '@stella/sdk';
import { builtinStores } from '@stella/stores';

/** What runs when a config names no `plugins`: every first-party probe plugin and store. */
export function builtinPlugins(): StellaPlugin[] {
  return [cryptoProbes(), ...builtinStores()];
}

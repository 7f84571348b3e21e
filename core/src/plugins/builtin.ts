// SPDX-License-Identifier: Apache-2.0
import { authProbes } from '@stella/probes-auth';
import { cryptoProbes } from '@stella/probes-crypto';
import { fileProbes } from '@stella/probes-file';
import { netProbes } from '@stella/probes-net';
import type { StellaPlugin } from '@stella/sdk';
import { builtinStores } from '@stella/stores';

/** What runs when a config names no `plugins`: every first-party probe plugin and store. */
export function builtinPlugins(): StellaPlugin[] {
  return [cryptoProbes(), authProbes(), netProbes(), fileProbes(), ...builtinStores()];
}

// SPDX-License-Identifier: Apache-2.0
import { defineStorePlugin, type StorePlugin, type StoreSettings } from '@stella/sdk';
import { MemoryObservationStore } from './memory.js';
import type { MemoryStoreOptions, PostgresStoreOptions, ValkeyStoreOptions } from './types.js';

/**
 * Store-specific settings, later wins: the factory's options in `stella.config.ts`, then the
 * resolved config's connection fields (which already carry environment overrides). The config's
 * `storeSettingsOf` passes them flat; a nested `<type>` object is accepted too.
 */
function merged<T extends object>(options: T, settings: StoreSettings, type: string): T & { maxBatchSize: number } {
  const { retentionHours: _r, maxBatchSize, memory: _m, postgres: _p, valkey: _v, ...flat } = settings;
  const nested = settings[type];
  const defined = (o: object | undefined) =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  return {
    ...defined(options),
    ...defined(flat),
    ...defined(nested && typeof nested === 'object' ? nested : undefined),
    maxBatchSize,
  } as T & { maxBatchSize: number };
}

/** `observation_store.type: memory` — embedded, bounded, counted in the agent's buffer limit. */
export function memoryStore(options: MemoryStoreOptions = {}): StorePlugin<MemoryStoreOptions> {
  return defineStorePlugin<MemoryStoreOptions>(
    {
      type: 'memory',
      async create(settings, ctx) {
        const o = merged(options, settings, 'memory');
        return new MemoryObservationStore({ ...o, retentionHours: settings.retentionHours }, ctx.logger);
      },
    },
    options,
  );
}

/** `observation_store.type: postgres` — day partitions, COPY ingest, partition-drop retention. */
export function postgresStore(options: PostgresStoreOptions = {}): StorePlugin<PostgresStoreOptions> {
  return defineStorePlugin<PostgresStoreOptions>(
    {
      type: 'postgres',
      async create(settings, ctx) {
        const { PostgresObservationStore } = await import('./postgres.js');
        return PostgresObservationStore.open(
          { ...merged(options, settings, 'postgres'), retentionHours: settings.retentionHours },
          ctx.logger,
        );
      },
    },
    options,
  );
}

/** `observation_store.type: valkey` — sorted-set time index, per-function hashes, pipelined writes. */
export function valkeyStore(options: ValkeyStoreOptions = {}): StorePlugin<ValkeyStoreOptions> {
  return defineStorePlugin<ValkeyStoreOptions>(
    {
      type: 'valkey',
      async create(settings, ctx) {
        const { ValkeyObservationStore } = await import('./valkey.js');
        return ValkeyObservationStore.open(
          { ...merged(options, settings, 'valkey'), retentionHours: settings.retentionHours },
          ctx.logger,
        );
      },
    },
    options,
  );
}

/** The three built-in stores, for the plugin registry. */
export function builtinStores(): StorePlugin<unknown>[] {
  return [memoryStore(), postgresStore(), valkeyStore()] as StorePlugin<unknown>[];
}

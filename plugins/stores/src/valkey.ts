// SPDX-License-Identifier: Apache-2.0
import type { Logger, ObservationStore } from '@stella/sdk';
import { StoreUnavailableError } from './errors.js';
import type { ValkeyStoreOptions } from './types.js';

export class ValkeyObservationStore {
  static async open(_o: ValkeyStoreOptions & { retentionHours: number }, _l: Logger): Promise<ObservationStore> {
    throw new StoreUnavailableError('valkey', 'the valkey store is not built yet');
  }
}

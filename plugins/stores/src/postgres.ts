// SPDX-License-Identifier: Apache-2.0
import type { Logger, ObservationStore } from '@stella/sdk';
import { StoreUnavailableError } from './errors.js';
import type { PostgresStoreOptions } from './types.js';

export class PostgresObservationStore {
  static async open(_o: PostgresStoreOptions & { retentionHours: number }, _l: Logger): Promise<ObservationStore> {
    throw new StoreUnavailableError('postgres', 'the postgres store is not built yet');
  }
}

// SPDX-License-Identifier: Apache-2.0

// The error lives in the SDK (any store throws it); re-exported for existing imports.
export { isStoreUnavailableError, StoreUnavailableError } from '@stella/sdk';
export { builtinStores, memoryStore, postgresStore, valkeyStore } from './builtin.js';
export { globToRegExp } from './glob.js';
export { MemoryObservationStore } from './memory.js';
export { approxObservationBytes } from './records.js';
export type * from './types.js';

// SPDX-License-Identifier: Apache-2.0
export { builtinStores, memoryStore, postgresStore, valkeyStore } from './builtin.js';
export { isStoreUnavailableError, StoreUnavailableError } from './errors.js';
export { globToRegExp } from './glob.js';
export { MemoryObservationStore } from './memory.js';
export { approxObservationBytes } from './records.js';
export type * from './types.js';

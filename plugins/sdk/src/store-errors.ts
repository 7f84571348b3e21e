// SPDX-License-Identifier: Apache-2.0
/**
 * Thrown by a store when its server cannot be reached (refused, reset, timed out, shutting down).
 * Writers retry these with backoff; every other error means the batch itself is at fault. In the
 * SDK so a third-party store throws the same error the agent's writer retries.
 */
export class StoreUnavailableError extends Error {
  readonly store: string;
  constructor(store: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
    this.store = store;
  }
}

export function isStoreUnavailableError(error: unknown): error is StoreUnavailableError {
  return error instanceof Error && error.name === 'StoreUnavailableError';
}

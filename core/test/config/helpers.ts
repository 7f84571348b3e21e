// SPDX-License-Identifier: Apache-2.0
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/errors.js';

export const fixture = (relative: string): string => fileURLToPath(new URL(`./fixtures/${relative}`, import.meta.url));

/** Runs `fn`, expects a ConfigError, returns it. */
export async function configErrorOf(fn: () => Promise<unknown> | unknown): Promise<ConfigError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, got none');
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Canaries: per library, a function every process calls once when it starts using the library
 * (`CatalogueLibrary.canary`). Its observation proves the probes see that library in that process,
 * so an unobserved path there was not exercised rather than invisible. Canary observations carry
 * the function id `canary/<symbol>`: any reader (the live verifier, `verify` on NDJSON) knows them
 * without a catalogue, and keeps them out of the observation rate and the unexpected calls.
 */
export const CANARY_PREFIX = 'canary/';

export function canaryFunctionId(symbol: string): string {
  return `${CANARY_PREFIX}${symbol}`;
}

export function isCanaryFunction(functionId: string): boolean {
  return functionId.startsWith(CANARY_PREFIX);
}

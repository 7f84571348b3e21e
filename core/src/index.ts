// SPDX-License-Identifier: Apache-2.0

export * from './config/index.js';
export { ConfigError, InputError, StellaError, UnavailableError, VerificationFailedError } from './errors.js';
export * from './function-map/index.js';
export { createLogger } from './logger.js';
export { parseDurationArg, parseDurationMs, parseTimeArg } from './time.js';
export * from './verify/index.js';

// SPDX-License-Identifier: Apache-2.0
export { ConfigError, InputError, StellaError, UnavailableError, VerificationFailedError } from './errors.js';
export { createLogger } from './logger.js';

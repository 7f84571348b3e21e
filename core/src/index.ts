// SPDX-License-Identifier: Apache-2.0

export * from './attest/index.js';
export * from './bundle/index.js';
export * from './config/index.js';
export { ConfigError, InputError, StellaError, UnavailableError, VerificationFailedError } from './errors.js';
export * from './function-map/index.js';
export { createLogger } from './logger.js';
export {
  createTelemetry,
  type DropReason,
  INSTRUMENT,
  type OtlpOptions,
  OVERALL_TAG,
  observationAttributes,
  type ProbeHealth,
  type PrometheusOptions,
  TELEMETRY_NAME,
  type Telemetry,
  type TelemetryOptions,
} from './telemetry/index.js';
export { parseDurationArg, parseDurationMs, parseTimeArg } from './time.js';
export * from './verify/index.js';

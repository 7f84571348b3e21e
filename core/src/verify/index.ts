// SPDX-License-Identifier: Apache-2.0
export { VerificationAccumulator, verifyObservations } from './accumulator.js';
export { formatReport, parseReportFormat, REPORT_FORMATS, type ReportFormat, summaryLine } from './format.js';
export { expandObservationInputs } from './inputs.js';
export { type ObservationSlice, observationProblem, type ReadStats, readObservationFiles } from './ndjson.js';
export { MIN_BYTES_PER_WORKER, planSlices, readObservationFilesParallel } from './parallel.js';
export type {
  AddResult,
  MalformedSample,
  MissingCall,
  ObservedProcess,
  PathResult,
  ProbeHealth,
  TagResult,
  UnexpectedSymbol,
  VerificationReport,
  VerificationWindow,
} from './types.js';
export { VERIFICATION_REPORT_SCHEMA_VERSION } from './types.js';

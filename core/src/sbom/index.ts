// SPDX-License-Identifier: Apache-2.0
export { type AnnotateOptions, type AnnotationSummary, annotateSbom, PROPERTY_PREFIX } from './annotate.js';
export { raiseSpecVersion, readSbomDocument, type SbomDocument, serializeSbomDocument } from './document.js';
export { type ReportReference, readReportReference } from './report-ref.js';
export {
  type CallTally,
  digestObservationFiles,
  nodeOfFile,
  type ObservationTally,
  tallyObservations,
  UNNAMED_NODE,
} from './tally.js';

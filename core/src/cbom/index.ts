// SPDX-License-Identifier: Apache-2.0
export { type AlgorithmProfile, algorithmProfile, metricAlgorithm } from './algorithm-properties.js';
export { buildCbom, type CbomOptions, cbomSummary } from './document.js';
export { type AlgorithmTally, type AlgorithmUse, type CbomTally, tallyAlgorithms, UNKNOWN } from './tally.js';

// SPDX-License-Identifier: Apache-2.0

export { type ElfInfo, readElf } from './elf.js';
export {
  type GenerateOptions,
  type GenerateResult,
  generateFunctionMap,
  PRIORITY_RANK,
  serializeFunctionMap,
} from './generate.js';
export { canonicalJson, functionMapDigest, nodeHash, normalizePurl, pathHash } from './hash.js';
export { formatLearnDiff, type LearnChange, type LearnOptions, type LearnResult, learnFunctionMap } from './learn.js';
export { FunctionMapInvalidError, type MapProblem, parseFunctionMap, readFunctionMap } from './parse.js';
export { defaultLibraryPath, type ResolvedLibrary, RootfsResolver } from './rootfs.js';
export { type ParsedSbom, parseSbom, readSbom, type SbomComponent } from './sbom.js';
export { FUNCTION_MAP_SCHEMA_PATH } from './schema.js';
export {
  parseStaticAnalysis,
  readStaticAnalysis,
  STATIC_ANALYSIS_SCHEMA,
  type StaticAnalysis,
  type StaticEntrypoint,
} from './static-analysis.js';
export {
  type Coverage,
  type ExpectedCall,
  type ExpectedPath,
  FUNCTION_MAP_PREDICATE_TYPE,
  FUNCTION_MAP_PREDICATE_TYPE_ALIAS,
  FUNCTION_MAP_SCHEMA_VERSION,
  type FunctionMap,
  type FunctionMapPredicate,
  type FunctionMapSubject,
  type LearningProvenance,
  type PathEntrypoint,
} from './types.js';

// SPDX-License-Identifier: Apache-2.0
export { canonicalJson, functionMapDigest, nodeHash, normalizePurl, pathHash } from './hash.js';
export { FunctionMapInvalidError, type MapProblem, parseFunctionMap, readFunctionMap } from './parse.js';
export { FUNCTION_MAP_SCHEMA_PATH } from './schema.js';
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
  type PathEntrypoint,
} from './types.js';

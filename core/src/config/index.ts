// SPDX-License-Identifier: Apache-2.0
export { parseByteSize } from './byte-size.js';
export { defineConfig } from './define-config.js';
export { type DescribedConfig, describeConfig } from './describe.js';
export { CONFIG_ENV_VARIABLES } from './env.js';
export {
  CONFIG_MODULE_NAME,
  CONFIG_SEARCH_PLACES,
  DEFAULTS_SOURCE,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
} from './load.js';
export {
  type PluginLoadFailure,
  type ResolvedPlugins,
  type ResolvePluginSpecsOptions,
  resolvePluginSpecs,
} from './plugins.js';
export type { ConfigProblem } from './problems.js';
export { DEFAULT_SENSITIVE_PATHS, probeTuningOf, resolveConfig, storeSettingsOf } from './resolve.js';
export { CONFIG_SCHEMA_URL } from './schema.js';
export { assertStoreTypeServed } from './stores.js';
export type * from './types.js';
export { collectConfigProblems, validateUserConfig } from './validate.js';

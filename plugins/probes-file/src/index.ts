// SPDX-License-Identifier: Apache-2.0
export { catalogue } from './catalogue.js';
/** YAML/JSON configs name the package: `plugins: ["@stella/probes-file"]` calls this factory. */
export { type FileProbesOptions, fileProbes, fileProbes as default } from './plugin.js';
export { DEFAULT_SENSITIVE_PATHS } from './prefixes.js';
export { FILE_REQUIRES, FILE_SYMBOL_SYSCALLS, FILE_SYSCALLS } from './syscalls.js';

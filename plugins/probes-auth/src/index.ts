// SPDX-License-Identifier: Apache-2.0
export { catalogue } from './catalogue.js';
/** YAML/JSON configs name the package: `plugins: ["@stella/probes-auth"]` calls this factory. */
export { type AuthProbesOptions, authProbes, authProbes as default } from './plugin.js';

// SPDX-License-Identifier: Apache-2.0

export { catalogue } from './catalogue.js';
/** YAML/JSON configs name the package: `plugins: ["@stella/probes-crypto"]` calls this factory. */
export { type CryptoProbesOptions, cryptoProbes, cryptoProbes as default } from './plugin.js';

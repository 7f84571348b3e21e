// SPDX-License-Identifier: Apache-2.0
export { catalogue } from './catalogue.js';
/** YAML/JSON configs name the package: `plugins: ["@stella/probes-net"]` calls this factory. */
export { type NetProbesOptions, netProbes, netProbes as default } from './plugin.js';
export { NET_SYMBOL_SYSCALLS, NET_SYSCALLS } from './syscalls.js';

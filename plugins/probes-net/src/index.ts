// SPDX-License-Identifier: Apache-2.0
export { catalogue } from './catalogue.js';
export { type NetProbesOptions, netProbes } from './plugin.js';
export { NET_SYMBOL_SYSCALLS, NET_SYSCALLS } from './syscalls.js';

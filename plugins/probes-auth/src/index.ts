// SPDX-License-Identifier: Apache-2.0
export { catalogue } from './catalogue.js';
export { type AuthProbesOptions, authProbes } from './plugin.js';

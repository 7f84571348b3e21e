// SPDX-License-Identifier: Apache-2.0

export { defineProbePlugin, defineStorePlugin, isProbePlugin, isStorePlugin } from './define.js';
export type * from './types.js';

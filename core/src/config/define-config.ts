// SPDX-License-Identifier: Apache-2.0
import type { UserConfig } from './types.js';

/** Type helper for `stella.config.ts`: `export default defineConfig({ runtime_agent: {...}, plugins: [...] })`. */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}

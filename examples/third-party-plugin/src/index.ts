// SPDX-License-Identifier: Apache-2.0

export { APP_CATEGORY, type AppProbesOptions, appProbes, appProbes as default, catalogue } from './plugin.js';

// SPDX-License-Identifier: Apache-2.0
/** The CLI's and the agent's version: `stella --version`, and the generator of maps they write. */
export const VERSION = '0.1.0';

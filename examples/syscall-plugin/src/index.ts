// SPDX-License-Identifier: Apache-2.0

export { catalogue, LISTEN_SYSCALLS, listenProbes, listenProbes as default } from './plugin.js';

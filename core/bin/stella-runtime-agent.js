#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The runtime agent's own binary: `stella-runtime-agent --config F` = `stella agent --config F`.
import { main } from '../dist/cli/main.js';

process.exitCode = await main([process.argv[0], 'stella', 'agent', ...process.argv.slice(2)]);

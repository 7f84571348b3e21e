#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node
// SPDX-License-Identifier: Apache-2.0
// The runtime agent's own binary: `stella-runtime-agent --config F` = `stella agent --config F`.
// Two malloc arenas (the shebang): glibc's default of 8 per CPU lets each native thread keep an
// arena of freed pages resident, ~20 MB of an idle agent (docs/OPERATIONS.md §5, memory).
import { main } from '../dist/cli/main.js';

process.exitCode = await main([process.argv[0], 'stella', 'agent', ...process.argv.slice(2)]);

#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * Per-syscall overhead of the net probes (syscall tracepoints here), and what every other
 * syscall pays while they are attached. Needs root and built BPF objects (npm run build:bpf).
 *
 *   node bench/probes-syscall.mjs [--calls 300000] [--rounds 5]
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const res = spawnSync(
  process.execPath,
  [
    '--conditions=stella-source',
    '--import',
    'jiti/register',
    join(here, 'probes-syscall', 'run.ts'),
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', cwd: join(here, '..') },
);
process.exit(res.status ?? 1);

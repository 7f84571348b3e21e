// SPDX-License-Identifier: Apache-2.0
// Runs bench/fleet.ts (TypeScript, workspace sources) through jiti: `node bench/fleet.mjs [nodes] [rows per node]`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const jiti = fileURLToPath(new URL('../node_modules/jiti/lib/jiti-cli.mjs', import.meta.url));
const r = spawnSync(
  process.execPath,
  ['--conditions=stella-source', jiti, 'bench/fleet.ts', ...process.argv.slice(2)],
  { cwd: repo, stdio: 'inherit' },
);
process.exitCode = r.status ?? 1;

// SPDX-License-Identifier: Apache-2.0
// Runs bench/stores.ts (TypeScript, workspace sources) through jiti: `node bench/stores.mjs [rows]`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const jiti = fileURLToPath(new URL('../node_modules/jiti/lib/jiti-cli.mjs', import.meta.url));
const r = spawnSync(
  process.execPath,
  ['--conditions=stella-source', jiti, 'bench/stores.ts', ...process.argv.slice(2)],
  {
    cwd: repo,
    stdio: 'inherit',
  },
);
process.exitCode = r.status ?? 1;

#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The longer fuzz run: the fast-check properties of core/test/fuzz (SBOM, function map, config,
// DSSE envelope, bundle manifest, bundle tar reader, the NDJSON lanes against JSON.parse) with
// more runs a property and several seeds, one vitest run per seed, then a table.
//   node scripts/fuzz.mjs [--runs 5000] [--seeds 2026,7,99]
// Exits 1 when any seed finds a counterexample (vitest prints it, with the seed to replay).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5000' }, seeds: { type: 'string', default: '2026,7,99' } },
});
const repo = fileURLToPath(new URL('..', import.meta.url));
const rows = [];
let failed = false;
for (const seed of values.seeds.split(',')) {
  const started = Date.now();
  const r = spawnSync('npx', ['vitest', 'run', 'core/test/fuzz'], {
    cwd: repo,
    env: { ...process.env, FUZZ_RUNS: values.runs, FUZZ_SEED: seed },
    encoding: 'utf8',
  });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) {
    failed = true;
    process.stderr.write(output);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: vitest colours its summary
  const tests = /Tests\s+(.*)/.exec(output.replace(/\x1b\[[0-9;]*m/g, ''))?.[1]?.trim() ?? '?';
  rows.push([seed, values.runs, r.status === 0 ? 'pass' : 'FAIL', tests, ((Date.now() - started) / 1000).toFixed(0)]);
}
console.log('| seed | runs a property | result | tests | seconds |');
console.log('|---:|---:|---|---|---:|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
process.exit(failed ? 1 : 0);

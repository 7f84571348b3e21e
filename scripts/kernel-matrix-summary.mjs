// SPDX-License-Identifier: Apache-2.0
// Prints the kernel matrix's results as one table (scripts/kernel-matrix.sh), from each kernel's
// rc, seconds and JUnit file; exits non-zero when any kernel failed or left no verdict.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [resultsDir, ...kernels] = process.argv.slice(2);
const read = (kernel, name) => {
  const file = join(resultsDir, kernel, name);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
};
const count = (xml, attr) => Number(xml?.match(new RegExp(`<testsuites[^>]*\\s${attr}="(\\d+)"`))?.[1] ?? 0);

const rows = [['kernel', 'verdict', 'tests', 'failed', 'skipped', 'minutes']];
let allPassed = true;
for (const kernel of kernels) {
  const rc = read(kernel, 'rc');
  const junit = read(kernel, 'junit.xml');
  const skipped = (junit?.match(/<skipped/g) ?? []).length;
  const failed = count(junit, 'failures') + count(junit, 'errors');
  const verdict = rc === undefined ? 'no verdict' : rc === '0' ? 'pass' : `fail (rc ${rc})`;
  if (rc !== '0') allPassed = false;
  const minutes = (Number(read(kernel, 'seconds') ?? 0) / 60).toFixed(1);
  rows.push([kernel, verdict, String(count(junit, 'tests')), String(failed), String(skipped), minutes]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join('  '));
process.exitCode = allPassed ? 0 : 1;

// SPDX-License-Identifier: Apache-2.0
// Prints the kernel matrix's results (scripts/kernel-matrix.sh) as one table: a row per test file,
// a column per kernel, each cell pass / FAIL / refused / skipped with the file's seconds, then each
// kernel's verdict and minutes. Read from each kernel's rc, seconds, vitest.log and JUnit file;
// exits non-zero when any kernel failed or left no verdict.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [resultsDir, ...kernels] = process.argv.slice(2);
const read = (kernel, name) => {
  const file = join(resultsDir, kernel, name);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
};
const attr = (tag, name) => tag.match(new RegExp(`\\s${name}="([^"]*)"`))?.[1];

/** Per test file: tests, failed, skipped, seconds, from vitest's JUnit report. */
function suites(junit) {
  const out = new Map();
  for (const [tag] of junit?.matchAll(/<testsuite\s[^>]*>/g) ?? []) {
    out.set(attr(tag, 'name'), {
      tests: Number(attr(tag, 'tests') ?? 0),
      failed: Number(attr(tag, 'failures') ?? 0) + Number(attr(tag, 'errors') ?? 0),
      skipped: Number(attr(tag, 'skipped') ?? 0),
      seconds: Number(attr(tag, 'time') ?? 0),
    });
  }
  return out;
}

const columns = kernels.map((kernel) => {
  const log = read(kernel, 'vitest.log') ?? '';
  return {
    kernel,
    release: log.match(/^kernel (\S+)/m)?.[1] ?? '',
    rc: read(kernel, 'rc'),
    seconds: Number(read(kernel, 'seconds') ?? 0),
    suites: suites(read(kernel, 'junit.xml')),
    // The uprobe tests skip on a kernel without attach cookies, saying so once per file: there a
    // skip is the refusal docs/KERNELS.md describes, not a missing tool.
    refuses: log.includes('no bpf_get_attach_cookie (Linux 5.15+)'),
  };
});

function cell(column, file) {
  const suite = column.suites.get(file);
  if (!suite) return column.rc === undefined ? 'no verdict' : 'no result';
  const time = `${Math.round(suite.seconds)} s`;
  if (suite.failed > 0) return `FAIL ${suite.failed}/${suite.tests} ${time}`;
  const ran = suite.tests - suite.skipped;
  if (suite.skipped === 0) return `pass ${ran} ${time}`;
  const skipWord = column.refuses ? 'refused' : 'skipped';
  return ran === 0 ? `${skipWord} ${suite.skipped}` : `pass ${ran}, ${skipWord} ${suite.skipped} ${time}`;
}

const files = [...new Set(columns.flatMap((c) => [...c.suites.keys()]))].sort();
const rows = [['test file', ...columns.map((c) => `${c.kernel}${c.release ? ` (${c.release})` : ''}`)]];
for (const file of files) rows.push([file, ...columns.map((c) => cell(c, file))]);
let allPassed = true;
rows.push([
  'verdict',
  ...columns.map((c) => {
    if (c.rc !== '0') allPassed = false;
    return c.rc === undefined ? 'NO VERDICT' : c.rc === '0' ? 'pass' : `FAIL (rc ${c.rc})`;
  }),
]);
rows.push(['minutes (boot to power-off)', ...columns.map((c) => (c.seconds / 60).toFixed(1))]);

const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
const line = (row) => `| ${row.map((value, i) => value.padEnd(widths[i])).join(' | ')} |`;
console.log(line(rows[0]));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows.slice(1)) console.log(line(row));
process.exitCode = allPassed ? 0 : 1;

// SPDX-License-Identifier: Apache-2.0
/**
 * The kernel matrix's closing table (scripts/kernel-matrix-summary.mjs), from results laid out as
 * scripts/kernel-matrix.sh leaves them: CI's verdict on the old kernels is read from this table.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, '..', 'scripts', 'kernel-matrix-summary.mjs');
const dir = mkdtempSync(join(tmpdir(), 'stella-matrix-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kernel(name: string, files: Record<string, string | undefined>): void {
  mkdirSync(join(dir, name));
  for (const [file, text] of Object.entries(files)) if (text !== undefined) writeFileSync(join(dir, name, file), text);
}
const suite = (name: string, tests: number, failures: number, skipped: number, time: number) =>
  `<testsuite name="${name}" timestamp="2026-01-01T00:00:00" hostname="g" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${time}">\n</testsuite>`;
const junit = (...suites: string[]) =>
  `<?xml version="1.0"?>\n<testsuites name="vitest">\n${suites.join('\n')}\n</testsuites>`;

function summary(...kernels: string[]) {
  const run = spawnSync(process.execPath, [script, dir, ...kernels], { encoding: 'utf8' });
  const rows = run.stdout
    .trim()
    .split('\n')
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  return { status: run.status, rows, row: (first: string) => rows.find((r) => r[0] === first) };
}

describe('kernel matrix summary', () => {
  kernel('5.10', {
    rc: '0',
    seconds: '300',
    'vitest.log':
      'kernel 5.10.0-46-amd64\nskipping uprobe workload tests: the kernel has no bpf_get_attach_cookie (Linux 5.15+), which …\n',
    'junit.xml': junit(
      suite('a.test.ts', 3, 0, 0, 2.4),
      suite('b.test.ts', 2, 0, 2, 0),
      suite('c.test.ts', 3, 0, 2, 8.6),
    ),
  });
  kernel('6.1', {
    rc: '1',
    seconds: '342',
    'vitest.log': 'kernel 6.1.0-57-amd64\n',
    'junit.xml': junit(suite('a.test.ts', 3, 0, 0, 2), suite('b.test.ts', 2, 1, 0, 78), suite('c.test.ts', 3, 0, 1, 3)),
  });
  kernel('6.12', { seconds: '2400', 'vitest.log': 'kernel 6.12.95+deb12-amd64\n' });

  it('a row per test file and a column per kernel: pass, FAIL, refused where cookies are missing, skipped elsewhere', () => {
    const { rows, row } = summary('5.10', '6.1');
    expect(rows[0]).toEqual(['test file', '5.10 (5.10.0-46-amd64)', '6.1 (6.1.0-57-amd64)']);
    expect(row('a.test.ts')).toEqual(['a.test.ts', 'pass 3 2 s', 'pass 3 2 s']);
    expect(row('b.test.ts')).toEqual(['b.test.ts', 'refused 2', 'FAIL 1/2 78 s']);
    expect(row('c.test.ts')).toEqual(['c.test.ts', 'pass 1, refused 2 9 s', 'pass 2, skipped 1 3 s']);
    expect(row('minutes (boot to power-off)')).toEqual(['minutes (boot to power-off)', '5.0', '5.7']);
  });

  it('exits 0 only when every kernel passed; a kernel that wrote no verdict fails the matrix', () => {
    expect(summary('5.10').status).toBe(0);
    expect(summary('5.10', '6.1').status).toBe(1);
    const { status, row } = summary('5.10', '6.12');
    expect(status).toBe(1);
    expect(row('verdict')).toEqual(['verdict', 'pass', 'NO VERDICT']);
    expect(row('a.test.ts')?.[2]).toBe('no verdict');
  });
});

// SPDX-License-Identifier: Apache-2.0
/** `npm run bench` runs every benchmark there is: a new script in bench/ must be listed in its runner. */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bench = fileURLToPath(new URL('../../bench/', import.meta.url));
/** Scripts that are not benchmarks themselves: data and map writers, parts run by a benchmark, the runner. */
const HELPERS = new Set([
  'gen-observations.mjs',
  'many-call-map.mjs',
  'one-call-map.mjs',
  'run-all.mjs',
  'verify-reader.mjs', // the reader alone, run by verify.mjs for its syntax-check row
]);

describe('bench/run-all.mjs', () => {
  it('lists every benchmark script in bench/', () => {
    const runner = readFileSync(`${bench}run-all.mjs`, 'utf8');
    const scripts = readdirSync(bench).filter((f) => f.endsWith('.mjs') && !HELPERS.has(f));
    expect(scripts.length).toBeGreaterThan(5);
    expect(scripts.filter((f) => !runner.includes(`script: 'bench/${f}'`))).toEqual([]);
  });
});

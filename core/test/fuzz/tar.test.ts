// SPDX-License-Identifier: Apache-2.0
/**
 * The bundle tar reader under fast-check (issue #13, "beyond the list"): arbitrary tar archives
 * (entries of any type, name, size and content, then bytes flipped, cut or added, gzipped or not)
 * are extracted or refused as bad input with one sentence, and nothing is ever written outside the
 * extraction directory. `FUZZ_RUNS`/`FUZZ_SEED` as in parsers.test.ts; the longer run is in
 * docs/SECURITY.md.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extractBundle } from '../../src/bundle/extract.js';
import { exitCodeOf } from '../../src/errors.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const SEED = Number(process.env.FUZZ_SEED ?? 1313);

/** One ustar header block and its data, padded: what `tar` writes, built by hand so any field can lie. */
function entry(name: string, type: string, data: Buffer, declaredSize: number, linkName: string): Buffer {
  const header = Buffer.alloc(512);
  const put = (text: string, at: number, length: number) => header.write(text.slice(0, length), at, length, 'utf8');
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(`${Math.max(0, declaredSize).toString(8).padStart(11, '0').slice(-11)}\0`, 124, 12);
  put('00000000000\0', 136, 12);
  put(type, 156, 1);
  put(linkName, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([header, padded]);
}

/** Every path under `root`, relative to it. */
function listAll(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).map((p) => relative(root, join(root, p)));
}

describe('bundle tar reader (fast-check)', () => {
  const names = fc.oneof(
    fc.constantFrom(
      'manifest.json',
      'function-map.json',
      'observations/a.ndjson',
      '../escape',
      '/etc/passwd',
      'a/../../b',
      './ok.json',
      'dir/',
      'C:/x',
      'a\\b',
      'x\0y',
      '',
    ),
    fc.string({ maxLength: 120 }),
  );
  const entries = fc.array(
    fc.record({
      name: names,
      type: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', 'x', 'g', 'L', 'K', 'Z', '\0'),
      data: fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
      sizeDelta: fc.constantFrom(0, 0, 0, 1, -1, 512, -512, 1 << 20),
      linkName: fc.constantFrom('', '/etc/shadow', '../x', 'manifest.json'),
    }),
    { maxLength: 6 },
  );
  const archive = fc
    .tuple(
      entries,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.constantFrom('whole', 'cut', 'no-end'),
      fc.nat(),
      fc.boolean(),
    )
    .map(([list, flips, ending, cutAt, gzip]) => {
      let tar = Buffer.concat([
        ...list.map((e) => entry(e.name, e.type, e.data, e.data.length + e.sizeDelta, e.linkName)),
        ending === 'no-end' ? Buffer.alloc(0) : Buffer.alloc(1024),
      ]);
      for (const [at, byte] of flips) if (tar.length > 0) tar[at % tar.length] = byte;
      if (ending === 'cut' && tar.length > 0) tar = tar.subarray(0, cutAt % tar.length);
      return gzip ? gzipSync(tar) : tar;
    });

  it('extracts or refuses with one sentence (exit 2), writing only inside its directory', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fuzz-tar-'));
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(archive, async (bytes) => {
          const run = join(root, String(n++));
          const destination = join(run, 'out');
          mkdirSync(destination, { recursive: true });
          const bundle = join(run, 'b.tgz');
          writeFileSync(bundle, bytes);
          try {
            const files = await extractBundle(bundle, destination);
            for (const path of files.keys()) expect(path.startsWith('/') || path.split('/').includes('..')).toBe(false);
          } catch (error) {
            expect(exitCodeOf(error), String((error as Error).stack)).toBe(2);
            expect((error as Error).message).not.toContain('\n    at ');
          }
          // Only the bundle itself and what lies under out/ exist in the run's directory.
          expect(listAll(run).filter((p) => p !== 'b.tgz' && p !== 'out' && !p.startsWith('out/'))).toEqual([]);
          rmSync(run, { recursive: true, force: true });
        }),
        { seed: SEED, numRuns: RUNS },
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});

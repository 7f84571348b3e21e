// SPDX-License-Identifier: Apache-2.0
/**
 * Over-long lines (issue #13): a 40 MB line, or a gzip that inflates to hundreds of MB without a
 * newline, is one malformed line (`line longer than 1048576 bytes`) and the lines around it are read;
 * the reader never gathers the whole line in memory.
 */
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { VerificationAccumulator } from '../../src/verify/accumulator.js';
import { MAX_LINE_BYTES, readObservationFiles } from '../../src/verify/ndjson.js';
import { call, LIBSSL, makeMap, obs, path } from '../function-map/helpers.js';

const expected = call('tls/SSL_connect', LIBSSL, '/lib/libssl.so.3');
const map = makeMap([path('p', ['tls'], [expected])]);
const window = { from: new Date('2024-05-01T12:00:00Z'), to: new Date('2024-05-01T13:00:00Z') };
const good = JSON.stringify(obs(expected, '2024-05-01T12:10:00.000Z'));
const dir = mkdtempSync(join(tmpdir(), 'long-lines-'));

async function read(file: string) {
  const acc = new VerificationAccumulator(map, window);
  await readObservationFiles([file], acc);
  return acc.report({ generatedAt: new Date(0) });
}

describe('lines longer than MAX_LINE_BYTES', () => {
  it('a 40 MB line between two records is one malformed line; both records count', async () => {
    const file = join(dir, 'long.ndjson');
    writeFileSync(file, `${good}\n{"comm":"${'a'.repeat(40 << 20)}"}\n${good}\n`);
    const r = await read(file);
    expect(r.paths[0]!.hitCount).toBe(2);
    expect(r.observationsSkipped.malformed).toBe(1);
    expect(r.observationsSkipped.malformedSamples).toEqual([
      { location: `${file}:2`, reason: `line longer than ${MAX_LINE_BYTES} bytes` },
    ]);
  });

  it('a gzip inflating to 256 MB of NULs with no newline is one malformed line', async () => {
    const file = join(dir, 'nuls.ndjson.gz');
    const zeros = Buffer.alloc(1 << 20);
    await pipeline(
      Readable.from(
        (function* () {
          yield Buffer.from(`${good}\n`);
          for (let i = 0; i < 256; i++) yield zeros;
        })(),
      ),
      createGzip({ level: 1 }),
      createWriteStream(file),
    );
    const before = process.memoryUsage().rss;
    const r = await read(file);
    expect(r.paths[0]!.hitCount).toBe(1);
    expect(r.observationsSkipped.malformed).toBe(1);
    expect(r.observationsSkipped.malformedSamples[0]!.reason).toBe(`line longer than ${MAX_LINE_BYTES} bytes`);
    // Flat memory: nowhere near the 256 MB the line inflates to.
    expect(process.memoryUsage().rss - before).toBeLessThan(128 << 20);
  });

  it('a line just under the limit is still read as a record', async () => {
    const file = join(dir, 'under.ndjson');
    const padded = good.replace('"comm":"node"', `"comm":"${'n'.repeat(MAX_LINE_BYTES - good.length - 100)}"`);
    writeFileSync(file, `${'x'.repeat(10)}\n${padded}\n`);
    const r = await read(file);
    expect(r.paths[0]!.hitCount).toBe(1);
    expect(r.observationsSkipped.malformed).toBe(1); // the x line
  });
});

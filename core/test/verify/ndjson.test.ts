// SPDX-License-Identifier: Apache-2.0
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseCanonicalTime, parseObservedAt, VerificationAccumulator } from '../../src/verify/accumulator.js';
import { expandObservationInputs } from '../../src/verify/inputs.js';
import { readObservationFiles } from '../../src/verify/ndjson.js';
import { call, LIBSSL, makeMap, obs, path } from '../function-map/helpers.js';

const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const sslConnect = call('tls/SSL_connect', LIBSSL, SSL);
const sslRead = call('tls/SSL_read', LIBSSL, SSL);
const map = makeMap([path('tls-connect', ['tls'], [sslConnect]), path('tls-read', ['tls'], [sslRead])]);
const window = { from: new Date('2024-05-01T12:00:00Z'), to: new Date('2024-05-01T13:00:00Z') };
const IN = '2024-05-01T12:30:00.000Z';
const line = (o: object) => JSON.stringify(o);

async function run(files: Record<string, string | Buffer>) {
  const dir = await mkdtemp(join(tmpdir(), 'obs-'));
  const paths: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), content);
    paths.push(join(dir, name));
  }
  const acc = new VerificationAccumulator(map, window);
  const stats = await readObservationFiles(paths, acc);
  return { report: acc.report(), stats, dir };
}

describe('readObservationFiles', () => {
  it('counts malformed lines with file:line and reason, ignores blank lines, reads CRLF and a last line without newline', async () => {
    const content = [
      line(obs(sslConnect, IN)),
      '',
      '{"observedAt":"2024-05-01T12:31:00.000Z","service":"checkout","function":"tls/SSL_re', // truncated by a crash
      line(obs(sslRead, IN)) + '\r',
      '[1,2]',
      line({ ...obs(sslRead, IN), hitCount: 'many' }),
      line(obs(sslRead, '2024-02-30T12:00:00.000Z')),
      line(obs(sslRead, IN, { hitCount: 5 })),
    ].join('\n');
    const { report, stats, dir } = await run({ 'a.ndjson': content });
    expect(stats).toEqual({ files: 1, lines: 8 });
    expect(report.observationsRead).toBe(7);
    expect(report.observationsSkipped.malformed).toBe(4);
    expect(report.observationsSkipped.malformedSamples).toEqual([
      { location: `${dir}/a.ndjson:3`, reason: expect.stringMatching(/^not JSON \(/) },
      { location: `${dir}/a.ndjson:5`, reason: 'not a JSON object' },
      { location: `${dir}/a.ndjson:6`, reason: 'missing or non-numeric "hitCount"' },
      { location: `${dir}/a.ndjson:7`, reason: 'observedAt is not an ISO-8601 time' },
    ]);
    expect(report.paths.map((p) => [p.pathId, p.hitCount])).toEqual([
      ['tls-connect', 1],
      ['tls-read', 6],
    ]);
  });

  it('the byte scanner and JSON.parse agree: escapes, other field orders, other time forms, no nodeHash, UTF-8', async () => {
    const reordered = `{"hitCount":2,"pid":9,"nodeHash":"${sslConnect.nodeHash}","service":"checkout","observedAt":"${IN}","function":"tls/SSL_connect","symbol":"SSL_connect","binaryPath":"${SSL}","probeType":"uprobe","comm":"x","nodeName":"n"}`;
    const escaped = line(obs(sslConnect, IN, { comm: 'we\\"ird' }));
    const offset = line(obs(sslConnect, '2024-05-01T14:30:00+02:00'));
    const noHash = line(obs({ function: 'tls/SSL_read', binaryPath: SSL }, IN));
    const utf8Unexpected = line(obs(call('crypto/RC4', LIBSSL, SSL), IN, { comm: 'prozeß', pid: 77 }));
    const nested = line({ ...obs(sslConnect, IN), extra: { a: 1 } });
    const { report } = await run({
      'b.ndjson': [reordered, escaped, offset, noHash, utf8Unexpected, nested].join('\n') + '\n',
    });
    expect(report.observationsSkipped.malformed).toBe(0);
    expect(report.paths.map((p) => p.hitCount)).toEqual([5, 1]);
    expect(report.unexpectedSymbols[0]!.processes).toEqual([{ pid: 77, comm: 'prozeß' }]);
  });

  it('a service name with non-ASCII characters still matches the map', async () => {
    const m = makeMap([path('tls-connect', ['tls'], [sslConnect])]);
    m.predicate.service = 'kassé';
    const dir = await mkdtemp(join(tmpdir(), 'obs-'));
    await writeFile(
      join(dir, 'c.ndjson'),
      line(obs(sslConnect, IN, { service: 'kassé' })) + '\n' + line(obs(sslConnect, IN, { service: 'kasse' })) + '\n',
    );
    const acc = new VerificationAccumulator(m, window);
    await readObservationFiles([join(dir, 'c.ndjson')], acc);
    const r = acc.report();
    expect(r.paths[0]!.hitCount).toBe(1);
    expect(r.observationsSkipped.otherService).toBe(1);
  });

  it('reads .gz and lines across read-chunk boundaries (3 MB file)', async () => {
    const many = Array.from({ length: 9000 }, (_, i) => line(obs(i % 2 ? sslConnect : sslRead, IN, { pid: i })));
    const text = many.join('\n') + '\n';
    const { report } = await run({ 'big.ndjson': text, 'big.ndjson.gz': gzipSync(text) });
    expect(report.observationsRead).toBe(18000);
    expect(report.observationsSkipped.malformed).toBe(0);
    expect(report.paths.map((p) => p.hitCount)).toEqual([9000, 9000]);
  });

  it('a file that is not gzip, or missing, is an InputError naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'obs-'));
    await writeFile(join(dir, 'x.ndjson.gz'), 'plain text');
    const acc = new VerificationAccumulator(map, window);
    await expect(readObservationFiles([join(dir, 'x.ndjson.gz')], acc)).rejects.toThrow(
      new RegExp(`^cannot read observations ${dir}/x\\.ndjson\\.gz: not a valid gzip file`),
    );
    await expect(readObservationFiles([join(dir, 'missing.ndjson')], acc)).rejects.toThrow(
      `cannot read observations ${dir}/missing.ndjson: no such file`,
    );
  });
});

describe('expandObservationInputs', () => {
  it('expands files, directories (recursive, observation files only) and globs, in a stable order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'inputs-'));
    await mkdir(join(dir, 'node-a/2024'), { recursive: true });
    for (const f of ['node-a/2024/b.ndjson.gz', 'node-a/2024/a.ndjson', 'node-a/notes.txt', 'c.jsonl'])
      await writeFile(join(dir, f), '');
    expect(await expandObservationInputs([join(dir, 'node-a')])).toEqual([
      join(dir, 'node-a/2024/a.ndjson'),
      join(dir, 'node-a/2024/b.ndjson.gz'),
    ]);
    expect(await expandObservationInputs([`${dir}/**/*.gz`, join(dir, 'c.jsonl')])).toEqual([
      join(dir, 'node-a/2024/b.ndjson.gz'),
      join(dir, 'c.jsonl'),
    ]);
    await expect(expandObservationInputs([join(dir, 'nope.ndjson')])).rejects.toThrow(
      `--observations ${dir}/nope.ndjson: no such file or directory`,
    );
    await expect(expandObservationInputs([`${dir}/*.csv`])).rejects.toThrow(
      `--observations ${dir}/*.csv: the pattern matches no file`,
    );
  });
});

describe('time parsing', () => {
  it('reads the agent form digit by digit and agrees with Date.parse', () => {
    for (const t of ['2024-05-01T12:30:00.123Z', '2024-02-29T00:00:00.000Z', '1999-12-31T23:59:59.999Z']) {
      expect(parseCanonicalTime(t, 0)).toBe(Date.parse(t));
      expect(parseObservedAt(t)).toBe(Date.parse(t));
    }
    for (const t of [
      '2023-02-29T00:00:00.000Z',
      '2024-13-01T00:00:00.000Z',
      '2024-04-31T00:00:00.000Z',
      '2024-05-01T24:00:00.000Z',
      '2024-05-01T12:3a:00.000Z',
    ]) {
      expect(parseCanonicalTime(t, 0)).toBeNaN();
    }
    expect(parseObservedAt('2024-05-01T14:30:00+02:00')).toBe(Date.parse('2024-05-01T12:30:00Z'));
  });
});

// SPDX-License-Identifier: Apache-2.0
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Observation } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { parseCanonicalTime, parseObservedAt, VerificationAccumulator } from '../../src/verify/accumulator.js';
import { expandObservationInputs } from '../../src/verify/inputs.js';
import { observationProblem, readObservationFiles } from '../../src/verify/ndjson.js';
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
    expect(stats).toEqual({ files: 1, lines: 8, fastLane: 0 });
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

  it('every lane of the reader decides like JSON.parse + add, line for line (agent shape and its mutations)', async () => {
    // The agent's key order (what the fast lane reads in place), then mutations that must send a
    // line down the general path or make it malformed. Reference: JSON.parse each line.
    const agent = (c: { function: string; binaryPath: string; nodeHash: string }, at: string, more: object = {}) => ({
      observedAt: at,
      service: 'checkout',
      function: c.function,
      symbol: c.function.split('/')[1],
      binaryPath: c.binaryPath,
      nodeHash: c.nodeHash,
      probeType: 'uprobe',
      pid: 1000,
      comm: 'checkout',
      nodeName: 'node-a',
      hitCount: 1,
      ...more,
    });
    const rc4 = call('crypto/RC4', LIBSSL, SSL);
    const variants: ((i: number) => string)[] = [
      (i) =>
        line(
          agent(
            i % 2 ? sslConnect : sslRead,
            `2024-05-01T12:${String(i % 60).padStart(2, '0')}:07.${String(i % 1000).padStart(3, '0')}Z`,
          ),
        ),
      (i) => line(agent(sslRead, IN, { hitCount: (i % 97) + 1 })),
      (i) => line(agent(sslRead, IN, { hitCount: 3, windowStart: IN, windowEnd: IN, sampleRate: i })), // aggregate
      () => line(agent(sslRead, IN, { service: 'billing' })),
      () => line(agent(sslRead, IN, { service: 'checkout2' })),
      () => line(agent(sslRead, IN, { service: 'checkou' })),
      (i) => line(agent(rc4, IN, { pid: i % 7 })),
      () => line(agent(sslConnect, '2024-05-01T11:59:59.999Z')),
      () => line(agent(sslConnect, '2024-05-01T13:00:00.000Z')),
      () => line(agent(sslConnect, '2024-02-30T12:00:00.000Z')),
      () => line(agent(sslConnect, '2024-05-01T12:30:00.000+00:00')),
      () => line(agent(sslConnect, IN, { hitCount: 0 })),
      () => line(agent(sslConnect, IN, { hitCount: 1.5 })),
      () => line(agent(sslConnect, IN, { hitCount: -2 })),
      () => line(agent(sslConnect, IN, { hitCount: '1' })),
      () => line(agent(sslConnect, IN)).replace('"hitCount":1}', '"hitCount":01}'),
      () => line(agent(sslConnect, IN)).replace('"hitCount":1}', '"hitCount":1e2}'),
      () => line(agent(sslConnect, IN)).replace('"hitCount":1}', '"hitCount":12345678901234567890}'),
      () => line(agent(sslConnect, IN)).replace(',"hitCount":1', ''),
      () => line(agent(sslConnect, IN)).replace(sslConnect.nodeHash, sslConnect.nodeHash.toUpperCase()),
      () => line(agent(sslConnect, IN)).replace(sslConnect.nodeHash, `${sslConnect.nodeHash.slice(0, 30)}x`),
      () =>
        line(agent(sslConnect, IN)).replace(
          sslConnect.nodeHash,
          sslRead.nodeHash.slice(0, 20) + sslConnect.nodeHash.slice(20),
        ),
      () => line(agent(sslConnect, IN, { comm: 'a\\"b' })),
      () => line(agent(sslConnect, IN, { comm: 'prozeß' })),
      () => line(agent(sslConnect, IN, { extra: { a: 1 } })),
      () => line(agent(sslConnect, IN)).replace('{', '{ '),
      () => line(agent(sslConnect, IN)).replace('"service":', '"service": '),
      () => line(agent(sslConnect, IN)).slice(0, 120),
      () => line(agent(sslConnect, IN)).slice(0, 150) + line(agent(sslRead, IN)),
      () => `${line(agent(sslConnect, IN))}\r`,
      () => '',
      () => '   ',
      () => '[1,2]',
      () => 'null',
      // Broken where no lane reads, or lacking what JSON.parse's lane requires (issue #13).
      () => line(agent(sslConnect, IN)).replace('{"observedAt"', '{!"observedAt"'),
      () => line(agent(sslConnect, IN)).replace('"probeType":', '"probeType"'),
      () => line(agent(sslConnect, IN)).replace('"comm":"checkout"', '"comm":"check\u0001out"'),
      () => line(agent(sslConnect, IN)).replace('"comm":"checkout"', '"comm":"check\tout"'),
      () => line(agent(sslConnect, IN)).replace(',"pid":1000', ',"pid":10.'),
      () => line(agent(sslConnect, IN)).replace(',"pid":1000', ',"pid":1000,"pid":1000'),
      () => line(agent(sslConnect, IN)).replace(',"nodeName":"node-a"', ',"service":"billing"'),
      () => line(agent(sslConnect, IN, { function: undefined })),
      () => line(agent(sslConnect, IN, { binaryPath: 7 })),
      () => line(agent(sslRead, IN, { service: 'billing', binaryPath: undefined })),
      () => line(agent(sslRead, IN, { service: 'billing' })).replace('"probeType":', '"probeType"::'),
      () => line(agent(sslRead, IN, { nodeHash: 5 })),
      () => line({ ...agent(rc4, IN), function: undefined, comm: 'x' }),
    ];
    let seed = 7;
    const pick = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % variants.length;
    };
    // About 1.3 MB: several decoded pieces and read chunks.
    const lines = Array.from({ length: 5000 }, (_, i) => variants[i < variants.length ? i : pick()]!(i));
    const { report } = await run({ 'mixed.ndjson': `${lines.join('\n')}\n` });

    const reference = new VerificationAccumulator(map, window);
    for (const text of lines) {
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        reference.skipMalformed(`not JSON (${(error as Error).message})`);
        continue;
      }
      const problem = observationProblem(value);
      if (problem !== undefined) reference.skipMalformed(problem);
      else reference.add(value as Observation);
    }
    const expected = reference.report({ generatedAt: new Date(report.generatedAt) });
    const reasons = (r: typeof report) => r.observationsSkipped.malformedSamples.map((m) => m.reason);
    expect(reasons(report)).toEqual(reasons(expected));
    expect({ ...report, observationsSkipped: { ...report.observationsSkipped, malformedSamples: [] } }).toEqual({
      ...expected,
      observationsSkipped: { ...expected.observationsSkipped, malformedSamples: [] },
    });
    expect(report.observationsSkipped.otherService).toBeGreaterThan(0);
    expect(report.observationsSkipped.outOfWindow).toBeGreaterThan(0);
    expect(report.unexpectedSymbols).toHaveLength(4); // RC4 and three altered nodeHashes
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

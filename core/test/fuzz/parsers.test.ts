// SPDX-License-Identifier: Apache-2.0
/**
 * Property-based fuzzing (fast-check, fixed seed) of every parser that takes outside input (issue
 * #13, "beyond the list"): SBOM, function map, config, DSSE envelope, bundle manifest, and the NDJSON
 * reader's fast lane against JSON.parse. A parser may accept or refuse, but a refusal is always bad
 * input (exit 2) with one sentence, never another error class, a stack trace or a hang. The longer
 * run is `FUZZ_RUNS=5000 FUZZ_SEED=<n> npx vitest run core/test/fuzz`; its result is in docs/SECURITY.md.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Observation } from '@stella/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/attest/dsse.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import { collectConfigProblems } from '../../src/config/index.js';
import { exitCodeOf } from '../../src/errors.js';
import { parseFunctionMap } from '../../src/function-map/parse.js';
import { parseSbom } from '../../src/function-map/sbom.js';
import { observationLine } from '../../src/ndjson/contract.js';
import { VerificationAccumulator } from '../../src/verify/accumulator.js';
import { observationProblem, readObservationFiles } from '../../src/verify/ndjson.js';
import { call, LIBSSL, makeMap, path } from '../function-map/helpers.js';

export const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
export const SEED = Number(process.env.FUZZ_SEED ?? 1313);

/** Accepts or refuses as bad input with one line; anything else fails the property. */
function acceptsOrRefuses(parse: () => unknown): void {
  try {
    parse();
  } catch (error) {
    expect(exitCodeOf(error), String((error as Error).stack)).toBe(2);
    expect((error as Error).message.split('\n')[0]).not.toMatch(/^\s*at /);
  }
}

/** JSON values, nested objects with the field names each format uses, and deep nesting. */
const keys = fc.constantFrom(
  'bomFormat',
  'specVersion',
  'components',
  'purl',
  'evidence',
  'occurrences',
  'location',
  'metadata',
  'component',
  '_type',
  'predicate',
  'expectedPaths',
  'expectedCalls',
  'coverage',
  'windowSeconds',
  'payload',
  'payloadType',
  'signatures',
  'sig',
  'keyid',
  'files',
  'sha256',
  'size',
  'path',
  'runtime_agent',
  'observation_store',
  'postgres',
  'url',
  'type',
  'export',
  'probes',
  '__proto__',
  'constructor',
);
const { value: hostileJson } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue(),
    fc.constantFrom(
      null,
      Number('1e400'),
      -0,
      'pkg:',
      'pkg:deb/debian/libssl3@3?arch=amd64',
      'CycloneDX',
      '1.5',
      '%',
      '../../etc',
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(keys, tie('value'), { maxKeys: 5 }),
  ),
}));
const deep = (depth: number, leaf: string) => `${'{"components":['.repeat(depth)}${leaf}${']}'.repeat(depth)}`;

describe('parsers accept or refuse with one sentence, never crash (fast-check)', () => {
  it('SBOM: arbitrary JSON, CycloneDX-shaped objects, and nesting 6000 deep', () => {
    fc.assert(
      fc.property(hostileJson, fc.dictionary(keys, hostileJson, { maxKeys: 4 }), (anything, extra) => {
        acceptsOrRefuses(() => parseSbom(JSON.stringify(anything) ?? 'null', 'sbom.json'));
        const bom = { bomFormat: 'CycloneDX', specVersion: '1.5', ...extra };
        acceptsOrRefuses(() => parseSbom(JSON.stringify(bom), 'sbom.json'));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    const nested = `{"bomFormat":"CycloneDX","specVersion":"1.5",${deep(6000, '{"purl":"pkg:generic/x@1"}').slice(1)}`;
    acceptsOrRefuses(() => parseSbom(nested, 'deep.json'));
  });

  it('function map: arbitrary JSON and map-shaped objects', () => {
    const good = makeMap([path('p', ['tls'], [call('tls/SSL_connect', LIBSSL, '/lib/libssl.so.3')])]);
    fc.assert(
      fc.property(hostileJson, keys, hostileJson, (anything, key, value) => {
        acceptsOrRefuses(() => parseFunctionMap(anything, 'map.json'));
        const predicate = { ...good.predicate, [key]: value };
        acceptsOrRefuses(() => parseFunctionMap({ ...good, predicate }, 'map.json'));
        const coverage = { ...good.predicate.coverage, [key]: value };
        acceptsOrRefuses(() => parseFunctionMap({ ...good, predicate: { ...good.predicate, coverage } }, 'map.json'));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('config: arbitrary documents are problems with key paths, never exceptions', () => {
    fc.assert(
      fc.property(hostileJson, hostileJson, (anything, store) => {
        expect(Array.isArray(collectConfigProblems(anything))).toBe(true);
        const doc = { runtime_agent: { observation_store: store, coverage: { window_seconds: store } } };
        expect(Array.isArray(collectConfigProblems(doc))).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('DSSE envelope and bundle manifest: arbitrary text and JSON', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          hostileJson.map((v) => JSON.stringify(v) ?? ''),
        ),
        (text) => {
          acceptsOrRefuses(() => parseEnvelope(text, 'x.dsse.json'));
          acceptsOrRefuses(() => parseManifest(text, 'b.tgz'));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('the NDJSON fast lane agrees with JSON.parse on every line (fast-check)', () => {
  const expected = call('tls/SSL_connect', LIBSSL, '/lib/libssl.so.3');
  const map = makeMap([path('p', ['tls'], [expected])]);
  const window = { from: new Date('2024-05-01T12:00:00Z'), to: new Date('2024-05-01T13:00:00Z') };
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-ndjson-'));
  const field = fc.oneof(
    fc.string(),
    fc.constantFrom(expected.function, expected.binaryPath, expected.nodeHash, 'checkout', '2024-05-01T12:10:00.000Z'),
    fc.constantFrom('2024-05-01T12:10:00Z', '2024-05-01T12:59:59.999Z', '2024-02-30T12:00:00Z', '1e400', ''),
    fc.double(),
    fc.integer(),
    fc.constantFrom(Number('1e400'), -1, 0, 2 ** 53 + 1, null),
  );
  const record = fc.record(
    {
      observedAt: field,
      service: fc.oneof(fc.constant('checkout'), field),
      function: fc.oneof(fc.constant(expected.function), fc.string()),
      binaryPath: fc.oneof(fc.constant(expected.binaryPath), fc.string()),
      nodeHash: fc.oneof(fc.constant(expected.nodeHash), field),
      hitCount: fc.oneof(fc.integer({ min: 0, max: 1000 }), field),
      pid: field,
      comm: field,
    },
    { requiredKeys: [] },
  );
  const line = fc.oneof(
    record.map((r) => JSON.stringify(r)),
    record.map((r) => JSON.stringify(r).replace(/"hitCount":(\d+)/, '"hitCount":$1e0')),
  );

  /**
   * The agent's own lines (contract order, canonical times: what the fast lane takes in place), with
   * any field left out, another service, unexpected symbols, times in and out of the window.
   */
  const text = fc.oneof(fc.string(), fc.constantFrom('checkout', 'curl', 'node-a', 'uprobe'));
  const agentRecord = fc.record(
    {
      observedAt: fc.constantFrom('2024-05-01T12:10:00.000Z', '2024-05-01T12:59:59.999Z', '2024-05-01T13:00:00.000Z'),
      service: fc.constantFrom('checkout', 'payments'),
      function: fc.oneof(fc.constant(expected.function), text),
      symbol: text,
      purl: text,
      binaryPath: fc.oneof(fc.constant(expected.binaryPath), text),
      buildId: text,
      nodeHash: fc.oneof(fc.constant(expected.nodeHash), fc.constant(`sha256:${'ab'.repeat(32)}`), field),
      probeType: fc.constantFrom('uprobe', 'syscall'),
      pid: fc.oneof(fc.nat(), field),
      tid: fc.nat(),
      comm: text,
      containerId: text,
      cgroupId: fc.nat(),
      nodeName: text,
      sampleRate: fc.oneof(fc.nat(), fc.double()),
      countMode: fc.constantFrom('presence', 'count'),
      hitCount: fc.oneof(fc.integer({ min: 0, max: 1000 }), field),
    },
    { requiredKeys: ['observedAt', 'service', 'hitCount'] },
  );
  const agentLine = agentRecord.map((r) => observationLine(r as unknown as Observation).slice(0, -1));
  /**
   * An agent line with bytes inserted (junk, a raw control character, a copy of another part of the
   * line: a key given twice) or removed: JSON.parse refuses most, and so must every lane.
   */
  const mutation = fc.tuple(
    fc.nat(),
    fc.nat(),
    fc.nat({ max: 40 }),
    fc.oneof(
      fc.constantFrom('!', ',', '}', '{', '"', 'x', ' ', '\t', '\u0001', '\u001f', ':', '0', '-', 'e', 'null'),
      fc.constant(''),
    ),
  );
  function mutate(line: string, [at, from, length, junk]: [number, number, number, string]): string {
    const i = 1 + (at % Math.max(1, line.length - 1));
    const j = from % line.length;
    // No junk: a copy of line[j, j+length) goes in at i, or (length 0) the char at i goes.
    const insert = junk !== '' ? junk : line.slice(j, j + length);
    return line.slice(0, i) + insert + line.slice(insert === '' ? i + 1 : i);
  }
  const mutatedLine = fc.tuple(agentLine, mutation).map(([line, m]) => mutate(line, m));
  /**
   * A line the fast lane takes (the map's service, an expected call, a time in the window), with
   * the fields it does not read left to chance.
   */
  const fastLaneLine = agentRecord
    .map((r) => ({ ...r, service: 'checkout', nodeHash: expected.nodeHash, observedAt: '2024-05-01T12:10:00.000Z' }))
    .map((r) => observationLine(r as unknown as Observation).slice(0, -1));

  /** Junk inside a line the fast lane half-reads. */
  const junkLine = fc.tuple(record, fc.nat(), fc.constantFrom('!', ',', '}', '{', '"', 'x')).map(([r, at, junk]) => {
    const text = JSON.stringify(r);
    const i = 1 + (at % Math.max(1, text.length - 1));
    return text.slice(0, i) + junk + text.slice(i);
  });

  /** The reference: every line through JSON.parse and the same accumulator. */
  function reference(lines: string[]) {
    const acc = new VerificationAccumulator(map, window);
    lines.forEach((text, i) => {
      if (text.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        acc.skipMalformed('not JSON', `f:${i + 1}`);
        return;
      }
      const problem = observationProblem(value);
      if (problem !== undefined) acc.skipMalformed(problem, `f:${i + 1}`);
      else acc.add(value as Observation);
    });
    return acc.report({ generatedAt: new Date(0) });
  }

  /** What a report says about its lines: every count apart, so "malformed" ≠ "other service". */
  const summary = (r: ReturnType<VerificationAccumulator['report']>) => ({
    paths: r.paths.map((p) => [p.pathId, p.observed, p.hitCount, p.firstSeen, p.lastSeen]),
    unexpected: r.unexpectedSymbols.map((u) => [u.function, u.binaryPath, u.hitCount]),
    outOfWindow: r.observationsSkipped.outOfWindow,
    malformed: r.observationsSkipped.malformed,
    otherService: r.observationsSkipped.otherService,
    read: r.observationsRead,
  });

  it('same paths observed, hit counts, unexpected symbols and malformed count', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          line.filter((l) => !l.includes('\n') && !l.includes('\r')),
          { maxLength: 8 },
        ),
        async (lines) => {
          const file = join(dir, `${n++}.ndjson`);
          writeFileSync(file, `${lines.join('\n')}\n`);
          const acc = new VerificationAccumulator(map, window);
          await readObservationFiles([file], acc);
          const fast = acc.report({ generatedAt: new Date(0) });
          const slow = reference(lines);
          expect(summary(fast)).toEqual(summary(slow));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  /** Each line alone in a file through the reader (whatever lane takes it) and through JSON.parse. */
  async function eachLineAgrees(lines: string[], name: string) {
    for (const [i, l] of lines.entries()) {
      const file = join(dir, `${name}-${i}.ndjson`);
      writeFileSync(file, `${l}\n`);
      const acc = new VerificationAccumulator(map, window);
      await readObservationFiles([file], acc);
      expect(summary(acc.report({ generatedAt: new Date(0) })), l).toEqual(summary(reference([l])));
    }
  }

  it('for any agent-shaped line, mutated or not, the reader decides like JSON.parse', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(agentLine, mutatedLine).filter((l) => !/[\n\r]/.test(l)),
          { minLength: 1, maxLength: 4 },
        ),
        (lines) => eachLineAgrees(lines, `agent-${n++}`),
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('after a template has matched many lines, lines with other integers and mutated copies are decided like JSON.parse', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fastLaneLine,
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(
          fc.oneof(
            fc.nat({ max: 99_999 }).map(String),
            // What an integer cut must refuse as JSON.parse does, or take as it does.
            fc.constantFrom(
              '01',
              '00',
              '-1',
              '-0',
              '1.5',
              '1e3',
              '',
              '0x1',
              ' 1',
              '1 ',
              'true',
              'null',
              '"1"',
              '9'.repeat(30),
            ),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        async (line, mutations, pids) => {
          // The template is made from the first line and matched by the repeats; then the same line
          // with other integers (the template's cuts) and mutated copies, counted as JSON.parse does.
          const lines = [
            ...Array.from({ length: 20 }, () => line),
            ...pids.map((pid) => line.replace(/"(pid|tid)":\d+/, `"$1":${pid}`)),
            ...mutations.map((m) => mutate(line, m)),
          ].filter((l) => !/[\n\r]/.test(l));
          const file = join(dir, `warm-${n++}.ndjson`);
          writeFileSync(file, `${lines.join('\n')}\n`);
          const acc = new VerificationAccumulator(map, window);
          await readObservationFiles([file], acc);
          expect(summary(acc.report({ generatedAt: new Date(0) }))).toEqual(summary(reference(lines)));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('for any line with junk in it, the reader decides like JSON.parse', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          junkLine.filter((l) => !/[\n\r]/.test(l)),
          { minLength: 1, maxLength: 4 },
        ),
        (lines) => eachLineAgrees(lines, `junk-${n++}`),
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

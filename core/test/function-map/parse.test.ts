// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { functionMapDigest } from '../../src/function-map/hash.js';
import { FunctionMapInvalidError, parseFunctionMap, readFunctionMap } from '../../src/function-map/parse.js';
import { call, LIBSSL, makeMap, path } from './helpers.js';

// Tests poke at arbitrary JSON shapes on purpose.
// biome-ignore lint/suspicious/noExplicitAny: free-form JSON under test
type Json = Record<string, any>;

const camelMap = () =>
  makeMap(
    [path('tls-handshake', ['tls'], [call('tls/SSL_connect', LIBSSL, '/usr/lib/x86_64-linux-gnu/libssl.so.3')])],
    {
      perTag: { tls: 0.99 },
    },
  );

function toSnake(value: unknown, keysAreData = false): unknown {
  if (Array.isArray(value)) return value.map((v) => toSnake(v));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const key = keysAreData ? k : k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
      return [key, toSnake(v, k === 'perTag' || k === 'digest')];
    }),
  );
}

describe('parseFunctionMap', () => {
  it('accepts the camelCase form and fills defaults', () => {
    const doc = camelMap() as unknown as Json;
    delete doc.predicate.coverage.failOnUnexpected;
    delete doc.predicate.expectedPaths[0].optional;
    const map = parseFunctionMap(doc, 'fm.json');
    expect(map.predicate.coverage.failOnUnexpected).toBe(false);
    expect(map.predicate.expectedPaths[0]!.optional).toBe(false);
  });

  it('accepts the snake_case Stella form and the short _type; both spellings have one digest', () => {
    const snake = toSnake(camelMap()) as Json;
    expect(snake.predicate.expected_paths[0].expected_calls[0].node_hash).toMatch(/^sha256:/);
    expect(snake.predicate.coverage.per_tag).toEqual({ tls: 0.99 });
    const fromSnake = parseFunctionMap(snake, 'snake.json');
    expect(fromSnake).toEqual(camelMap());
    expect(functionMapDigest(fromSnake)).toBe(functionMapDigest(parseFunctionMap(camelMap(), 'camel.json')));

    const alias = { ...camelMap(), _type: 'stella.ops/functionMap@v1' };
    expect(parseFunctionMap(alias, 'alias.json')._type).toBe('stella.ops/functionMap@v1');
  });

  it('names the JSON path of every problem at once (camelCase)', () => {
    const doc = camelMap() as unknown as Json;
    doc.predicate.colour = 'red';
    doc.predicate.expectedPaths[0].expectedCalls[0].nodeHash = 'md5:abc';
    delete doc.predicate.service;
    doc.predicate.coverage.minObservationRate = 1.5;
    expect(() => parseFunctionMap(doc, 'fm.json')).toThrow(FunctionMapInvalidError);
    try {
      parseFunctionMap(doc, 'fm.json');
    } catch (error) {
      expect((error as Error).message).toBe(
        [
          'invalid function map fm.json: 4 problems',
          '  - $.predicate.service: required field is missing',
          '  - $.predicate.colour: unknown field',
          '  - $.predicate.coverage.minObservationRate: must be <= 1',
          '  - $.predicate.expectedPaths[0].expectedCalls[0].nodeHash: must match pattern "^sha256:[0-9a-f]{64}$"',
        ].join('\n'),
      );
      expect(error).toBeInstanceOf(InputError);
    }
  });

  it('names paths as written in a snake_case document', () => {
    const doc = toSnake(camelMap()) as Json;
    doc.predicate.expected_paths[0].expected_calls[0].probe_types = ['magic'];
    doc.predicate.expected_paths[0].bogus_field = 1;
    delete doc.predicate.expected_paths[0].path_hash;
    expect(() => parseFunctionMap(doc, 'snake.json')).toThrow(
      [
        'invalid function map snake.json: 3 problems',
        '  - $.predicate.expected_paths[0].path_hash: required field is missing',
        '  - $.predicate.expected_paths[0].bogus_field: unknown field',
        '  - $.predicate.expected_paths[0].expected_calls[0].probe_types[0]: must be one of "uprobe", "uretprobe", "kprobe", "kretprobe", "fentry", "tracepoint", "raw_tracepoint"',
      ].join('\n'),
    );
  });

  it('rejects an unknown _type, a clash of spellings, duplicate path ids and non-objects', () => {
    expect(() => parseFunctionMap({ ...camelMap(), _type: 'x' }, 'a.json')).toThrow(
      'invalid function map a.json: 1 problem\n  - $._type: must be one of "https://stella.ops/predicates/function-map/v1", "stella.ops/functionMap@v1"',
    );
    const clash = camelMap() as unknown as Json;
    clash.predicate.build_id = 'other';
    expect(() => parseFunctionMap(clash, 'b.json')).toThrow(
      '  - $.predicate.build_id: duplicates field "buildId" (give one spelling)',
    );
    const dup = camelMap();
    dup.predicate.expectedPaths.push(dup.predicate.expectedPaths[0]!);
    expect(() => parseFunctionMap(dup, 'c.json')).toThrow(
      '  - $.predicate.expectedPaths[1].pathId: duplicate pathId "tls-handshake" (first at index 0)',
    );
    expect(() => parseFunctionMap([], 'd.json')).toThrow('invalid function map d.json: $ must be a JSON object');
  });
});

describe('readFunctionMap', () => {
  it('reads a file, and reports missing files and bad JSON with the file name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fm-'));
    const good = join(dir, 'fm.json');
    await writeFile(good, JSON.stringify(camelMap()));
    expect((await readFunctionMap(good)).predicate.service).toBe('checkout');
    await expect(readFunctionMap(join(dir, 'nope.json'))).rejects.toThrow(
      `cannot read function map ${dir}/nope.json: no such file`,
    );
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"_type": ');
    await expect(readFunctionMap(bad)).rejects.toThrow(new RegExp(`^function map ${bad} is not valid JSON: `));
  });
});

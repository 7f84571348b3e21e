// SPDX-License-Identifier: Apache-2.0
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { functionMapValidator, type SchemaError } from './schema.js';
import type { FunctionMap } from './types.js';

export interface MapProblem {
  /** JSON path in the document as written, e.g. `$.predicate.expected_paths[2].node_hash`. */
  path: string;
  message: string;
}

/** Objects whose keys are data (tag names, digest algorithms), not field names: never renamed. */
const DATA_KEYED = new Set(['perTag', 'digest']);

const snakeToCamel = (key: string) =>
  key.startsWith('_') ? key : key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const camelToSnake = (key: string) => key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

interface Conversion {
  value: unknown;
  snake: boolean;
  problems: MapProblem[];
}

function formatPath(segments: readonly (string | number)[]): string {
  let out = '$';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(s)) out += '.' + s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** snake_case → camelCase copy of the document; records clashes such as `expectedPaths` + `expected_paths`. */
function toCamel(value: unknown): Conversion {
  const problems: MapProblem[] = [];
  let snake = false;
  const walk = (v: unknown, path: (string | number)[], keysAreData: boolean): unknown => {
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i], false));
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
      const camel = keysAreData ? key : snakeToCamel(key);
      if (camel !== key) snake = true;
      if (Object.hasOwn(out, camel)) {
        problems.push({ path: formatPath([...path, key]), message: `duplicates field "${camel}" (give one spelling)` });
        continue;
      }
      out[camel] = walk(child, [...path, key], DATA_KEYED.has(camel));
    }
    return out;
  };
  return { value: walk(value, [], false), snake, problems };
}

/** Maps a path in the camelCase copy back to the keys as written in the original document. */
function originalSegments(original: unknown, camelSegments: readonly string[]): (string | number)[] {
  const out: (string | number)[] = [];
  let node: unknown = original;
  let keysAreData = false;
  for (const seg of camelSegments) {
    if (Array.isArray(node)) {
      const index = Number(seg);
      out.push(index);
      node = node[index];
      keysAreData = false;
      continue;
    }
    let key = seg;
    if (node !== null && typeof node === 'object' && !keysAreData) {
      const found = Object.keys(node as object).find((k) => snakeToCamel(k) === seg);
      if (found !== undefined) key = found;
    }
    out.push(key);
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    keysAreData = DATA_KEYED.has(seg);
  }
  return out;
}

function describe(error: SchemaError): { extra?: string; message: string } {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return { extra: String(params.additionalProperty), message: 'unknown field' };
    case 'required':
      return { extra: String(params.missingProperty), message: 'required field is missing' };
    case 'enum':
      return {
        message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { message: `must be ${JSON.stringify(params.allowedValue)}` };
    default:
      return { message: error.message ?? error.keyword };
  }
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Validates a function map (camelCase, or the snake_case Stella contract; either `_type`) against
 * the shipped JSON Schema and returns it in camelCase with the schema's defaults filled in.
 * Throws one InputError listing every problem with its JSON path as written in `source`.
 */
export function parseFunctionMap(json: unknown, source: string): FunctionMap {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InputError(`invalid function map ${source}: $ must be a JSON object`);
  }
  const converted = toCamel(json);
  const problems = [...converted.problems];
  const validate = functionMapValidator();
  if (!validate(converted.value)) {
    for (const error of validate.errors ?? []) {
      const { extra, message } = describe(error);
      const pointer = decodePointer(error.instancePath);
      const segments = originalSegments(json, pointer);
      if (extra !== undefined) {
        // The field as written: an unknown key is found in the original object, a missing one is
        // spelled in the document's own style.
        const written =
          error.keyword === 'additionalProperties' ? originalSegments(json, [...pointer, extra]).pop() : undefined;
        segments.push(written ?? (converted.snake ? camelToSnake(extra) : extra));
      }
      problems.push({ path: formatPath(segments), message });
    }
  }
  if (problems.length === 0) {
    const map = converted.value as FunctionMap;
    const seen = new Map<string, number>();
    map.predicate.expectedPaths.forEach((p, i) => {
      const first = seen.get(p.pathId);
      if (first === undefined) seen.set(p.pathId, i);
      else {
        const field = converted.snake ? 'expected_paths' : 'expectedPaths';
        problems.push({
          path: formatPath(['predicate', field, i, converted.snake ? 'path_id' : 'pathId']),
          message: `duplicate pathId "${p.pathId}" (first at index ${first})`,
        });
      }
    });
    if (problems.length === 0) return map;
  }
  throw new FunctionMapInvalidError(source, problems);
}

/** InputError whose `problems` list every schema violation; exit code 2. */
export class FunctionMapInvalidError extends InputError {
  constructor(
    readonly source: string,
    readonly problems: MapProblem[],
  ) {
    super(
      `invalid function map ${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'),
    );
  }
}

/** Reads and validates a function map file (JSON). */
export async function readFunctionMap(path: string): Promise<FunctionMap> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(error);
    throw new InputError(`cannot read function map ${path}: ${why}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`function map ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseFunctionMap(json, path);
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Structural validation against the shipped JSON Schema (core/schemas/stella-config.schema.json,
 * the same file YAML/JSON editors use), with ajv's errors rewritten as sentences.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isPlainObject, type KeySegment, pointerToSegments } from './key-path.js';
import { type RawProblem, showValue } from './problems.js';
import { closestKey } from './suggest.js';

export const CONFIG_SCHEMA_URL = new URL('../../schemas/stella-config.schema.json', import.meta.url);

type SchemaNode = Record<string, unknown> & {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: boolean | SchemaNode;
  enum?: unknown[];
  description?: string;
};

let cached: { schema: SchemaNode; validate: ValidateFunction } | undefined;

export function configSchema(): SchemaNode {
  return compiled().schema;
}

function compiled(): { schema: SchemaNode; validate: ValidateFunction } {
  if (!cached) {
    const schema = JSON.parse(readFileSync(CONFIG_SCHEMA_URL, 'utf8')) as SchemaNode;
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
    cached = { schema, validate: ajv.compile(schema) };
  }
  return cached;
}

/** Every structural problem of `config`, each with its key path, the bad value and what is allowed. */
export function schemaProblems(config: unknown): RawProblem[] {
  const { validate } = compiled();
  if (validate(config)) return [];
  return (validate.errors ?? []).map((error) => describeAjvError(error, config)).filter((p) => p !== undefined);
}

function describeAjvError(error: ErrorObject, root: unknown): RawProblem | undefined {
  const segments = pointerToSegments(error.instancePath, root);
  const schema = (error.parentSchema ?? {}) as SchemaNode;
  const got = `got ${showValue(error.data, segments)}`;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      return { segments: [...segments, key], message: unknownKeyMessage(key, segments, schema) };
    }
    case 'required': {
      const key = String((error.params as { missingProperty: string }).missingProperty);
      return { segments: [...segments, key], message: 'is required' };
    }
    case 'enum':
      return { segments, message: `must be one of ${listOf(schema.enum ?? [])}, ${got}` };
    case 'minLength':
      return { segments, message: `must not be empty, ${got}` };
    case 'minItems':
      return { segments, message: `must list at least ${(error.params as { limit: number }).limit} item(s)` };
    case 'uniqueItems': {
      const { i } = error.params as { i: number; j: number };
      const duplicate = Array.isArray(error.data) ? error.data[i] : undefined;
      return { segments, message: `must not list ${showValue(duplicate, segments)} twice` };
    }
    case 'type':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'pattern':
      return { segments, message: `must be ${allowedBy(schema)}, ${got}` };
    default:
      return { segments, message: `${error.message ?? 'is invalid'}, ${got}` };
  }
}

function unknownKeyMessage(key: string, at: readonly KeySegment[], schema: SchemaNode): string {
  const allowed = Object.keys(schema.properties ?? {});
  if (at.length === 0) {
    // Tuning snippets are often written as bare `probes:`/`export:`, without their `runtime_agent:` parent.
    const agentKeys = Object.keys(configSchema().properties?.runtime_agent?.properties ?? {});
    const nested = agentKeys.includes(key) ? key : closestKey(key, agentKeys);
    if (nested && !closestKey(key, allowed)) {
      return `unknown key; did you mean "runtime_agent.${nested}"? Agent settings go under runtime_agent`;
    }
  }
  const suggestion = closestKey(key, allowed);
  const hint = suggestion ? `; did you mean "${suggestion}"?` : '';
  return `unknown key${hint} (allowed: ${allowed.join(', ')})`;
}

/** What a schema node accepts, in words. */
export function allowedBy(schema: SchemaNode): string {
  if (schema.enum) return `one of ${listOf(schema.enum)}`;
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.includes('string') && typeof schema.pattern === 'string' && schema.description) return schema.description;
  if (types.length === 1 && (types[0] === 'integer' || types[0] === 'number')) return numberRange(schema, types[0]);
  const words = types.map((type) => {
    switch (type) {
      case 'string':
        return schema.minLength ? 'a non-empty string' : 'a string';
      case 'boolean':
        return 'true or false';
      case 'array':
        return 'a list';
      case 'object':
        return 'a mapping';
      default:
        return `a${type === 'integer' ? 'n' : ''} ${type}`;
    }
  });
  return words.join(' or ') || 'valid';
}

function numberRange(schema: SchemaNode, type: string): string {
  const noun = type === 'integer' ? 'an integer' : 'a number';
  const min = schema.minimum as number | undefined;
  const max = schema.maximum as number | undefined;
  const exclusiveMin = schema.exclusiveMinimum as number | undefined;
  if (exclusiveMin !== undefined && max !== undefined) return `${noun} greater than ${exclusiveMin} and at most ${max}`;
  if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
  if (exclusiveMin !== undefined) return `${noun} greater than ${exclusiveMin}`;
  if (min !== undefined) return min === 0 ? `${noun} ≥ 0` : `${noun} ≥ ${min}`;
  return noun;
}

function listOf(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

/** The schema node at a key path (for coercing env strings), or undefined when the path is unknown. */
export function schemaAt(segments: readonly string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = configSchema();
  for (const segment of segments) {
    if (!node) return undefined;
    if (node.type === 'array' || (Array.isArray(node.type) && node.type.includes('array'))) {
      node = /^\d+$/.test(segment) ? node.items : undefined;
    } else if (node.properties?.[segment]) {
      node = node.properties[segment];
    } else if (isPlainObject(node.additionalProperties)) {
      node = node.additionalProperties as SchemaNode;
    } else {
      return undefined;
    }
  }
  return node;
}

// SPDX-License-Identifier: Apache-2.0
import { createHash } from 'node:crypto';
import { PackageURL } from 'packageurl-js';
import { InputError } from '../errors.js';
import type { FunctionMap } from './types.js';

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The purl as nodeHash sees it (docs/FUNCTION-MAP.md): `pkg:type/namespace/name`, type, namespace and name in
 * lower case, without version, qualifiers or subpath. Parsed with packageurl-js, so percent-encoding
 * follows the purl spec. Throws InputError for a string that is not a purl.
 */
export function normalizePurl(purl: string): string {
  let parsed: PackageURL;
  try {
    parsed = PackageURL.fromString(purl);
  } catch (error) {
    // packageurl-js can also throw TypeErrors/ReferenceErrors on some invalid inputs.
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`invalid purl "${purl}": ${reason}`);
  }
  const lower = (s: string | undefined) => (s === undefined || s === '' ? undefined : s.toLowerCase());
  return new PackageURL(parsed.type.toLowerCase(), lower(parsed.namespace), parsed.name.toLowerCase()).toString();
}

/** `sha256:` + hex(sha256(normalizedPurl + ":" + symbol)). */
export function nodeHash(purl: string, symbol: string): string {
  return 'sha256:' + sha256Hex(normalizePurl(purl) + ':' + symbol);
}

/**
 * `sha256:` + hex(sha256(entry + ":" + intermediates.join(":") + ":" + sink)), taken literally from
 * docs/FUNCTION-MAP.md: `nodeHashes` is [entry, ...intermediates, sink]; with no intermediates the hashed text
 * is `entry::sink`.
 */
export function pathHash(nodeHashes: readonly string[]): string {
  if (nodeHashes.length < 2) {
    throw new InputError(`pathHash needs an entry and a sink node hash, got ${nodeHashes.length}`);
  }
  const entry = nodeHashes[0]!;
  const sink = nodeHashes[nodeHashes.length - 1]!;
  const intermediates = nodeHashes.slice(1, -1).join(':');
  return 'sha256:' + sha256Hex(entry + ':' + intermediates + ':' + sink);
}

/** JSON with object keys sorted (UTF-16 order, as RFC 8785) and no whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return '[' + value.map((v) => canonicalJson(v === undefined ? null : v)).join(',') + ']';
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(record[k])).join(',') + '}';
}

/**
 * `sha256:` + hex of the canonical JSON of the parsed (camelCase, defaults filled) map, so the
 * camelCase and snake_case spellings of one map have one digest.
 */
export function functionMapDigest(map: FunctionMap): string {
  return 'sha256:' + sha256Hex(canonicalJson(map));
}

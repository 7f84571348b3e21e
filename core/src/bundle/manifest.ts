// SPDX-License-Identifier: Apache-2.0
import { InputError } from '../errors.js';
import { checkBundlePath } from './extract.js';

export const BUNDLE_MANIFEST_TYPE = 'https://stella.ops/bundles/linkage-bundle/v1';
/** DSSE payload type of the signed manifest (`manifest.dsse.json`). */
export const BUNDLE_MANIFEST_PAYLOAD_TYPE = 'application/vnd.stellaops.linkage-bundle-manifest.v1+json';
export const MANIFEST_PATH = 'manifest.json';
export const MANIFEST_ENVELOPE_PATH = 'manifest.dsse.json';
export const FUNCTION_MAP_BUNDLE_PATH = 'function-map.json';
export const REPORT_BUNDLE_PATH = 'report.json';
export const OBSERVATIONS_DIR = 'observations';

export interface BundleFileEntry {
  path: string;
  sha256: string;
  size: number;
}

/** `manifest.json`: what the bundle holds and each file's digest. Documented in docs/ATTESTATION.md. */
export interface BundleManifest {
  _type: typeof BUNDLE_MANIFEST_TYPE;
  schemaVersion: '1.0.0';
  createdAt: string;
  generator: { name: string; version: string };
  functionMap: string;
  observations: string[];
  report?: string;
  /** Every file of the bundle except manifest.json and manifest.dsse.json, sorted by path. */
  files: BundleFileEntry[];
}

const TOP_LEVEL = new Set([
  '_type',
  'schemaVersion',
  'createdAt',
  'generator',
  'functionMap',
  'observations',
  'report',
  'files',
]);

/** Parses manifest.json; every problem names its field. Paths are checked like tar entry paths. */
export function parseManifest(text: string, bundle: string): BundleManifest {
  const bad = (why: string) => new InputError(`bundle ${bundle}: ${MANIFEST_PATH} ${why}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw bad(`is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('must be a JSON object');
  const m = value as Record<string, unknown>;
  for (const key of Object.keys(m)) if (!TOP_LEVEL.has(key)) throw bad(`has an unknown field "${key}"`);
  if (m._type !== BUNDLE_MANIFEST_TYPE) throw bad(`field "_type" must be "${BUNDLE_MANIFEST_TYPE}"`);
  if (m.schemaVersion !== '1.0.0') throw bad('field "schemaVersion" must be "1.0.0"');
  if (typeof m.functionMap !== 'string') throw bad('field "functionMap" must be a path');
  if (m.report !== undefined && typeof m.report !== 'string') throw bad('field "report" must be a path');
  if (!Array.isArray(m.observations) || m.observations.some((p) => typeof p !== 'string')) {
    throw bad('field "observations" must be an array of paths');
  }
  if (!Array.isArray(m.files)) throw bad('field "files" must be an array');
  const seen = new Set<string>();
  m.files.forEach((entry: unknown, i: number) => {
    const f = entry as Record<string, unknown> | null;
    if (typeof f !== 'object' || f === null || typeof f.path !== 'string')
      throw bad(`files[${i}].path must be a string`);
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) {
      throw bad(`files[${i}].sha256 must be 64 lowercase hex digits`);
    }
    if (typeof f.size !== 'number' || !Number.isSafeInteger(f.size) || f.size < 0) {
      throw bad(`files[${i}].size must be a non-negative integer`);
    }
    checkBundlePath(f.path, bundle);
    if (seen.has(f.path)) throw bad(`lists "${f.path}" twice`);
    seen.add(f.path);
  });
  const listed = (path: string, field: string) => {
    if (!seen.has(path)) throw bad(`field "${field}" names "${path}", which is not in "files"`);
  };
  listed(m.functionMap, 'functionMap');
  if (typeof m.report === 'string') listed(m.report, 'report');
  (m.observations as string[]).forEach((p, i) => {
    listed(p, `observations[${i}]`);
  });
  return m as unknown as BundleManifest;
}

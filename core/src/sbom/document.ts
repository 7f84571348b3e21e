// SPDX-License-Identifier: Apache-2.0
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { parseSbom } from '../function-map/sbom.js';

/** A CycloneDX JSON document as read, with what it takes to write it back in the same layout. */
export interface SbomDocument {
  bom: Record<string, unknown>;
  /** The input's indentation (`'  '`, `'\t'`, …), or undefined for single-line JSON. */
  indent: string | undefined;
  finalNewline: boolean;
}

/** Versions whose evidence fields (identity[], occurrences[].symbol/additionalContext) annotate uses. */
const MIN_SPEC = [1, 6];

/**
 * Reads an SBOM for annotation: checked as `function-map generate` checks it (CycloneDX JSON
 * 1.2–1.7, one sentence naming the problem), kept whole as parsed JSON.
 */
export async function readSbomDocument(path: string): Promise<SbomDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read SBOM ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'error')}`);
  }
  parseSbom(text, path);
  const bom = JSON.parse(text) as Record<string, unknown>;
  if (bom.components !== undefined && !Array.isArray(bom.components)) {
    throw new InputError(`SBOM ${path}: field "components" must be an array`);
  }
  const indent = /^\{\r?\n([ \t]+)"/.exec(text.trimStart())?.[1];
  return { bom, indent, finalNewline: text.endsWith('\n') };
}

/**
 * Raises the document to the spec version annotation needs: kept when 1.6 or later, else 1.6 (the
 * first with `evidence.identity[]` and occurrence `symbol`/`additionalContext`; every field of
 * 1.2–1.5 is still valid there), `$schema` following when it names a CycloneDX schema.
 */
export function raiseSpecVersion(bom: Record<string, unknown>): void {
  const [major = 0, minor = 0] = String(bom.specVersion).split('.').map(Number);
  if (major > MIN_SPEC[0]! || (major === MIN_SPEC[0] && minor >= MIN_SPEC[1]!)) return;
  const version = `${MIN_SPEC[0]}.${MIN_SPEC[1]}`;
  bom.specVersion = version;
  if (typeof bom.$schema === 'string') {
    bom.$schema = bom.$schema.replace(/bom-1\.\d\.schema\.json/, `bom-${version}.schema.json`);
  }
}

export function serializeSbomDocument(doc: SbomDocument): string {
  return JSON.stringify(doc.bom, null, doc.indent) + (doc.finalNewline || doc.indent !== undefined ? '\n' : '');
}

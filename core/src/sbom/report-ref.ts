// SPDX-License-Identifier: Apache-2.0
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { decodeBase64, loadPublicKey, parseEnvelope, verifyEnvelope } from '../attest/index.js';
import { InputError } from '../errors.js';

/** The verification report an annotated SBOM points at (`externalReferences`, runtime-analysis-report). */
export interface ReportReference {
  /** What goes into the reference's `url`: the path as given, or `--report-url`. */
  url: string;
  /** SHA-256 (hex) of the file referenced: the report, or its DSSE envelope when signed. */
  sha256: string;
  /** Set when the file is a DSSE envelope; its digest is then `sha256`. */
  envelope?: { payloadType: string; keyids: string[]; verifiedKeyid?: string };
  verdict: string;
  observationRate: number;
  functionMapDigest: string;
  window: { from: string; to: string };
}

function reportFields(value: unknown, source: string): Omit<ReportReference, 'url' | 'sha256' | 'envelope'> {
  const r = (value ?? {}) as Record<string, unknown>;
  const fm = (r.functionMap ?? {}) as Record<string, unknown>;
  const w = (r.window ?? {}) as Record<string, unknown>;
  if (typeof r.verdict !== 'string' || typeof r.observationRate !== 'number') {
    throw new InputError(
      `report ${source}: fields "verdict" and "observationRate" are missing; expected a verification report (stella function-map verify --format json) or its DSSE envelope (stella attest sign)`,
    );
  }
  if (typeof fm.digest !== 'string') throw new InputError(`report ${source}: field "functionMap.digest" is missing`);
  if (typeof w.from !== 'string' || typeof w.to !== 'string') {
    throw new InputError(`report ${source}: fields "window.from" and "window.to" must be ISO-8601 strings`);
  }
  return {
    verdict: r.verdict,
    observationRate: r.observationRate,
    functionMapDigest: fm.digest,
    window: { from: w.from, to: w.to },
  };
}

/**
 * Reads `--report`: a verification report JSON, or the DSSE envelope `stella attest sign` made
 * of one (an in-toto Statement whose predicate is the report). With `key`, the envelope's
 * signature must verify with it.
 */
export async function readReportReference(path: string, options: { url?: string; key?: string } = {}) {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read report ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'error')}`);
  }
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new InputError(`report ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const url = options.url ?? path;
  const isEnvelope = value !== null && typeof value === 'object' && 'payloadType' in value && 'signatures' in value;
  if (!isEnvelope) {
    if (options.key !== undefined)
      throw new InputError(`report ${path} is not signed (not a DSSE envelope) but --key was given`);
    return { url, sha256, ...reportFields(value, path) } satisfies ReportReference;
  }
  const envelope = parseEnvelope(bytes.toString('utf8'), path);
  let verifiedKeyid: string | undefined;
  if (options.key !== undefined) {
    const publicKey = await loadPublicKey(options.key);
    verifiedKeyid = verifyEnvelope(envelope, publicKey, { source: path, keySource: `key ${options.key}` }).keyid;
  }
  let statement: Record<string, unknown>;
  try {
    statement = JSON.parse(decodeBase64(envelope.payload, `envelope ${path}`).toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`envelope ${path}: its payload is not JSON; expected an in-toto Statement of a report`);
  }
  const report = statement?.predicate ?? statement;
  return {
    url,
    sha256,
    envelope: {
      payloadType: envelope.payloadType,
      keyids: envelope.signatures.map((s) => s.keyid),
      ...(verifiedKeyid !== undefined ? { verifiedKeyid } : {}),
    },
    ...reportFields(report, `${path} (DSSE payload)`),
  } satisfies ReportReference;
}

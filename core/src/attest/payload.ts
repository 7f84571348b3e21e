// SPDX-License-Identifier: Apache-2.0
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import type { InTotoStatement } from './types.js';

/** DSSE payload type of a signed function map (the map's own JSON bytes, unchanged). */
export const FUNCTION_MAP_PAYLOAD_TYPE = 'application/vnd.stellaops.function-map.v1+json';
/** DSSE payload type of an in-toto Statement (used for verification reports). */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** Predicate type of a signed verification report (see docs/ATTESTATION.md). */
export const LINKAGE_VERIFICATION_PREDICATE_TYPE = 'https://stella.ops/predicates/linkage-verification/v1';
/** Payload types `stella attest sign` produces and `stella attest verify` accepts by default. */
export const KNOWN_PAYLOAD_TYPES: readonly string[] = [FUNCTION_MAP_PAYLOAD_TYPE, IN_TOTO_PAYLOAD_TYPE];

const FUNCTION_MAP_TYPES = new Set(['https://stella.ops/predicates/function-map/v1', 'stella.ops/functionMap@v1']);

export type AttestationInputKind = 'function-map' | 'verification-report' | 'in-toto-statement';

/** Tells a function map, a verification report and a ready-made in-toto Statement apart. */
export function detectInputKind(document: unknown, source: string): AttestationInputKind {
  if (typeof document === 'object' && document !== null && !Array.isArray(document)) {
    const record = document as Record<string, unknown>;
    if (typeof record._type === 'string' && FUNCTION_MAP_TYPES.has(record._type)) return 'function-map';
    if (record._type === IN_TOTO_STATEMENT_TYPE) return 'in-toto-statement';
    if ('verdict' in record && 'functionMap' in record && 'observationRate' in record) return 'verification-report';
  }
  throw new InputError(
    `cannot tell what ${source} is: expected a function map ("_type": "${[...FUNCTION_MAP_TYPES][0]}"), ` +
      `a verification report (with "verdict", "functionMap" and "observationRate") or an in-toto Statement; ` +
      `pass --payload-type to sign it anyway`,
  );
}

function sha256Hex(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const match = /^(?:sha256:)?([0-9a-f]{64})$/i.exec(value);
    return match?.[1]?.toLowerCase();
  }
  if (typeof value === 'object' && value !== null) return sha256Hex((value as Record<string, unknown>).sha256);
  return undefined;
}

/**
 * Wraps a verification report as an in-toto Statement v1. The subject is the function map the
 * report was computed against (`functionMap.digest`), named after the service; the predicate
 * is the report unchanged.
 */
export function reportStatement(report: Record<string, unknown>, source: string): InTotoStatement {
  const functionMap = (report.functionMap ?? {}) as Record<string, unknown>;
  const digest = sha256Hex(functionMap.digest);
  if (!digest) {
    throw new InputError(
      `verification report ${source}: field "functionMap.digest" must be a SHA-256 digest ("sha256:<64 hex>") to name the statement's subject`,
    );
  }
  const service =
    typeof functionMap.service === 'string' && functionMap.service !== '' ? functionMap.service : 'function-map';
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: `function-map:${service}`, digest: { sha256: digest } }],
    predicateType: LINKAGE_VERIFICATION_PREDICATE_TYPE,
    predicate: report,
  };
}

/**
 * Turns the bytes of an input file into what is signed. A function map is signed byte for byte;
 * a report becomes an in-toto Statement; a Statement is signed as is. `payloadType` overrides
 * detection (it must be one of KNOWN_PAYLOAD_TYPES).
 */
export function preparePayload(
  bytes: Buffer,
  source: string,
  payloadType?: string,
): { payloadType: string; payload: Buffer; kind: AttestationInputKind | 'raw' } {
  if (payloadType !== undefined && !KNOWN_PAYLOAD_TYPES.includes(payloadType)) {
    throw new InputError(
      `unsupported payload type "${payloadType}": expected ${KNOWN_PAYLOAD_TYPES.map((t) => `"${t}"`).join(' or ')}`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new InputError(`${source} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (payloadType === FUNCTION_MAP_PAYLOAD_TYPE) return { payloadType, payload: bytes, kind: 'raw' };
  let kind: AttestationInputKind;
  try {
    kind = detectInputKind(document, source);
  } catch (error) {
    // --payload-type in-toto on an unrecognised document: wrap it as a report would be.
    if (payloadType === IN_TOTO_PAYLOAD_TYPE) kind = 'verification-report';
    else throw error;
  }
  if (payloadType === undefined && kind === 'function-map') {
    return { payloadType: FUNCTION_MAP_PAYLOAD_TYPE, payload: bytes, kind };
  }
  if (kind === 'in-toto-statement') return { payloadType: IN_TOTO_PAYLOAD_TYPE, payload: bytes, kind };
  if (kind === 'function-map') {
    throw new InputError(
      `${source} is a function map; sign it with payload type "${FUNCTION_MAP_PAYLOAD_TYPE}" (omit --payload-type)`,
    );
  }
  const statement = reportStatement(document as Record<string, unknown>, source);
  return { payloadType: IN_TOTO_PAYLOAD_TYPE, payload: Buffer.from(JSON.stringify(statement)), kind };
}

/** After a signature verifies: an in-toto payload must be a Statement v1; returns its predicateType. */
export function inspectVerifiedPayload(payloadType: string, payload: Buffer, source: string): string | undefined {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) return undefined;
  let statement: Record<string, unknown>;
  try {
    statement = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new InputError(`envelope ${source}: the signed in-toto payload is not valid JSON`);
  }
  if (statement?._type !== IN_TOTO_STATEMENT_TYPE || typeof statement.predicateType !== 'string') {
    throw new InputError(
      `envelope ${source}: the signed payload is not an in-toto Statement v1 ("_type": "${IN_TOTO_STATEMENT_TYPE}" with a "predicateType")`,
    );
  }
  return statement.predicateType;
}

export function sha256OfBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

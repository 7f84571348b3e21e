// SPDX-License-Identifier: Apache-2.0
import { type KeyObject, sign, verify } from 'node:crypto';
import { InputError, VerificationFailedError } from '../errors.js';
import { keyIdOf, keyTypeOf } from './keys.js';
import type { DsseEnvelope, DsseSignature } from './types.js';

/**
 * DSSE v1 Pre-Authentication Encoding:
 * "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal of the UTF-8 byte counts.
 */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'ascii'),
    type,
    Buffer.from(` ${payload.length} `, 'ascii'),
    payload,
  ]);
}

function signBytes(data: Buffer, key: KeyObject, file: string): Buffer {
  // Ed25519 is pure (no pre-hash); ECDSA P-256 signs SHA-256 with a DER (ASN.1) signature,
  // as sigstore, cosign and go-securesystemslib do.
  return keyTypeOf(key, file) === 'ed25519' ? sign(null, data, key) : sign('sha256', data, { key, dsaEncoding: 'der' });
}

function verifyBytes(data: Buffer, key: KeyObject, signature: Buffer): boolean {
  if (key.asymmetricKeyType === 'ed25519') return verify(null, data, key, signature);
  if (verify('sha256', data, { key, dsaEncoding: 'der' }, signature)) return true;
  // A 64-byte r||s (IEEE P1363) signature is accepted too: some DSSE signers emit it.
  return signature.length === 64 && verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

/** Signs `payload` as one DSSE envelope with a single signature carrying the key's keyid. */
export function signEnvelope(
  payloadType: string,
  payload: Uint8Array,
  privateKey: KeyObject,
  keyFile = 'key',
): DsseEnvelope {
  if (payloadType.length === 0) throw new InputError('payload type must not be empty');
  const signature = signBytes(preAuthEncoding(payloadType, payload), privateKey, keyFile);
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid: keyIdOf(privateKey), sig: signature.toString('base64') }],
  };
}

const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;

/** Decodes standard or URL-safe base64 (both allowed by DSSE), refusing anything else. */
export function decodeBase64(value: string, what: string): Buffer {
  const unpadded = value.replace(/=+$/, '');
  if ((!STANDARD_BASE64.test(value) && !URL_SAFE_BASE64.test(value)) || unpadded.length % 4 === 1) {
    throw new InputError(`${what} is not valid base64`);
  }
  return Buffer.from(value, 'base64');
}

/** Parses and shape-checks a DSSE JSON envelope; `source` names the file in every error. */
export function parseEnvelope(text: string, source: string): DsseEnvelope {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(
      `envelope ${source} is not valid JSON (truncated or corrupted?): ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`envelope ${source} is not a DSSE envelope: expected a JSON object`);
  }
  const record = value as Record<string, unknown>;
  for (const field of ['payloadType', 'payload'] as const) {
    if (typeof record[field] !== 'string') {
      throw new InputError(`envelope ${source} is not a DSSE envelope: field "${field}" must be a string`);
    }
  }
  if (!Array.isArray(record.signatures) || record.signatures.length === 0) {
    throw new InputError(`envelope ${source} is not a DSSE envelope: field "signatures" must be a non-empty array`);
  }
  const signatures: DsseSignature[] = record.signatures.map((entry: unknown, index: number) => {
    const signature = entry as Record<string, unknown> | null;
    if (typeof signature !== 'object' || signature === null || typeof signature.sig !== 'string') {
      throw new InputError(`envelope ${source}: signatures[${index}].sig must be a string`);
    }
    if (signature.keyid !== undefined && typeof signature.keyid !== 'string') {
      throw new InputError(`envelope ${source}: signatures[${index}].keyid must be a string when present`);
    }
    return { keyid: (signature.keyid as string | undefined) ?? '', sig: signature.sig };
  });
  const envelope: DsseEnvelope = {
    payloadType: record.payloadType as string,
    payload: record.payload as string,
    signatures,
  };
  decodeBase64(envelope.payload, `envelope ${source}: field "payload"`);
  signatures.forEach((s, i) => {
    decodeBase64(s.sig, `envelope ${source}: signatures[${i}].sig`);
  });
  return envelope;
}

export interface VerifyEnvelopeOptions {
  /** When set, the envelope's payloadType must equal it exactly. */
  expectedPayloadType?: string | readonly string[];
  /** Names used in error messages. */
  source?: string;
  keySource?: string;
}

/**
 * Verifies a DSSE envelope against one public key. Succeeds when any signature verifies over
 * PAE(payloadType, payload); the keyid is only used to explain a failure, never trusted.
 */
export function verifyEnvelope(
  envelope: DsseEnvelope,
  publicKey: KeyObject,
  options: VerifyEnvelopeOptions = {},
): { payloadType: string; payload: Buffer; keyid: string } {
  const source = options.source ?? 'envelope';
  const keySource = options.keySource ?? 'the key';
  const payload = decodeBase64(envelope.payload, `envelope ${source}: field "payload"`);
  const keyid = keyIdOf(publicKey);
  const pae = preAuthEncoding(envelope.payloadType, payload);
  const verified = envelope.signatures.some((s) =>
    verifyBytes(pae, publicKey, decodeBase64(s.sig, `envelope ${source}: signature`)),
  );
  if (!verified) {
    const named = envelope.signatures.map((s) => s.keyid).filter((id) => id !== '');
    if (named.length > 0 && !named.includes(keyid)) {
      throw new VerificationFailedError(
        `signature verification failed for ${source}: it is signed by keyid ${named.join(', ')}, not by ${keySource} (keyid ${keyid})`,
      );
    }
    throw new VerificationFailedError(
      `signature verification failed for ${source}: the signature does not match the payload under ${keySource} (keyid ${keyid}); the payload, payload type or signature was altered`,
    );
  }
  const expected = options.expectedPayloadType;
  if (expected !== undefined) {
    const allowed = typeof expected === 'string' ? [expected] : expected;
    if (!allowed.includes(envelope.payloadType)) {
      throw new VerificationFailedError(
        `envelope ${source} has payload type "${envelope.payloadType}", expected ${allowed.map((t) => `"${t}"`).join(' or ')}`,
      );
    }
  }
  return { payloadType: envelope.payloadType, payload, keyid };
}

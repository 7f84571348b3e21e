// SPDX-License-Identifier: Apache-2.0

export type AttestationKeyType = 'ed25519' | 'ecdsa-p256';

/** One DSSE signature: `sig` is base64; `keyid` a hint, never trusted on its own. */
export interface DsseSignature {
  keyid: string;
  sig: string;
}

/** A DSSE v1 JSON envelope (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md). */
export interface DsseEnvelope {
  payloadType: string;
  /** base64 (standard; URL-safe is accepted when reading) of the payload bytes. */
  payload: string;
  signatures: DsseSignature[];
}

/** An in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md). */
export interface InTotoStatement<P = unknown> {
  _type: 'https://in-toto.io/Statement/v1';
  subject: { name: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate: P;
}

/** What a successful verification established. */
export interface VerifiedEnvelope {
  payloadType: string;
  payload: Buffer;
  /** keyid of the key that verified (SHA-256 of its SPKI DER, hex). */
  keyid: string;
  /** Set when the payload is an in-toto Statement. */
  predicateType?: string;
}

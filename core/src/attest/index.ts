// SPDX-License-Identifier: Apache-2.0

export type { VerifyEnvelopeOptions } from './dsse.js';
export { decodeBase64, parseEnvelope, preAuthEncoding, signEnvelope, verifyEnvelope } from './dsse.js';
export type { SignFileOptions, VerifyFileOptions } from './files.js';
export { signFile, verifyFile } from './files.js';
export type { GeneratedKeyPair } from './keys.js';
export {
  generateAttestationKeyPair,
  KEY_TYPES,
  keyIdOf,
  loadPrivateKey,
  loadPublicKey,
  writeAttestationKeyPair,
} from './keys.js';
export {
  FUNCTION_MAP_PAYLOAD_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPE,
  KNOWN_PAYLOAD_TYPES,
  LINKAGE_VERIFICATION_PREDICATE_TYPE,
  preparePayload,
  reportStatement,
} from './payload.js';
export type {
  AttestationKeyType,
  DsseEnvelope,
  DsseSignature,
  InTotoStatement,
  VerifiedEnvelope,
} from './types.js';

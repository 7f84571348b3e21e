// SPDX-License-Identifier: Apache-2.0
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { writeOutput } from '../output.js';
import { parseEnvelope, signEnvelope, verifyEnvelope } from './dsse.js';
import { loadPrivateKey, loadPublicKey } from './keys.js';
import { inspectVerifiedPayload, KNOWN_PAYLOAD_TYPES, preparePayload } from './payload.js';
import type { DsseEnvelope, VerifiedEnvelope } from './types.js';

async function readInput(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${what} ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'error')}`, {
      cause: error,
    });
  }
}

export interface SignFileOptions {
  input: string;
  output: string;
  key: string;
  /** Overrides detection; one of KNOWN_PAYLOAD_TYPES. */
  payloadType?: string;
}

/** `stella attest sign`: detects what `input` is, signs it, writes the envelope atomically. */
export async function signFile(options: SignFileOptions): Promise<DsseEnvelope> {
  const bytes = await readInput(options.input, 'input');
  const privateKey = await loadPrivateKey(options.key);
  const { payloadType, payload } = preparePayload(bytes, options.input, options.payloadType);
  const envelope = signEnvelope(payloadType, payload, privateKey, options.key);
  await writeOutput(options.output, `${JSON.stringify(envelope, null, 2)}\n`, {
    flag: '--output',
    inputs: [options.input, options.key],
  });
  return envelope;
}

export interface VerifyFileOptions {
  input: string;
  key: string;
  /** The payload type the envelope must carry; default: any of KNOWN_PAYLOAD_TYPES. */
  payloadType?: string;
}

/** `stella attest verify`: throws InputError (exit 2) or VerificationFailedError (exit 1). */
export async function verifyFile(options: VerifyFileOptions): Promise<VerifiedEnvelope> {
  const text = (await readInput(options.input, 'envelope')).toString('utf8');
  const envelope = parseEnvelope(text, options.input);
  const publicKey = await loadPublicKey(options.key);
  const verified = verifyEnvelope(envelope, publicKey, {
    expectedPayloadType: options.payloadType ?? KNOWN_PAYLOAD_TYPES,
    source: options.input,
    keySource: `key ${options.key}`,
  });
  const predicateType = inspectVerifiedPayload(verified.payloadType, verified.payload, options.input);
  return predicateType === undefined ? verified : { ...verified, predicateType };
}

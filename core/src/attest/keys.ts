// SPDX-License-Identifier: Apache-2.0
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, lstat, mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { AttestationKeyType } from './types.js';

export const KEY_TYPES: readonly AttestationKeyType[] = ['ed25519', 'ecdsa-p256'];

/**
 * keyid = lowercase hex SHA-256 of the public key's SubjectPublicKeyInfo DER, the same bytes
 * whichever side (private or public PEM) it is derived from. Documented in docs/ATTESTATION.md.
 */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Ed25519 or ECDSA P-256 (prime256v1); anything else is refused with the file named. */
export function keyTypeOf(key: KeyObject, file: string): AttestationKeyType {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  const what =
    key.asymmetricKeyType === 'ec'
      ? `ec ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown curve'}`
      : key.asymmetricKeyType;
  throw new InputError(`unsupported key type in ${file}: ${what}; expected ed25519 or ecdsa-p256`);
}

async function readKeyFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : code;
    throw new InputError(`cannot read key file ${file}: ${reason}`, { cause: error });
  }
  if (!text.includes('-----BEGIN ')) {
    throw new InputError(`key file ${file} is not a PEM key: expected a "-----BEGIN … KEY-----" block`);
  }
  return text;
}

/** A private key for signing: PEM, PKCS#8 (what keygen writes) or SEC1 "EC PRIVATE KEY". */
export async function loadPrivateKey(file: string): Promise<KeyObject> {
  const pem = await readKeyFile(file);
  if (/-----BEGIN PUBLIC KEY-----/.test(pem)) {
    throw new InputError(`key file ${file} holds a public key; signing needs the private key (the .key file)`);
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem)) {
    throw new InputError(`key file ${file} is encrypted; stella signs with an unencrypted PKCS#8 key`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new InputError(`key file ${file} is not a valid private key: ${(error as Error).message}`, { cause: error });
  }
  keyTypeOf(key, file);
  return key;
}

/**
 * A public key for verification. A private key file is accepted too (its public half is used),
 * so an operator holding only the .key file can still check their own envelopes.
 */
export async function loadPublicKey(file: string): Promise<KeyObject> {
  const pem = await readKeyFile(file);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new InputError(`key file ${file} is not a valid public key: ${(error as Error).message}`, { cause: error });
  }
  keyTypeOf(key, file);
  return key;
}

export interface GeneratedKeyPair {
  type: AttestationKeyType;
  keyid: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateAttestationKeyPair(type: AttestationKeyType): GeneratedKeyPair {
  const pair =
    type === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : type === 'ecdsa-p256'
        ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        : undefined;
  if (!pair) throw new InputError(`unsupported key type "${type}": expected one of ${KEY_TYPES.join(', ')}`);
  return {
    type,
    keyid: keyIdOf(pair.publicKey),
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

async function writeNew(file: string, content: string, mode: number, force: boolean): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, force ? 'w' : 'wx', mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new InputError(`refusing to overwrite ${file}: it exists (pass --force to replace it)`);
    throw new InputError(`cannot write ${file}: ${code ?? (error as Error).message}`, { cause: error });
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  // open()'s mode only applies to new files and is masked by the umask; make it exact.
  await chmod(file, mode);
}

/**
 * Writes `<dir>/<name>.key` (PKCS#8 PEM, mode 0600) and `<dir>/<name>.pub` (SPKI PEM, 0644).
 * `dir` is created (0700) when missing. Existing files are never overwritten unless `force`.
 */
export async function writeAttestationKeyPair(
  pair: GeneratedKeyPair,
  dir: string,
  name: string,
  force = false,
): Promise<{ privateKeyPath: string; publicKeyPath: string }> {
  // The name is a file name stem, not a path: `../x` would write outside --out-dir, `` would write `.key`.
  if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) {
    throw new InputError(
      `--name ${JSON.stringify(name)} is not a file name: expected a non-empty name without "/", e.g. stella-attest`,
    );
  }
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new InputError(`cannot create key directory ${dir}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const privateKeyPath = join(dir, `${name}.key`);
  const publicKeyPath = join(dir, `${name}.pub`);
  if (!force) {
    // Both checked before either is written: a refusal must not leave a new, unmatched .key behind.
    for (const file of [privateKeyPath, publicKeyPath]) {
      if (
        await lstat(file).then(
          () => true,
          () => false,
        )
      ) {
        throw new InputError(`refusing to overwrite ${file}: it exists (pass --force to replace it)`);
      }
    }
  }
  await writeNew(privateKeyPath, pair.privateKeyPem, 0o600, force);
  try {
    await writeNew(publicKeyPath, pair.publicKeyPem, 0o644, force);
  } catch (error) {
    // The .pub appeared in between (or could not be written): take back the .key this call made.
    if (!force) await rm(privateKeyPath, { force: true });
    throw error;
  }
  return { privateKeyPath, publicKeyPath };
}

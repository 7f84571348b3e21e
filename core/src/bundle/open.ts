// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnvelope, verifyEnvelope } from '../attest/dsse.js';
import { loadPublicKey } from '../attest/keys.js';
import { InputError, VerificationFailedError } from '../errors.js';
import { type BundleLimits, DEFAULT_BUNDLE_LIMITS, type ExtractedFile, extractBundle } from './extract.js';
import {
  BUNDLE_MANIFEST_PAYLOAD_TYPE,
  type BundleManifest,
  MANIFEST_ENVELOPE_PATH,
  MANIFEST_PATH,
  parseManifest,
} from './manifest.js';

export interface VerifyBundleOptions {
  /** Public key: the manifest must then carry a DSSE signature that verifies with it. */
  key?: string;
  /** Override any of the extraction limits (defaults in DEFAULT_BUNDLE_LIMITS). */
  limits?: Partial<BundleLimits>;
}

export type BundleSignatureStatus =
  | { status: 'verified'; keyid: string }
  | { status: 'unsigned' }
  /** Signed, but no key was given to check it with. */
  | { status: 'not-checked'; keyids: string[] };

export interface VerifiedBundle {
  /** The extraction directory; removed by cleanup(). */
  directory: string;
  manifest: BundleManifest;
  signature: BundleSignatureStatus;
  cleanup(): Promise<void>;
}

function describeProblems(files: Map<string, ExtractedFile>, manifest: BundleManifest): string[] {
  const problems: string[] = [];
  const listed = new Set<string>();
  for (const entry of manifest.files) {
    listed.add(entry.path);
    const actual = files.get(entry.path);
    if (!actual) {
      problems.push(`${entry.path}: listed in the manifest but missing from the bundle`);
    } else if (actual.sha256 !== entry.sha256 || actual.size !== entry.size) {
      problems.push(
        `${entry.path}: modified (manifest sha256 ${entry.sha256} size ${entry.size}, ` +
          `bundle sha256 ${actual.sha256} size ${actual.size})`,
      );
    }
  }
  for (const path of [...files.keys()].sort()) {
    if (!listed.has(path) && path !== MANIFEST_PATH && path !== MANIFEST_ENVELOPE_PATH) {
      problems.push(`${path}: in the bundle but not listed in the manifest`);
    }
  }
  return problems;
}

async function checkSignature(
  bundle: string,
  directory: string,
  files: Map<string, ExtractedFile>,
  manifestBytes: Buffer,
  keyFile: string | undefined,
): Promise<BundleSignatureStatus> {
  if (!files.has(MANIFEST_ENVELOPE_PATH)) {
    if (keyFile !== undefined) {
      throw new VerificationFailedError(
        `bundle ${bundle} is not signed (no ${MANIFEST_ENVELOPE_PATH}) but --key was given; expected a signed bundle`,
      );
    }
    return { status: 'unsigned' };
  }
  const source = `${bundle}:${MANIFEST_ENVELOPE_PATH}`;
  const envelope = parseEnvelope(await readFile(join(directory, MANIFEST_ENVELOPE_PATH), 'utf8'), source);
  if (keyFile === undefined) {
    // Without a key the signature cannot be checked, but a manifest edited after signing still
    // shows: the envelope carries the signed manifest, and it must be byte-for-byte this one.
    if (!Buffer.from(envelope.payload, 'base64').equals(manifestBytes)) {
      throw new VerificationFailedError(
        `bundle ${bundle}: ${MANIFEST_PATH} differs from the manifest signed in ${MANIFEST_ENVELOPE_PATH}; the manifest was altered (signature not checked: no --key)`,
      );
    }
    return { status: 'not-checked', keyids: envelope.signatures.map((s) => s.keyid) };
  }
  const publicKey = await loadPublicKey(keyFile);
  const verified = verifyEnvelope(envelope, publicKey, {
    expectedPayloadType: BUNDLE_MANIFEST_PAYLOAD_TYPE,
    source,
    keySource: `key ${keyFile}`,
  });
  if (!verified.payload.equals(manifestBytes)) {
    throw new VerificationFailedError(
      `bundle ${bundle}: ${MANIFEST_PATH} differs from the manifest signed in ${MANIFEST_ENVELOPE_PATH}; the manifest was altered`,
    );
  }
  return { status: 'verified', keyid: verified.keyid };
}

/**
 * `stella bundle verify`: extracts safely into a fresh temporary directory, then checks the
 * manifest signature (with `key`) and every file's sha256 and size, with no missing or extra
 * file. Throws InputError (exit 2) for an unreadable or unsafe bundle, VerificationFailedError
 * (exit 1) for any integrity or signature failure; the directory is removed on failure.
 */
export async function verifyBundle(bundle: string, options: VerifyBundleOptions = {}): Promise<VerifiedBundle> {
  const limits = { ...DEFAULT_BUNDLE_LIMITS, ...options.limits };
  const directory = await mkdtemp(join(tmpdir(), 'stella-bundle-open-'));
  const cleanup = () => rm(directory, { recursive: true, force: true });
  try {
    const files = await extractBundle(bundle, directory, limits);
    if (!files.has(MANIFEST_PATH)) {
      throw new InputError(
        `bundle ${bundle} has no ${MANIFEST_PATH}: not a stella linkage bundle (make one with \`stella bundle create\`)`,
      );
    }
    const manifestBytes = await readFile(join(directory, MANIFEST_PATH));
    const manifest = parseManifest(manifestBytes.toString('utf8'), bundle);
    const signature = await checkSignature(bundle, directory, files, manifestBytes, options.key);
    const problems = describeProblems(files, manifest);
    if (problems.length > 0) {
      throw new VerificationFailedError(
        `bundle ${bundle} failed integrity verification: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
          problems.map((p) => `  - ${p}`).join('\n'),
      );
    }
    return { directory, manifest, signature, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export interface OpenedBundle {
  functionMapPath: string;
  observationPaths: string[];
  reportPath?: string;
  signature: BundleSignatureStatus;
  /** Removes the extracted files. */
  cleanup(): Promise<void>;
}

/**
 * For `stella function-map verify --bundle`: verifies the bundle first (as verifyBundle), then
 * hands back the paths of the extracted function map, observation files and report.
 */
export async function openBundle(bundle: string, options: VerifyBundleOptions = {}): Promise<OpenedBundle> {
  const verified = await verifyBundle(bundle, options);
  const at = (path: string) => join(verified.directory, path);
  return {
    functionMapPath: at(verified.manifest.functionMap),
    observationPaths: verified.manifest.observations.map(at),
    ...(verified.manifest.report !== undefined ? { reportPath: at(verified.manifest.report) } : {}),
    signature: verified.signature,
    cleanup: verified.cleanup,
  };
}

// SPDX-License-Identifier: Apache-2.0
export { type CreateBundleOptions, createBundle, OBSERVATION_FILE } from './create.js';
export {
  type BundleLimits,
  checkBundlePath,
  DEFAULT_BUNDLE_LIMITS,
  type ExtractedFile,
  extractBundle,
} from './extract.js';
export {
  BUNDLE_MANIFEST_PAYLOAD_TYPE,
  BUNDLE_MANIFEST_TYPE,
  type BundleFileEntry,
  type BundleManifest,
  MANIFEST_ENVELOPE_PATH,
  MANIFEST_PATH,
  parseManifest,
} from './manifest.js';
export {
  type BundleSignatureStatus,
  type OpenedBundle,
  openBundle,
  type VerifiedBundle,
  type VerifyBundleOptions,
  verifyBundle,
} from './open.js';

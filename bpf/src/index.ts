// SPDX-License-Identifier: Apache-2.0

export {
  type EventRecordHeader,
  forEachRecord,
  headerComm,
  headerCookie,
  headerKind,
  headerPid,
  headerTimestampMs,
  readEventHeader,
} from '@stella/sdk';
// The record layout and its decoder belong to the SDK (the kernel ABI's one owner).
export {
  AGG_KEY_LAYOUT,
  AGG_KEY_SIZE,
  AGG_VALUE_LAYOUT,
  AGG_VALUE_SIZE,
  CALL_ARG_EVENT_LAYOUT,
  CALL_ARG_EVENT_SIZE,
  EVENT_HEADER_LAYOUT,
  EVENT_HEADER_SIZE,
  EventKind,
  type FieldLayout,
  SERVICE_NONE,
} from '@stella/sdk/layout';
// createBpf: the name core's composition root imports.
export { createBpfApi, createBpfApi as createBpf, LibbpfApi } from './api.js';
export {
  CAPABILITY_BITS,
  type CapabilityName,
  effectiveCapabilities,
  missingCapabilityHint,
} from './capabilities.js';
export { AddonNotFoundError, BpfError } from './errors.js';
export {
  ATTACH_COOKIES_MISSING,
  type DetectOptions,
  detectKernelFeatures,
  FENTRY_PROBE_OBJECT,
  type KernelFeatureReport,
  trialLoadFentry,
  UPROBE_MULTI_PROBE_OBJECT,
  type UprobeMultiSupport,
  uprobeMultiSupported,
} from './features.js';
export { LibbpfLink } from './link.js';
export { addonCandidates, BUILD_COMMAND, loadAddon } from './native.js';
export { BpfObject, MapUpdateFlags, type RingBufferOptions } from './object.js';
export {
  type AggregateEntry,
  aggregateKey,
  readAggregates,
  readDropCount,
  StellaGlobals,
  StellaMaps,
  samplingThreshold,
} from './stella-maps.js';

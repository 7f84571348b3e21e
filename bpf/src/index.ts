// SPDX-License-Identifier: Apache-2.0

// createBpf: the name core's composition root imports.
export { createBpfApi, createBpfApi as createBpf, LibbpfApi } from './api.js';
export {
  AGG_KEY_LAYOUT,
  AGG_KEY_SIZE,
  AGG_VALUE_LAYOUT,
  AGG_VALUE_SIZE,
  decodeEventHeader,
  EVENT_HEADER_LAYOUT,
  EVENT_HEADER_SIZE,
  type EventHeader,
  EventKind,
  type FieldLayout,
  forEachRecord,
  headerCgroupId,
  headerComm,
  headerCookie,
  headerHitCount,
  headerKind,
  headerPid,
  headerService,
  headerSize,
  headerTid,
  headerTimestampMs,
  headerTimestampNs,
  monotonicToEpochOffsetMs,
  SERVICE_NONE,
} from './decoder.js';
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
export { bpfIncludeDir, buildScript, vmlinuxIncludeDir } from './paths.js';
export {
  type AggregateEntry,
  aggregateKey,
  readAggregates,
  readDropCount,
  StellaGlobals,
  StellaMaps,
  samplingThreshold,
} from './stella-maps.js';

// SPDX-License-Identifier: Apache-2.0

export { defineProbePlugin, defineStorePlugin, isProbePlugin, isStorePlugin } from './define.js';
export {
  createEventHeader,
  createMonotonicClock,
  decodeEventHeader,
  EVENT_HEADER,
  EVENT_KIND,
  type EventHeader,
  forEachRecord,
  readCString,
  SERVICE_NONE,
} from './event.js';
export { isLibrary, type MappedFile, mappedFiles } from './proc-maps.js';
export { populateTargetMaps, samplingThreshold } from './targets.js';
export type * from './types.js';
export { DEFAULT_RINGBUF_BYTES, startUprobeCallSession, type UprobeCallSessionOptions } from './uprobe-session.js';

// SPDX-License-Identifier: Apache-2.0

export {
  ARGUMENT_READS_GLOBAL,
  type ArgumentRead,
  EventKind,
  encodeArgumentRead,
  StellaAbi,
  StellaGlobals,
  StellaMaps,
  StellaPrograms,
  splitSyscallCookie,
  TARGET_TRACKER_PROGRAMS,
} from './abi.js';
export { CANARY_PREFIX, canaryFunctionId, isCanaryFunction } from './canary.js';
export { defineProbePlugin, defineStorePlugin, isProbePlugin, isStorePlugin } from './define.js';
export { type ElfSymbolFile, readElfSymbols } from './elf.js';
export {
  createEventHeader,
  createMonotonicClock,
  decodeEventHeader,
  EVENT_HEADER,
  EVENT_KIND,
  type EventHeader,
  type EventRecordHeader,
  forEachRecord,
  headerComm,
  headerCookie,
  headerKind,
  headerPid,
  headerTimestampMs,
  readCString,
  readEventHeader,
  SERVICE_NONE,
} from './event.js';
export { DEFAULT_RINGBUF_BYTES } from './object-tuning.js';
export { OBSERVATION_FIELDS } from './observation-fields.js';
export { countOnlyIndexes, probeModeOf, probeModesOf } from './probe-mode.js';
export { isLibrary, type MappedFile, mappedFiles } from './proc-maps.js';
export { commOf, reportKernelDrops } from './session-common.js';
export { isStoreUnavailableError, StoreUnavailableError } from './store-errors.js';
export {
  detectSyscallMechanisms,
  detectSyscallPlugin,
  type MechanismVerdict,
  mechanismOrder,
  planSyscalls,
  SYSCALL_MECHANISM_CHAIN,
  SYSCALL_PROGRAM_PREFIX,
  type SyscallMechanism,
  type SyscallMechanismAvailability,
  type SyscallPlan,
  type SyscallProbe,
  syscallPrograms,
} from './syscall-plan.js';
export {
  type SyscallAttachment,
  type SyscallSession,
  type SyscallSessionOptions,
  startSyscallSession,
} from './syscall-session.js';
// The node's target filter is the core's (`@stella/sdk/target-filter`), not a plugin's to open.
export { samplingThreshold } from './target-filter.js';
// Public types, one file per concept.
export type * from './types/bpf-api.js';
export type * from './types/catalogue.js';
export type * from './types/logger.js';
export type * from './types/observation.js';
export type * from './types/probe-plugin.js';
export type * from './types/probe-requests.js';
export type * from './types/store.js';
export type * from './types/targets.js';
export type * from './types/tuning.js';
export {
  ATTACH_COOKIES_MISSING,
  defineUprobePlugin,
  type UprobePluginDefinition,
  type UprobePluginOptions,
} from './uprobe-plugin.js';
export {
  EVENT_KIND_LIBRARY_LOADED,
  PER_PID_ATTACH_LIMIT,
  startUprobeCallSession,
  type UprobeCallSessionOptions,
} from './uprobe-session.js';

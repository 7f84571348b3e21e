// SPDX-License-Identifier: Apache-2.0
/**
 * Byte layouts of the structs shared with the kernel (the SDK's bpf/include/stella/event.h, the
 * single source of truth). Every decoder in user space reads its offsets from here, and
 * `@stella/sdk/abi-check` compares these numbers with a compiled object's BTF.
 */

import { StellaAbi } from './abi.js';

export interface FieldLayout {
  readonly offset: number;
  readonly size: number;
}

/** struct stella_event_header: C field name -> byte offset and size. */
export const EVENT_HEADER_LAYOUT = {
  ts_ns: { offset: 0, size: 8 },
  cookie: { offset: 8, size: 8 },
  cgroup_id: { offset: 16, size: 8 },
  pid: { offset: 24, size: 4 },
  tid: { offset: 28, size: 4 },
  hit_count: { offset: 32, size: 4 },
  kind: { offset: 36, size: 2 },
  size: { offset: 38, size: 2 },
  comm: { offset: 40, size: 16 },
  service: { offset: 56, size: 4 },
  flags: { offset: 60, size: 4 },
} as const satisfies Record<string, FieldLayout>;

/** sizeof(struct stella_event_header), also sizeof(struct stella_call_event). */
export const EVENT_HEADER_SIZE = 64;

/**
 * struct stella_call_arg_event: the generic uprobe program's record, the header then the value its
 * probe read at the call (argument.bpf.h).
 */
export const CALL_ARG_EVENT_LAYOUT = {
  h: { offset: 0, size: 64 },
  arg: { offset: 64, size: 4 },
  _pad: { offset: 68, size: 4 },
} as const satisfies Record<string, FieldLayout>;
export const CALL_ARG_EVENT_SIZE = 72;

/** `service` of a record from an object that does not filter targets (STELLA_SERVICE_NONE). */
export const SERVICE_NONE = StellaAbi.serviceNone;

/** struct stella_agg_key / struct stella_agg_value (the `stella_agg` per-CPU hash). */
export const AGG_KEY_LAYOUT = {
  cookie: { offset: 0, size: 8 },
  pid: { offset: 8, size: 4 },
  arg: { offset: 12, size: 4 },
} as const satisfies Record<string, FieldLayout>;
export const AGG_KEY_SIZE = 16;
export const AGG_VALUE_LAYOUT = {
  count: { offset: 0, size: 8 },
  last_ts_ns: { offset: 8, size: 8 },
} as const satisfies Record<string, FieldLayout>;
export const AGG_VALUE_SIZE = 16;

/** struct stella_exe_key: the key of `stella_target_exes` (kernel s_dev encoding, inode). */
export const EXE_KEY_LAYOUT = {
  dev: { offset: 0, size: 8 },
  ino: { offset: 8, size: 8 },
} as const satisfies Record<string, FieldLayout>;
export const EXE_KEY_SIZE = 16;

export { EventKind } from './abi.js';

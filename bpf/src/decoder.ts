// SPDX-License-Identifier: Apache-2.0
/**
 * Reading ring-buffer batches and the records in them. Layouts mirror bpf/include/stella/event.h
 * (the single source of truth) and are checked against the compiled objects' BTF in
 * test/decoder-btf.test.ts. Per-record work must stay around 100 ns (docs/KERNEL.md §6): the accessors
 * read one field without allocating; decodeEventHeader() is the convenient, allocating form.
 */

import { forEachRecord } from '@stella/sdk';
import { EVENT_HEADER_LAYOUT, EVENT_HEADER_SIZE } from '@stella/sdk/layout';

// The layouts live in the SDK (plugins decode records without the native addon); one copy only.
export {
  AGG_KEY_LAYOUT,
  AGG_KEY_SIZE,
  AGG_VALUE_LAYOUT,
  AGG_VALUE_SIZE,
  EVENT_HEADER_LAYOUT,
  EVENT_HEADER_SIZE,
  EventKind,
  type FieldLayout,
  SERVICE_NONE,
} from '@stella/sdk/layout';
export { forEachRecord };

export interface EventHeader {
  /** bpf_ktime_get_ns(): CLOCK_MONOTONIC ns (process.hrtime.bigint() uses the same clock). */
  tsNs: bigint;
  /** The attach cookie of the probe that fired. */
  cookie: bigint;
  cgroupId: bigint;
  pid: number;
  tid: number;
  hitCount: number;
  kind: number;
  size: number;
  comm: string;
  /** Target service index (user space's numbering), or SERVICE_NONE when unfiltered. */
  service: number;
  flags: number;
}

const H = EVENT_HEADER_LAYOUT;
const TWO_32 = 4294967296;

export function headerPid(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset + H.pid.offset);
}
export function headerTid(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset + H.tid.offset);
}
export function headerHitCount(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset + H.hit_count.offset);
}
/** The target service index the kernel matched, or SERVICE_NONE. */
export function headerService(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset + H.service.offset);
}
export function headerKind(buf: Buffer, offset: number): number {
  return buf.readUInt16LE(offset + H.kind.offset);
}
export function headerSize(buf: Buffer, offset: number): number {
  return buf.readUInt16LE(offset + H.size.offset);
}
/** The cookie as a number: exact for cookies below 2^53, which is what Stella hands out. */
export function headerCookie(buf: Buffer, offset: number): number {
  const o = offset + H.cookie.offset;
  return buf.readUInt32LE(o) + buf.readUInt32LE(o + 4) * TWO_32;
}
/** Monotonic time in ms (double: sub-microsecond precision for ~100 days of uptime). */
export function headerTimestampMs(buf: Buffer, offset: number): number {
  const o = offset + H.ts_ns.offset;
  return (buf.readUInt32LE(o) + buf.readUInt32LE(o + 4) * TWO_32) / 1e6;
}
export function headerTimestampNs(buf: Buffer, offset: number): bigint {
  return buf.readBigUInt64LE(offset + H.ts_ns.offset);
}
export function headerCgroupId(buf: Buffer, offset: number): bigint {
  return buf.readBigUInt64LE(offset + H.cgroup_id.offset);
}
/** The task's comm, up to the first NUL (latin1: the kernel stores bytes). Allocates a string. */
export function headerComm(buf: Buffer, offset: number): string {
  const start = offset + H.comm.offset;
  const end = start + H.comm.size;
  let nul = start;
  while (nul < end && buf[nul] !== 0) nul++;
  return buf.toString('latin1', start, nul);
}

/** Every header field of the record at `offset` (allocates; for tests, tools and slow paths). */
export function decodeEventHeader(buf: Buffer, offset = 0): EventHeader {
  if (offset + EVENT_HEADER_SIZE > buf.length) {
    throw new RangeError(`record at offset ${offset} is shorter than the ${EVENT_HEADER_SIZE}-byte event header`);
  }
  return {
    tsNs: headerTimestampNs(buf, offset),
    cookie: buf.readBigUInt64LE(offset + H.cookie.offset),
    cgroupId: headerCgroupId(buf, offset),
    pid: headerPid(buf, offset),
    tid: headerTid(buf, offset),
    hitCount: headerHitCount(buf, offset),
    kind: headerKind(buf, offset),
    size: headerSize(buf, offset),
    comm: headerComm(buf, offset),
    service: headerService(buf, offset),
    flags: buf.readUInt32LE(offset + H.flags.offset),
  };
}

/**
 * Milliseconds to add to a record's monotonic time (headerTimestampMs) to get Unix epoch ms.
 * Compute once per batch or per second, not per record.
 */
export function monotonicToEpochOffsetMs(): number {
  return Date.now() - Number(process.hrtime.bigint()) / 1e6;
}

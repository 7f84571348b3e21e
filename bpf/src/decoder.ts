// SPDX-License-Identifier: Apache-2.0
/**
 * Reading ring-buffer batches and the records in them. Layouts mirror bpf/include/stella/event.h
 * (the single source of truth) and are checked against the compiled objects' BTF in
 * test/decoder-btf.test.ts. Per-record work must stay around 100 ns (MACHINE.md): the accessors
 * read one field without allocating; decodeEventHeader() is the convenient, allocating form.
 */

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

/** `service` of a record from an object that does not filter targets (STELLA_SERVICE_NONE). */
export const SERVICE_NONE = 0xffffffff;

/** struct stella_agg_key / struct stella_agg_value (the `stella_agg` per-CPU hash). */
export const AGG_KEY_LAYOUT = {
  cookie: { offset: 0, size: 8 },
  pid: { offset: 8, size: 4 },
  _pad: { offset: 12, size: 4 },
} as const satisfies Record<string, FieldLayout>;
export const AGG_KEY_SIZE = 16;
export const AGG_VALUE_LAYOUT = {
  count: { offset: 0, size: 8 },
  last_ts_ns: { offset: 8, size: 8 },
} as const satisfies Record<string, FieldLayout>;
export const AGG_VALUE_SIZE = 16;

/** STELLA_EVENT_* record kinds; plugin kinds start at `pluginBase`. */
export const EventKind = { call: 1, syscall: 2, file: 3, return: 4, pluginBase: 100 } as const;

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
 * Walks a batch from consumeRingBuffer: each frame is [u32 LE length][record][zero pad to a
 * multiple of 8 bytes, counting the length field]. Calls `fn(batch, recordOffset, recordLength)`
 * for every record and returns how many there were. No allocation per record.
 */
export function forEachRecord(batch: Buffer, fn: (buf: Buffer, offset: number, length: number) => void): number {
  let offset = 0;
  let records = 0;
  const end = batch.length;
  while (offset + 4 <= end) {
    const length = batch.readUInt32LE(offset);
    if (offset + 4 + length > end) throw new RangeError(`truncated record at offset ${offset} of a ${end}-byte batch`);
    fn(batch, offset + 4, length);
    offset += (4 + length + 7) & ~7;
    records++;
  }
  return records;
}

/**
 * Milliseconds to add to a record's monotonic time (headerTimestampMs) to get Unix epoch ms.
 * Compute once per batch or per second, not per record.
 */
export function monotonicToEpochOffsetMs(): number {
  return Date.now() - Number(process.hrtime.bigint()) / 1e6;
}

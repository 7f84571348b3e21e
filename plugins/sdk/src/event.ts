// SPDX-License-Identifier: Apache-2.0
/**
 * The one decoder of `struct stella_event_header` (bpf/include/stella/event.h), for the sessions,
 * the addon's tests and tools alike. The C struct is the source of truth; offsets come from
 * layout.ts, which `@stella/sdk/abi-check` compares with the objects' BTF. Per-record work must
 * stay near 100 ns (per-event object work of ~1 µs stalled the event loop at high rates), so the
 * hot form decodes into a reused object and the accessors read one field without allocating;
 * `readEventHeader` is the allocating form for tests and slow paths.
 */
import { EVENT_HEADER_LAYOUT, EVENT_HEADER_SIZE, EventKind } from './layout.js';

export { SERVICE_NONE } from './layout.js';

const L = EVENT_HEADER_LAYOUT;

/** Offsets of `struct stella_event_header` in the shape this decoder uses (from layout.ts). */
export const EVENT_HEADER = {
  size: EVENT_HEADER_SIZE,
  tsNs: L.ts_ns.offset,
  cookie: L.cookie.offset,
  cgroupId: L.cgroup_id.offset,
  pid: L.pid.offset,
  tid: L.tid.offset,
  hitCount: L.hit_count.offset,
  kind: L.kind.offset,
  recordSize: L.size.offset,
  comm: L.comm.offset,
  commLength: L.comm.size,
  service: L.service.offset,
  flags: L.flags.offset,
} as const;

export const EVENT_KIND = { call: EventKind.call, syscall: EventKind.syscall, file: EventKind.file } as const;

/** Fields of one header, decoded into a reusable object (no allocation per record). */
export interface EventHeader {
  /** bpf_ktime_get_ns as a double: exact to the ns for the first 104 days of uptime. */
  tsNs: number;
  cookie: number;
  cgroupId: bigint;
  pid: number;
  tid: number;
  hitCount: number;
  kind: number;
  recordSize: number;
  service: number;
  flags: number;
}

export function createEventHeader(): EventHeader {
  return {
    tsNs: 0,
    cookie: 0,
    cgroupId: 0n,
    pid: 0,
    tid: 0,
    hitCount: 0,
    kind: 0,
    recordSize: 0,
    service: 0,
    flags: 0,
  };
}

/** Decodes the header at `offset` into `out` (reused across records to keep per-event work lean). */
export function decodeEventHeader(buf: Buffer, offset: number, out: EventHeader): EventHeader {
  out.tsNs =
    buf.readUInt32LE(offset + EVENT_HEADER.tsNs) + buf.readUInt32LE(offset + EVENT_HEADER.tsNs + 4) * 4294967296;
  // Cookies are probe indexes set by user space; the high word is always 0.
  out.cookie = buf.readUInt32LE(offset + EVENT_HEADER.cookie);
  out.cgroupId = buf.readBigUInt64LE(offset + EVENT_HEADER.cgroupId);
  out.pid = buf.readUInt32LE(offset + EVENT_HEADER.pid);
  out.tid = buf.readUInt32LE(offset + EVENT_HEADER.tid);
  out.hitCount = buf.readUInt32LE(offset + EVENT_HEADER.hitCount);
  out.kind = buf.readUInt16LE(offset + EVENT_HEADER.kind);
  out.recordSize = buf.readUInt16LE(offset + EVENT_HEADER.recordSize);
  out.service = buf.readUInt32LE(offset + EVENT_HEADER.service);
  out.flags = buf.readUInt32LE(offset + EVENT_HEADER.flags);
  return out;
}

/** One header with every field, `comm` included (allocates; tests, tools and slow paths). */
export interface EventRecordHeader {
  /** bpf_ktime_get_ns(): CLOCK_MONOTONIC ns (process.hrtime.bigint() reads the same clock). */
  tsNs: bigint;
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

export function readEventHeader(buf: Buffer, offset = 0): EventRecordHeader {
  if (offset + EVENT_HEADER_SIZE > buf.length)
    throw new RangeError(`record at offset ${offset} is shorter than the ${EVENT_HEADER_SIZE}-byte event header`);
  return {
    tsNs: buf.readBigUInt64LE(offset + L.ts_ns.offset),
    cookie: buf.readBigUInt64LE(offset + L.cookie.offset),
    cgroupId: buf.readBigUInt64LE(offset + L.cgroup_id.offset),
    pid: headerPid(buf, offset),
    tid: buf.readUInt32LE(offset + L.tid.offset),
    hitCount: buf.readUInt32LE(offset + L.hit_count.offset),
    kind: headerKind(buf, offset),
    size: buf.readUInt16LE(offset + L.size.offset),
    comm: headerComm(buf, offset),
    service: buf.readUInt32LE(offset + L.service.offset),
    flags: buf.readUInt32LE(offset + L.flags.offset),
  };
}

export function headerPid(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset + L.pid.offset);
}
export function headerKind(buf: Buffer, offset: number): number {
  return buf.readUInt16LE(offset + L.kind.offset);
}
/** The cookie as a number: exact below 2^53, which covers every cookie Stella hands out. */
export function headerCookie(buf: Buffer, offset: number): number {
  const o = offset + L.cookie.offset;
  return buf.readUInt32LE(o) + buf.readUInt32LE(o + 4) * 4294967296;
}
/** Monotonic time in ms (double: sub-microsecond precision for ~100 days of uptime). */
export function headerTimestampMs(buf: Buffer, offset: number): number {
  const o = offset + L.ts_ns.offset;
  return (buf.readUInt32LE(o) + buf.readUInt32LE(o + 4) * 4294967296) / 1e6;
}
/** The task's comm up to the first NUL (latin1: the kernel stores bytes). Allocates a string. */
export function headerComm(buf: Buffer, offset: number): string {
  return readCString(buf, offset + L.comm.offset, L.comm.size);
}

/** NUL-terminated `char[n]` at `offset`, decoded as latin1 (comm is bytes, not UTF-8). */
export function readCString(buf: Buffer, offset: number, length: number): string {
  let end = offset;
  const limit = offset + length;
  while (end < limit && buf[end] !== 0) end++;
  return buf.toString('latin1', offset, end);
}

/**
 * Walks a batch from consumeRingBuffer: each frame is [u32 LE length][record][zero pad to a
 * multiple of 8 bytes, counting the length field]. Calls `visit(batch, recordOffset, length)` for
 * every record and returns how many there were. No allocation per record.
 */
export function forEachRecord(batch: Buffer, visit: (buf: Buffer, offset: number, length: number) => void): number {
  let offset = 0;
  let records = 0;
  const end = batch.length;
  while (offset + 4 <= end) {
    const length = batch.readUInt32LE(offset);
    if (offset + 4 + length > end) throw new RangeError(`truncated record at offset ${offset} of a ${end}-byte batch`);
    visit(batch, offset + 4, length);
    offset += (4 + length + 7) & ~7;
    records++;
  }
  return records;
}

/** CLOCK_MONOTONIC (what bpf_ktime_get_ns reads, and what process.hrtime reads) → wall-clock ms. */
export function createMonotonicClock(): (monotonicNs: number) => number {
  const offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  return (ns) => offsetMs + ns / 1e6;
}

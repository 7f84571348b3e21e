// SPDX-License-Identifier: Apache-2.0
/**
 * Decoder for `struct stella_event_header` (bpf/include/stella/event.h). The C struct is the
 * source of truth; offsets come from layout.ts, which bpf/test checks against the objects' BTF.
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

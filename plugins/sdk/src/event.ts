// SPDX-License-Identifier: Apache-2.0
/**
 * Decoder for `struct stella_event_header` (bpf/include/stella/event.h). The C struct is the
 * source of truth; bpf/test checks these offsets against the compiled object's BTF.
 */
export const EVENT_HEADER = {
  size: 64,
  tsNs: 0,
  cookie: 8,
  cgroupId: 16,
  pid: 24,
  tid: 28,
  hitCount: 32,
  kind: 36,
  recordSize: 38,
  comm: 40,
  commLength: 16,
  service: 56,
  flags: 60,
} as const;

export const EVENT_KIND = { call: 1, syscall: 2, file: 3 } as const;

/** Service index the kernel writes when the object runs unfiltered (`stella_filter_targets` off). */
export const SERVICE_NONE = 0xffffffff;

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
 * Iterates a batch delivered by `consumeRingBuffer`: records framed as
 * [u32 LE length][record][pad to 8 bytes].
 */
export function forEachRecord(batch: Buffer, visit: (buf: Buffer, offset: number, length: number) => void): void {
  let offset = 0;
  while (offset + 4 <= batch.length) {
    const length = batch.readUInt32LE(offset);
    const start = offset + 4;
    if (start + length > batch.length) break;
    visit(batch, start, length);
    offset = (start + length + 7) & ~7;
  }
}

/** CLOCK_MONOTONIC (what bpf_ktime_get_ns reads, and what process.hrtime reads) → wall-clock ms. */
export function createMonotonicClock(): (monotonicNs: number) => number {
  const offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  return (ns) => offsetMs + ns / 1e6;
}

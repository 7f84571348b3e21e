// SPDX-License-Identifier: Apache-2.0
/**
 * The addon's own objects speak the SDK's kernel ABI (every plugin package runs the same check on
 * its object), and the SDK decoder reads framed batches as the addon delivers them.
 */
import { checkObjectAbi } from '@stella/sdk/abi-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  EVENT_HEADER_LAYOUT,
  EVENT_HEADER_SIZE,
  forEachRecord,
  headerComm,
  headerCookie,
  headerTimestampMs,
  readEventHeader,
} from '../src/index.js';
import { ensureBuilt, fixtureObject } from './helpers.js';

describe('the fixture object matches the SDK ABI', () => {
  beforeAll(() => ensureBuilt());

  it('struct layouts, record kinds, ABI numbers, map types and names in its BTF', () => {
    expect(checkObjectAbi(fixtureObject).problems).toEqual([]);
  });
});

describe('batch framing and header accessors', () => {
  function frame(records: Buffer[]): Buffer {
    const parts: Buffer[] = [];
    for (const r of records) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(r.length);
      const padded = (4 + r.length + 7) & ~7;
      parts.push(len, r, Buffer.alloc(padded - 4 - r.length));
    }
    return Buffer.concat(parts);
  }

  function record(size: number, pid: number, cookie: bigint, comm: string): Buffer {
    const b = Buffer.alloc(size);
    b.writeBigUInt64LE(1_500_000_123n, EVENT_HEADER_LAYOUT.ts_ns.offset);
    b.writeBigUInt64LE(cookie, EVENT_HEADER_LAYOUT.cookie.offset);
    b.writeUInt32LE(pid, EVENT_HEADER_LAYOUT.pid.offset);
    b.writeUInt16LE(size, EVENT_HEADER_LAYOUT.size.offset);
    b.write(comm, EVENT_HEADER_LAYOUT.comm.offset, 'latin1');
    return b;
  }

  it('walks records of any length, padded to 8, and reads fields without decoding all', () => {
    const batch = frame([
      record(EVENT_HEADER_SIZE, 1, 2n ** 52n + 1n, 'curl'),
      record(EVENT_HEADER_SIZE + 5, 2, 9n, 'exactly16bytes!!'),
    ]);
    const seen: [number, number, number, string][] = [];
    const n = forEachRecord(batch, (buf, off, length) => {
      seen.push([length, headerCookie(buf, off), readEventHeader(buf, off).pid, headerComm(buf, off)]);
    });
    expect(n).toBe(2);
    expect(seen).toEqual([
      [EVENT_HEADER_SIZE, 2 ** 52 + 1, 1, 'curl'],
      [EVENT_HEADER_SIZE + 5, 9, 2, 'exactly16bytes!!'],
    ]);
    expect(headerTimestampMs(batch, 4)).toBeCloseTo(1500.000123, 9);
  });

  it('rejects a truncated batch with one sentence', () => {
    const batch = frame([record(EVENT_HEADER_SIZE, 1, 1n, 'x')]).subarray(0, 20);
    expect(() => forEachRecord(batch, () => {})).toThrow('truncated record at offset 0 of a 20-byte batch');
  });
});

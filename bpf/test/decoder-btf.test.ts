// SPDX-License-Identifier: Apache-2.0
/**
 * The C structs in bpf/include/stella/event.h are the single source of truth: the TypeScript
 * layouts must match the BTF of the compiled objects (Tetragon's alignchecker idea).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AGG_KEY_LAYOUT,
  AGG_KEY_SIZE,
  AGG_VALUE_LAYOUT,
  AGG_VALUE_SIZE,
  decodeEventHeader,
  EVENT_HEADER_LAYOUT,
  EVENT_HEADER_SIZE,
  type FieldLayout,
  forEachRecord,
  headerComm,
  headerCookie,
  headerTimestampMs,
} from '../src/index.js';
import { bpfDir, ensureBuilt, fixtureObject } from './helpers.js';

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
}

function loadBtf(object: string): Map<number, BtfType> {
  const json = JSON.parse(
    execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', object], { encoding: 'utf8', maxBuffer: 64 << 20 }),
  );
  return new Map((json.types as BtfType[]).map((t) => [t.id, t]));
}

function sizeOf(types: Map<number, BtfType>, id: number): number {
  const t = types.get(id)!;
  switch (t.kind) {
    case 'TYPEDEF':
    case 'CONST':
    case 'VOLATILE':
      return sizeOf(types, t.type_id!);
    case 'ARRAY':
      return sizeOf(types, t.type_id!) * t.nr_elems!;
    default:
      return t.size!;
  }
}

function structLayout(
  types: Map<number, BtfType>,
  name: string,
): { size: number; fields: Record<string, FieldLayout> } {
  const t = [...types.values()].find((x) => x.kind === 'STRUCT' && x.name === name);
  if (!t) throw new Error(`struct ${name} is not in the object's BTF`);
  const fields: Record<string, FieldLayout> = {};
  for (const m of t.members!) fields[m.name] = { offset: m.bits_offset / 8, size: sizeOf(types, m.type_id) };
  return { size: t.size!, fields };
}

const objects = [fixtureObject, join(bpfDir, '..', 'plugins', 'probes-crypto', 'bpf', 'tls_calls.bpf.o')];

describe('decoder layouts match the BTF of the compiled objects', () => {
  beforeAll(() => ensureBuilt());

  for (const object of objects) {
    it(`struct stella_event_header, stella_agg_key, stella_agg_value in ${object.slice(bpfDir.length - 3)}`, () => {
      expect(existsSync(object)).toBe(true);
      const types = loadBtf(object);
      const header = structLayout(types, 'stella_event_header');
      expect(header.fields).toEqual(EVENT_HEADER_LAYOUT);
      expect(header.size).toBe(EVENT_HEADER_SIZE);
      expect(structLayout(types, 'stella_call_event').size).toBe(EVENT_HEADER_SIZE);
      const key = structLayout(types, 'stella_agg_key');
      expect(key.fields).toEqual(AGG_KEY_LAYOUT);
      expect(key.size).toBe(AGG_KEY_SIZE);
      const value = structLayout(types, 'stella_agg_value');
      expect(value.fields).toEqual(AGG_VALUE_LAYOUT);
      expect(value.size).toBe(AGG_VALUE_SIZE);
    });
  }
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
      seen.push([length, headerCookie(buf, off), decodeEventHeader(buf, off).pid, headerComm(buf, off)]);
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

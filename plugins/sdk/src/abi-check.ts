// SPDX-License-Identifier: Apache-2.0
/**
 * `@stella/sdk/abi-check`: compares a compiled object's BTF with what this SDK's user space
 * assumes (layout.ts, abi.ts): struct layouts, record kinds, ABI numbers, map key/value types, map
 * and global names. A plugin's own test runs it on its own object, so an object built against other
 * headers than the installed SDK's is caught before it is loaded (Tetragon's alignchecker idea).
 * Reads BTF with `bpftool` (a build tool every plugin already needs).
 */
import { execFileSync } from 'node:child_process';
import {
  ABI_ENUMERATORS,
  EVENT_KIND_ENUMERATORS,
  EventKind,
  PRESENCE_COOKIES,
  PresenceNames,
  StellaAbi,
  StellaGlobals,
  StellaMaps,
} from './abi.js';
import {
  AGG_KEY_LAYOUT,
  AGG_KEY_SIZE,
  AGG_VALUE_LAYOUT,
  AGG_VALUE_SIZE,
  CALL_ARG_EVENT_LAYOUT,
  CALL_ARG_EVENT_SIZE,
  EVENT_HEADER_LAYOUT,
  EVENT_HEADER_SIZE,
  EXE_KEY_LAYOUT,
  EXE_KEY_SIZE,
  type FieldLayout,
} from './layout.js';

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
  values?: { name: string; val: string }[];
  vars?: { type_id: number }[];
}

/** The structs user space decodes, with the layout it assumes. */
const STRUCTS: { name: string; size: number; fields?: Record<string, FieldLayout> }[] = [
  { name: 'stella_event_header', size: EVENT_HEADER_SIZE, fields: EVENT_HEADER_LAYOUT },
  { name: 'stella_call_event', size: EVENT_HEADER_SIZE },
  { name: 'stella_call_arg_event', size: CALL_ARG_EVENT_SIZE, fields: CALL_ARG_EVENT_LAYOUT },
  { name: 'stella_agg_key', size: AGG_KEY_SIZE, fields: AGG_KEY_LAYOUT },
  { name: 'stella_agg_value', size: AGG_VALUE_SIZE, fields: AGG_VALUE_LAYOUT },
  { name: 'stella_exe_key', size: EXE_KEY_SIZE, fields: EXE_KEY_LAYOUT },
];

/** Map name → the struct names of its key and value that user space builds and parses. */
const MAP_TYPES: Record<string, { key?: string; value?: string }> = {
  [StellaMaps.aggregates]: { key: 'stella_agg_key', value: 'stella_agg_value' },
  [StellaMaps.targetExes]: { key: 'stella_exe_key' },
};

export interface AbiReport {
  object: string;
  /** One sentence per disagreement; empty when the object speaks this SDK's ABI. */
  problems: string[];
}

function readBtf(object: string): Map<number, BtfType> {
  let json: string;
  try {
    json = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', object], {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`cannot read the BTF of ${object}: ${stderr || (error as Error).message}`);
  }
  // Enumerator values above 2^53 (64-bit sign extensions) must stay exact: keep them as strings.
  const types = (JSON.parse(json.replace(/"val":\s*(-?\d+)/g, '"val":"$1"')) as { types: BtfType[] }).types;
  return new Map(types.map((t) => [t.id, t]));
}

function sizeOf(types: Map<number, BtfType>, id: number): number {
  const t = types.get(id)!;
  if (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE') return sizeOf(types, t.type_id!);
  if (t.kind === 'ARRAY') return sizeOf(types, t.type_id!) * t.nr_elems!;
  return t.size ?? 0;
}

function named(types: Map<number, BtfType>, kind: string, name: string): BtfType | undefined {
  for (const t of types.values()) if (t.kind === kind && t.name === name) return t;
  return undefined;
}

/** The struct a map definition's `key`/`value` member points at (`__type(key, struct x)`). */
function mapMemberStruct(types: Map<number, BtfType>, mapVar: BtfType, member: string): string | undefined {
  const def = types.get(mapVar.type_id!);
  const m = def?.members?.find((x) => x.name === member);
  const pointer = m ? types.get(m.type_id) : undefined;
  return pointer?.kind === 'PTR' ? types.get(pointer.type_id!)?.name : undefined;
}

/** Checks one compiled object against this SDK; never throws for a mismatch, only for unreadable BTF. */
export function checkObjectAbi(object: string): AbiReport {
  const types = readBtf(object);
  const problems: string[] = [];

  for (const struct of STRUCTS) {
    const t = named(types, 'STRUCT', struct.name);
    if (!t) {
      problems.push(`struct ${struct.name} is not in the BTF (built without stella/common.bpf.h?)`);
      continue;
    }
    if (t.size !== struct.size) problems.push(`struct ${struct.name} is ${t.size} bytes, the SDK reads ${struct.size}`);
    if (!struct.fields) continue;
    const actual = new Map(
      (t.members ?? []).map((m) => [m.name, { offset: m.bits_offset / 8, size: sizeOf(types, m.type_id) }]),
    );
    for (const [field, want] of Object.entries(struct.fields)) {
      const got = actual.get(field);
      if (!got) problems.push(`struct ${struct.name} has no field ${field}`);
      else if (got.offset !== want.offset || got.size !== want.size)
        problems.push(
          `${struct.name}.${field} is at offset ${got.offset} (${got.size} bytes), the SDK reads offset ${want.offset} (${want.size} bytes)`,
        );
    }
    for (const field of actual.keys())
      if (!(field in struct.fields)) problems.push(`struct ${struct.name} has a field ${field} the SDK does not know`);
  }

  const enums: [string, Record<string, number>, Record<string, string>][] = [
    ['stella_event_kind', EventKind, EVENT_KIND_ENUMERATORS],
    ['stella_abi', StellaAbi, ABI_ENUMERATORS],
  ];
  for (const [name, values, enumerators] of enums) {
    const t = named(types, 'ENUM', name) ?? named(types, 'ENUM64', name);
    if (!t) {
      problems.push(`enum ${name} is not in the BTF`);
      continue;
    }
    const bits = BigInt((t.size ?? 4) * 8);
    const mask = (1n << bits) - 1n;
    const actual = new Map((t.values ?? []).map((v) => [v.name, BigInt(v.val) & mask]));
    for (const [key, enumerator] of Object.entries(enumerators)) {
      const got = actual.get(enumerator);
      const want = BigInt(values[key]!);
      if (got === undefined) problems.push(`enum ${name} has no ${enumerator}`);
      else if (got !== want) problems.push(`${enumerator} is ${got} in the object, ${want} in the SDK`);
    }
  }

  const vars = new Map<string, BtfType>();
  for (const t of types.values()) if (t.kind === 'VAR' && t.name) vars.set(t.name, t);
  for (const map of Object.values(StellaMaps)) {
    const v = vars.get(map);
    if (!v) {
      problems.push(`map ${map} is missing`);
      continue;
    }
    for (const member of ['key', 'value'] as const) {
      const want = MAP_TYPES[map]?.[member];
      const got = want ? mapMemberStruct(types, v, member) : undefined;
      if (want && got !== want)
        problems.push(`map ${map} has ${member} ${got ?? '(not a struct)'}, the SDK uses struct ${want}`);
    }
  }
  for (const global of Object.values(StellaGlobals)) {
    const v = vars.get(global);
    if (!v) problems.push(`global ${global} is missing`);
    else if (sizeOf(types, v.type_id!) !== 4) problems.push(`global ${global} is not a 4-byte integer`);
  }
  // Presence mode is optional (an object without the uprobe call programs has none of it), but
  // the SDK writes PRESENCE_COOKIES bytes into the flags when it is there.
  const cookies = vars.get(PresenceNames.cookies);
  if (cookies && sizeOf(types, cookies.type_id!) !== PRESENCE_COOKIES) {
    problems.push(`global ${PresenceNames.cookies} is not ${PRESENCE_COOKIES} bytes`);
  }
  return { object, problems };
}

/** Throws one error listing every problem (for tests and build steps). */
export function assertObjectAbi(object: string): void {
  const { problems } = checkObjectAbi(object);
  if (problems.length > 0) throw new Error(`${object} does not match @stella/sdk's ABI:\n  ${problems.join('\n  ')}`);
}

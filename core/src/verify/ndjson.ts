// SPDX-License-Identifier: Apache-2.0
import { createReadStream, existsSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Observation } from '@stella/sdk';
import { InputError } from '../errors.js';
import {
  AFTER_TIME,
  completedPathsOf,
  HIT_COUNT_KEY,
  isLiveSegment,
  LINE_HEAD,
  NODE_HASH_KEY,
} from '../ndjson/contract.js';
import { hasCanonicalShape, parseCanonicalTime, type VerificationAccumulator } from './accumulator.js';
import { FIELD_BIT, FlatObjectSyntax, LineTemplate } from './ndjson-syntax.js';

/** What `observationProblem` requires as strings of every record. */
const MAX_SCANNED_TEMPLATES = 4096;
const REQUIRED_STRINGS = FIELD_BIT.service | FIELD_BIT.function | FIELD_BIT.binaryPath;

/** Why a parsed line is not an observation record, or undefined when it is one verify can use. */
export function observationProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const o = value as Record<string, unknown>;
  if (typeof o.observedAt !== 'string') return 'missing or non-string "observedAt"';
  if (typeof o.service !== 'string') return 'missing or non-string "service"';
  if (typeof o.function !== 'string') return 'missing or non-string "function"';
  if (typeof o.binaryPath !== 'string') return 'missing or non-string "binaryPath"';
  if (typeof o.hitCount !== 'number') return 'missing or non-numeric "hitCount"';
  if (o.nodeHash !== undefined && typeof o.nodeHash !== 'string') return '"nodeHash" is not a string';
  return undefined;
}

export interface ReadStats {
  files: number;
  lines: number;
  /** Lines the fast lane accounted (the agent's own record shape); the rest were parsed. */
  fastLane: number;
}

/**
 * Part of a plain (not gzipped) file for a parallel reader: the lines that *start* in
 * [start, end). Reading begins one byte early, and the first segment (the tail of a line owned by
 * the previous slice, or empty when that byte is a newline) is skipped.
 */
export interface ObservationSlice {
  file: string;
  start: number;
  end: number;
}

const READ_SIZE = 1 << 19;
/** A stream as is, or inflated when it starts with the gzip magic (`cat *.ndjson.gz | stella …`). */
async function* gunzipIfGzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let done = false;
  while (head.length < 2 && !done) {
    const r = await it.next();
    if (r.done) done = true;
    else head = Buffer.concat([head, r.value]);
  }
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (let r = done ? undefined : await it.next(); r && !r.done; r = await it.next()) yield r.value;
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    yield* Readable.from(all()).pipe(createGunzip({ chunkSize: 1 << 17 })) as AsyncIterable<Buffer>;
  } else {
    yield* all();
  }
}

/** The `--observations` argument that means standard input (NDJSON, or gzip of it). */
export const STDIN = '-';

/**
 * The bytes of `file` from `from` on, in chunks. A plain file is read with the next read already
 * in flight while the caller works on the current chunk, into the two `buffers` in turn (one pair
 * per reader, kept across its files): a chunk stays valid only until the next one is asked for.
 * (A stream read ahead only when its buffer drained: the reader sat idle ~20 % of the time.)
 * 512 KiB reads: fewer trips than 64 KiB (each costs more than decoding the 64 KiB); the text is
 * decoded in pieces (`lines`). `-` is standard input; pipes and devices are read as streams
 * (gzip recognised by its magic bytes, since they have no name to go by).
 */
async function* chunks(file: string, from: number, buffers: readonly [Buffer, Buffer]): AsyncGenerator<Buffer> {
  if (file.endsWith('.gz')) {
    // 64 KiB of compressed input at a time: one 512 KiB read inflates to ~12 MB queued at once
    // (agent NDJSON compresses ~24×), and two readers peaked at 240 MB instead of ~160 MB.
    yield* createReadStream(file, { highWaterMark: 1 << 16, start: from }).pipe(
      createGunzip({ chunkSize: 1 << 17 }),
    ) as AsyncIterable<Buffer>;
    return;
  }
  if (file === STDIN) {
    yield* gunzipIfGzip(process.stdin as AsyncIterable<Buffer>);
    return;
  }
  const fh = await openFile(file, 'r');
  if (!(await fh.stat()).isFile()) {
    // A pipe or device (`<(kubectl exec …)`, /dev/stdin): read as it comes, no positions.
    yield* gunzipIfGzip(fh.createReadStream({ highWaterMark: READ_SIZE }) as AsyncIterable<Buffer>);
    return;
  }
  let turn = 0;
  let position = from;
  let next: Promise<{ bytesRead: number; buffer: Buffer }> | undefined;
  try {
    next = fh.read(buffers[turn]!, 0, READ_SIZE, position);
    for (;;) {
      const { bytesRead, buffer } = await next;
      next = undefined;
      if (bytesRead === 0) return;
      position += bytesRead;
      turn ^= 1;
      next = fh.read(buffers[turn]!, 0, READ_SIZE, position);
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await next?.catch(() => undefined); // a reader that stopped early (end of its slice)
    await fh.close();
  }
}

/** Longest line read as a record: the agent writes a few hundred bytes; anything past this is malformed. */
export const MAX_LINE_BYTES = 1 << 20;
const NOTHING = Buffer.alloc(0);
const QUOTE = 0x22;
const NEWLINE = 0x0a;
/** Bytes decoded to one string: below V8's large-object threshold (128 KiB). */
const PIECE = 96 * 1024;
const CLOSE_BRACE = 0x7d;

/**
 * Reads the few fields every record needs without JSON.parse (several µs a line) and without a
 * native call per field (Buffer.indexOf costs ~0.3 µs a call): each piece is decoded once as
 * latin1 (one char per byte, so offsets are byte offsets) and searched with String#indexOf.
 * Only plain lines take this path: one `{`…`}` object, no backslash escapes, string values where
 * strings belong, integer counts. Anything else goes to JSON.parse, which decides whether the line
 * is malformed. Every line a lane takes is first checked to be JSON that parses to a record
 * `observationProblem` accepts (`FlatObjectSyntax`), so each lane decides like JSON.parse.
 */
class LineScanner {
  private nextBackslash = -2;
  private text = '';
  /** Where the last key search ended: the agent writes fields in one order, so search onwards. */
  private pos = 0;
  /** `YYYY-MM-DDTHH:MM:SS` of the last canonical time and its ms: neighbouring lines share it. */
  private secondText = '';
  private secondMs = Number.NaN;

  /** ms of the canonical time at `at`; only the milliseconds are read when the second repeats. */
  private time(at: number): number {
    const t = this.text;
    if (this.secondText !== '' && textAt(t, at, this.secondText)) return this.sameSecond(at);
    const ms = parseCanonicalTime(t, at);
    if (!Number.isNaN(ms)) {
      this.secondText = t.slice(at, at + 19);
      this.head = `${LINE_HEAD}${this.secondText}`;
      this.secondMs = ms - (ms % 1000);
    }
    return ms;
  }

  /** ms of the time at `at` whose second is the last one's: `.sss` read, NaN when not that form. */
  private sameSecond(at: number): number {
    const t = this.text;
    const a = t.charCodeAt(at + 20) - 48;
    const b = t.charCodeAt(at + 21) - 48;
    const c = t.charCodeAt(at + 22) - 48;
    if (t.charCodeAt(at + 19) !== 0x2e || !(a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9)) {
      return Number.NaN;
    }
    return this.secondMs + a * 100 + b * 10 + c;
  }

  /** `Z","service":"<service>"` with the map's service as latin1 text: what follows the time. */
  private afterTime = '';
  /** `{"observedAt":"` and the second of the last canonical time: how the next line likely starts. */
  private head = '';
  /** The first 32 bits of each expected sha256 nodeHash → that nodeHash (null: two share them). */
  private readonly byPrefix = new Map<number, string | null>();
  private readonly syntax = new FlatObjectSyntax();
  /**
   * Per expected nodeHash, the template of its last checked line after the time (see
   * `LineTemplate`); and one for lines of other services. A line it matches needs no other check.
   */
  private readonly templates = new Map<string, LineTemplate>();
  private otherServiceTemplate: LineTemplate | undefined;
  /** The same for lines the general scan takes (unexpected symbols, other shapes), by nodeHash. */
  private readonly scannedTemplates = new Map<string, LineTemplate>();

  constructor(private readonly acc?: VerificationAccumulator) {
    if (!acc) return;
    this.afterTime = `${AFTER_TIME}${Buffer.from(acc.map.predicate.service, 'utf8').toString('latin1')}"`;
    for (const hash of acc.expectedNodeHashes()) {
      const prefix = hash.length === 71 && hash.startsWith('sha256:') ? hexPrefix(hash, 7) : -1;
      if (prefix >= 0) this.byPrefix.set(prefix, this.byPrefix.has(prefix) ? null : hash);
    }
  }

  /**
   * The agent's own record shape, accounted without building anything: `{"observedAt":"<canonical
   * time>","service":"…",…,"nodeHash":"sha256:<64 hex>",…,"hitCount":N…}` on a plain line (no
   * escapes, no nested object), where the nodeHash is one of the map's expected calls or the service
   * is another one. True when the record was accounted; false sends the line down the general path
   * (any other key order or spacing, unexpected symbols, bad values), which decides the same way.
   * The whole line is checked (`contractLine`) only once it is otherwise known to be one to take.
   */
  fast(s: number, e: number): boolean {
    const acc = this.acc;
    const t = this.text;
    if (!acc || t.charCodeAt(e - 1) !== CLOSE_BRACE || this.hasBackslash(s, e)) return false;
    const brace = t.indexOf('{', s + 1);
    if (brace !== -1 && brace < e) return false;
    const at = s + 15; // the time
    let ms: number;
    // The same second as the line before: one compare up to it, then the milliseconds.
    if (this.head !== '' && textAt(t, s, this.head)) ms = this.sameSecond(at);
    else if (textAt(t, s, LINE_HEAD) && hasCanonicalShape(t, at)) ms = this.time(at);
    else return false;
    if (Number.isNaN(ms)) return false;
    const hits = this.trailingCount(s, e);
    if (hits < 1) return false;
    const lowerBound = this.countIsLowerBound;
    // `Z","service":"<service>"` in one compare: 'Z' ends the time.
    if (!textAt(t, at + 23, this.afterTime)) {
      if (!textAt(t, at + 23, AFTER_TIME)) return false;
      const close = t.indexOf('"', at + 37);
      if (close === -1 || close >= e) return false;
      if (!this.otherServiceTemplate?.matches(t, at + 25, e)) {
        if (!this.contractLine(s, e, at)) return false;
        this.otherServiceTemplate = LineTemplate.of(t, at + 25, e);
      }
      acc.addOtherService();
      return true;
    }
    // A one-char search runs ~6× faster than one for the whole key; 'H' is rare in agent lines.
    let key = -1;
    for (let h = t.indexOf('H', at + 37); h !== -1 && h < e; h = t.indexOf('H', h + 1)) {
      if (textAt(t, h - 5, NODE_HASH_KEY)) {
        key = h - 5;
        break;
      }
    }
    if (key === -1 || key + 83 >= e || t.charCodeAt(key + 83) !== QUOTE) return false;
    const hash = this.byPrefix.get(hexPrefix(t, key + 19));
    if (!hash) return false;
    // The template holds the whole nodeHash: a match compares it too. It starts after the service,
    // which `afterTime` has just compared.
    const rest = at + 23 + this.afterTime.length;
    if (!this.templates.get(hash)?.matches(t, rest, e)) {
      if (!textAt(t, key + 12, hash) || !this.contractLine(s, e, at)) return false;
      this.templates.set(hash, LineTemplate.of(t, rest, e));
    }
    acc.addExpected(hash, ms, hits, lowerBound);
    return true;
  }

  /**
   * Whether the line, whose head up to the time at `at` is checked, is JSON in the contract's key
   * order holding what every record needs (`observationProblem`): the fields verify does not read
   * decide too, as they do for JSON.parse.
   */
  private contractLine(s: number, e: number, at: number): boolean {
    const f = this.syntax;
    return (
      this.text.charCodeAt(at + 25) === 0x2c &&
      f.check(this.text, s, e, true, at + 26, 1) &&
      (f.strings & REQUIRED_STRINGS) === REQUIRED_STRINGS &&
      (f.strings & FIELD_BIT.nodeHash) === (f.present & FIELD_BIT.nodeHash)
    );
  }

  /** Set by `trailingCount`: `"countMode":"presence"` right before `"hitCount"` (the agent's order). */
  private countIsLowerBound = false;

  /** `"hitCount":N` as the last field, or -1 (then the general path looks for it). */
  private trailingCount(s: number, e: number): number {
    const t = this.text;
    let at = e - 2;
    let n = 0;
    let scale = 1;
    for (let c = t.charCodeAt(at); c >= 0x30 && c <= 0x39 && at > s; c = t.charCodeAt(--at)) {
      n += (c - 0x30) * scale;
      scale *= 10;
    }
    if (scale === 1 || scale > 1e15 || (t.charCodeAt(at + 1) === 0x30 && scale > 10)) return -1; // none, too long, 0N
    if (!textAt(t, at - 10, HIT_COUNT_KEY)) return -1;
    this.countIsLowerBound = textAt(t, at - 33, '"countMode":"presence",');
    return n;
  }

  reset(text: string): void {
    this.text = text;
    this.nextBackslash = -2; // unknown yet
    this.keyAhead.clear();
    this.keyAheadFrom.clear();
  }

  private hasBackslash(s: number, e: number): boolean {
    if (this.nextBackslash === -1) return false; // none left in the chunk
    if (this.nextBackslash < s) this.nextBackslash = this.text.indexOf('\\', s);
    return this.nextBackslash !== -1 && this.nextBackslash < e;
  }

  /**
   * Offset just after `"<name>":` in [s, e), or -1. `name` is searched without its leading quote
   * (a quote starts every JSON token, a letter rarely does) from where the previous key was found,
   * then from the line start when the fields come in another order.
   */
  private value(name: string, s: number, e: number): number {
    const t = this.text;
    // A key absent from this line was searched for up to its next occurrence in the chunk: without
    // remembering where that was, a key no line has (`countMode` in count mode) sent every scanned
    // line's search through the rest of the 96 KiB chunk, twice (most of verify's time on agent files).
    const ahead = this.keyAhead.get(name);
    if (ahead !== undefined && (ahead === -1 || ahead >= e) && this.keyAheadFrom.get(name)! <= s) return -1;
    let at = -1;
    for (let from = this.pos, pass = 0; pass < 2; from = s, pass++) {
      for (at = t.indexOf(name, from); at !== -1 && at < e; at = t.indexOf(name, at + 1)) {
        if (
          t.charCodeAt(at - 1) === QUOTE &&
          t.charCodeAt(at + name.length) === QUOTE &&
          t.charCodeAt(at + name.length + 1) === 0x3a
        ) {
          this.pos = at + name.length + 2;
          return this.pos;
        }
      }
    }
    // The second pass searched from s: `at` is the first occurrence at or after e (or none).
    this.keyAhead.set(name, at);
    this.keyAheadFrom.set(name, s);
    return -1;
  }

  /** Per key: its first occurrence at or after the end of the line it was missing from, and that line's start. */
  private readonly keyAhead = new Map<string, number>();
  private readonly keyAheadFrom = new Map<string, number>();

  /** [start, end) of a string value, undefined when the key is absent, null when not a plain string. */
  private stringAt(name: string, s: number, e: number): [number, number] | undefined | null {
    const from = this.value(name, s, e);
    if (from === -1) return undefined;
    const t = this.text;
    if (t.charCodeAt(from) !== QUOTE) return null;
    const end = t.indexOf('"', from + 1);
    return end === -1 || end >= e ? null : [from + 1, end];
  }

  private integer(name: string, s: number, e: number): number | undefined | null {
    let at = this.value(name, s, e);
    if (at === -1) return undefined;
    const t = this.text;
    let n = 0;
    let digits = 0;
    for (let c = t.charCodeAt(at); c >= 0x30 && c <= 0x39 && at < e; c = t.charCodeAt(++at)) {
      n = n * 10 + (c - 0x30);
      digits++;
    }
    const next = t.charCodeAt(at);
    if (digits === 0 || digits > 15 || (digits > 1 && t.charCodeAt(at - digits) === 0x30)) return null; // none, long, 0N
    return next !== 0x2c && next !== CLOSE_BRACE && next !== 0x20 ? null : n;
  }

  /** The fields (strings latin1-decoded), or undefined when the line needs the full parser. */
  scan(s: number, e: number): ScannedFields | undefined {
    const t = this.text;
    if (t.charCodeAt(s) !== 0x7b || t.charCodeAt(e - 1) !== CLOSE_BRACE) return undefined;
    const brace = t.indexOf('{', s + 1);
    if (brace !== -1 && brace < e) return undefined; // nested object, or two records run together
    if (this.hasBackslash(s, e)) return undefined;
    this.pos = s;
    const observedAt = this.stringAt('observedAt', s, e);
    const service = this.stringAt('service', s, e);
    const nodeHash = this.stringAt('nodeHash', s, e);
    const pid = this.integer('pid', s, e);
    const countMode = this.stringAt('countMode', s, e);
    const hitCount = this.integer('hitCount', s, e);
    if (!observedAt || !service || nodeHash === null || typeof hitCount !== 'number' || typeof pid !== 'number') {
      return undefined;
    }
    // JSON.parse decides lines that are not JSON or lack what every record needs.
    const hashText = nodeHash ? t.slice(nodeHash[0], nodeHash[1]) : undefined;
    if (!this.scannedTemplates.get(hashText ?? '')?.matches(t, s, e)) {
      const f = this.syntax;
      if (!f.check(t, s, e, false) || (f.strings & REQUIRED_STRINGS) !== REQUIRED_STRINGS) return undefined;
      // Bounded: a hostile file may hold a new nodeHash on every line.
      if (this.scannedTemplates.size >= MAX_SCANNED_TEMPLATES) this.scannedTemplates.clear();
      this.scannedTemplates.set(hashText ?? '', LineTemplate.of(t, s, e));
    }
    const canonical = observedAt[1] - observedAt[0] === 24 && hasCanonicalShape(t, observedAt[0]);
    return {
      service: t.slice(service[0], service[1]),
      observedAt: t.slice(observedAt[0], observedAt[1]),
      // Other ISO-8601 forms are left to the accumulator (Date.parse).
      observedAtMs: canonical ? this.time(observedAt[0]) : undefined,
      nodeHash: hashText,
      hitCount,
      pid,
      presence: countMode ? t.slice(countMode[0], countMode[1]) === 'presence' : false,
    };
  }
}

/**
 * Whether `p` is in `t` at `at`. A slice compared with === runs natively; String#startsWith
 * compares char by char (~7 ns a char on the reference machine).
 */
function textAt(t: string, at: number, p: string): boolean {
  return t.slice(at, at + p.length) === p;
}

/** The number in the 8 hex digits at `at` (lower case), or -1 when they are not all hex. */
function hexPrefix(t: string, at: number): number {
  let n = 0;
  for (let i = at; i < at + 8; i++) {
    const c = t.charCodeAt(i);
    const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (v < 0) return -1;
    n = n * 16 + v;
  }
  return n;
}

interface ScannedFields {
  service: string;
  observedAt: string;
  observedAtMs: number | undefined;
  nodeHash: string | undefined;
  hitCount: number;
  pid: number;
  /** `countMode` is `presence`: the hit count is a lower bound. */
  presence: boolean;
}

/**
 * Streams NDJSON observation files into the accumulator, one line at a time with flat memory.
 * Blank lines are ignored; a line that is not JSON or not an observation record is counted as
 * malformed with `file:line` and the reason. A file that cannot be opened is an InputError.
 */
export async function readObservationFiles(
  files: readonly (string | ObservationSlice)[],
  acc: VerificationAccumulator,
): Promise<ReadStats> {
  const stats: ReadStats = { files: 0, lines: 0, fastLane: 0 };
  const scanner = new LineScanner(acc);
  const buffers: [Buffer, Buffer] = [Buffer.allocUnsafe(READ_SIZE), Buffer.allocUnsafe(READ_SIZE)];
  // The map's service as the latin1 view of its UTF-8 bytes, to compare with scanned text.
  const service = acc.map.predicate.service;
  const serviceLatin1 = Buffer.from(service, 'utf8').toString('latin1');
  for (const item of files) {
    const slice = typeof item === 'string' ? undefined : item;
    const file = typeof item === 'string' ? item : item.file;
    stats.files++;
    let lineNo = 0;
    let carry: Buffer | undefined;
    // A slice after the first reads from one byte early and drops its first segment (see above);
    // it stops at the first line that starts at or after `end`. Its samples say the byte offset.
    const from = slice && slice.start > 0 ? slice.start - 1 : 0;
    let skipFirst = slice !== undefined && slice.start > 0;
    let carryPos = from;
    let past = false;
    const where = (lineStart: number) => (slice && slice.start > 0 ? `${file}@${lineStart}` : `${file}:${lineNo}`);
    let lineStartPos = 0;
    const slow = (buf: Buffer, s: number, e: number) => {
      const line = buf.toString('utf8', s, e);
      if (line.trim().length === 0) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        acc.skipMalformed(`not JSON (${(error as Error).message})`, where(lineStartPos));
        return;
      }
      const problem = observationProblem(value);
      if (problem !== undefined) {
        acc.skipMalformed(problem, where(lineStartPos));
        return;
      }
      if (acc.add(value as Observation) === 'malformed') acc.relabelLastMalformed(where(lineStartPos));
    };
    /** One line: [s, e) of `text`, which is `buf` from byte `base` on, decoded as latin1. */
    const handle = (buf: Buffer, text: string, base: number, s: number, e: number) => {
      lineNo++;
      if (e > s && text.charCodeAt(e - 1) === 13) e--; // CRLF
      if (e === s) return;
      if (scanner.fast(s, e)) {
        stats.fastLane++;
        return;
      }
      const f = scanner.scan(s, e);
      if (!f) {
        slow(buf, base + s, base + e);
        return;
      }
      const result = acc.addFields(
        f.service === serviceLatin1 ? service : f.service,
        f.observedAt,
        f.nodeHash,
        f.hitCount,
        f.pid,
        () => JSON.parse(buf.toString('utf8', base + s, base + e)) as Observation,
        f.observedAtMs,
        f.presence,
      );
      if (result === 'malformed') acc.relabelLastMalformed(where(lineStartPos));
    };
    /**
     * The whole lines of buf[start..) (buf[0] is byte `bufPos` of the file); returns where the
     * unfinished tail begins. Decoded a piece of whole lines at a time, each under V8's large-object
     * size: a larger string costs a large-object allocation (~3× slower to make) or is external.
     */
    const lines = (buf: Buffer, bufPos: number, start: number): number => {
      while (start < buf.length && !past) {
        let last = buf.lastIndexOf(NEWLINE, Math.min(buf.length, start + PIECE) - 1);
        if (last < start) last = buf.indexOf(NEWLINE, start + PIECE); // a line longer than a piece
        if (last === -1) break;
        const base = start;
        const text = buf.toString('latin1', base, last + 1);
        scanner.reset(text);
        let at = 0;
        for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', at)) {
          if (skipFirst) skipFirst = false;
          else if (slice && bufPos + base + at >= slice.end) {
            past = true;
            break;
          } else {
            lineStartPos = bufPos + base + at;
            handle(buf, text, base, at, nl);
          }
          at = nl + 1;
        }
        start = base + at;
      }
      return start;
    };
    let oversized = false;
    /** Accounts the over-long line that started at `carryPos`; false when the slice ends before it. */
    const takeOversized = (): boolean => {
      if (skipFirst) skipFirst = false;
      else if (slice && carryPos >= slice.end) past = true;
      else {
        lineNo++;
        lineStartPos = carryPos;
        acc.skipMalformed(`line longer than ${MAX_LINE_BYTES} bytes`, where(lineStartPos));
      }
      return !past;
    };
    try {
      let chunkPos = from; // file offset of the chunk's first byte
      for await (const chunk of chunks(file, from, buffers)) {
        const pos = chunkPos;
        chunkPos += chunk.length;
        let start = 0;
        if (carry) {
          // Only the line that spans the two reads is copied together.
          const nl = chunk.indexOf(NEWLINE);
          if (nl === -1) {
            // Past MAX_LINE_BYTES the line is dropped as it streams by (one malformed line), so a
            // 40 MB line or a gzip of 1 GB without a newline keeps memory flat and time linear.
            if (oversized || carry.length + chunk.length > MAX_LINE_BYTES) {
              oversized = true;
              carry = NOTHING;
            } else carry = Buffer.concat([carry, chunk]);
            continue;
          }
          if (oversized) {
            oversized = false;
            carry = undefined;
            if (!takeOversized()) break;
          } else {
            const head = Buffer.concat([carry, chunk.subarray(0, nl + 1)]);
            carry = undefined;
            lines(head, carryPos, 0);
            if (past) break;
          }
          start = nl + 1;
        }
        start = lines(chunk, pos, start);
        if (past) break;
        carryPos = pos + start;
        if (start < chunk.length) carry = Buffer.from(chunk.subarray(start));
      }
      // A live segment's last line may still be being written: it is not a record yet.
      if (oversized && !file.endsWith('.partial') && !past) takeOversized();
      else if (
        carry &&
        carry.length > 0 &&
        !isLiveSegment(file) &&
        !past &&
        !skipFirst &&
        !(slice && carryPos >= slice.end)
      ) {
        lineStartPos = carryPos;
        const text = carry.toString('latin1');
        scanner.reset(text);
        handle(carry, text, 0, 0, carry.length);
      }
    } catch (error) {
      if (error instanceof InputError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && isLiveSegment(file) && lineNo === 0) {
        // Rotated between listing and reading: read it under its completed name instead.
        const completed = completedPathsOf(file).find((f) => existsSync(f));
        if (completed) {
          const more = await readObservationFiles([completed], acc);
          stats.lines += more.lines;
          stats.fastLane += more.fastLane;
          continue;
        }
      }
      if (code === 'ENOENT') throw new InputError(`cannot read observations ${file}: no such file`);
      if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
        throw new InputError(`cannot read observations ${file}: not a valid gzip file (${(error as Error).message})`);
      }
      throw new InputError(`cannot read observations ${file}: ${(error as Error).message}`);
    }
    stats.lines += lineNo;
  }
  return stats;
}

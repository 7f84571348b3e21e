// SPDX-License-Identifier: Apache-2.0
import { createReadStream, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Observation } from '@stella/sdk';
import { InputError } from '../errors.js';
import { hasCanonicalShape, parseCanonicalTime, type VerificationAccumulator } from './accumulator.js';

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

function open(file: string, from = 0): Readable {
  // 512 KiB reads: below the size (~1 MB) at which Node makes latin1 strings external, which
  // String#charCodeAt reads several times slower.
  const raw = createReadStream(file, { highWaterMark: 1 << 19, start: from });
  return file.endsWith('.gz') ? raw.pipe(createGunzip({ chunkSize: 1 << 19 })) : raw;
}

const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;

/**
 * Reads the few fields every record needs without JSON.parse (several µs a line) and without a
 * native call per field (Buffer.indexOf costs ~0.3 µs a call): each chunk is decoded once as
 * latin1 (one char per byte, so offsets are byte offsets) and searched with String#indexOf.
 * Only plain lines take this path: one `{`…`}` object, no backslash escapes, string values where
 * strings belong, integer counts. Anything else goes to JSON.parse, which decides whether the line
 * is malformed. Fields verify does not use are not checked here.
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
    if (this.secondText !== '' && t.startsWith(this.secondText, at)) {
      const a = t.charCodeAt(at + 20) - 48;
      const b = t.charCodeAt(at + 21) - 48;
      const c = t.charCodeAt(at + 22) - 48;
      if (a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9) return this.secondMs + a * 100 + b * 10 + c;
      return Number.NaN;
    }
    const ms = parseCanonicalTime(t, at);
    if (!Number.isNaN(ms)) {
      this.secondText = t.slice(at, at + 19);
      this.secondMs = ms - (ms % 1000);
    }
    return ms;
  }

  reset(text: string): void {
    this.text = text;
    this.nextBackslash = -2; // unknown yet
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
    for (let from = this.pos, pass = 0; pass < 2; from = s, pass++) {
      for (let at = t.indexOf(name, from); at !== -1 && at < e; at = t.indexOf(name, at + 1)) {
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
    return -1;
  }

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
    return digits === 0 || digits > 15 || (next !== 0x2c && next !== CLOSE_BRACE && next !== 0x20) ? null : n;
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
    const hitCount = this.integer('hitCount', s, e);
    if (!observedAt || !service || nodeHash === null || typeof hitCount !== 'number' || typeof pid !== 'number') {
      return undefined;
    }
    const canonical = observedAt[1] - observedAt[0] === 24 && hasCanonicalShape(t, observedAt[0]);
    return {
      service: t.slice(service[0], service[1]),
      observedAt: t.slice(observedAt[0], observedAt[1]),
      // Other ISO-8601 forms are left to the accumulator (Date.parse).
      observedAtMs: canonical ? this.time(observedAt[0]) : undefined,
      nodeHash: nodeHash ? t.slice(nodeHash[0], nodeHash[1]) : undefined,
      hitCount,
      pid,
    };
  }
}

interface ScannedFields {
  service: string;
  observedAt: string;
  observedAtMs: number | undefined;
  nodeHash: string | undefined;
  hitCount: number;
  pid: number;
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
  const stats: ReadStats = { files: 0, lines: 0 };
  const scanner = new LineScanner();
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
    // The map's service as the latin1 view of its UTF-8 bytes, to compare with scanned text.
    const service = acc.map.predicate.service;
    const serviceLatin1 = Buffer.from(service, 'utf8').toString('latin1');
    const handle = (buf: Buffer, text: string, s: number, e: number) => {
      lineNo++;
      if (e > s && text.charCodeAt(e - 1) === 13) e--; // CRLF
      if (e === s) return;
      const f = scanner.scan(s, e);
      if (!f) {
        slow(buf, s, e);
        return;
      }
      const result = acc.addFields(
        f.service === serviceLatin1 ? service : f.service,
        f.observedAt,
        f.nodeHash,
        f.hitCount,
        f.pid,
        () => JSON.parse(buf.toString('utf8', s, e)) as Observation,
        f.observedAtMs,
      );
      if (result === 'malformed') acc.relabelLastMalformed(where(lineStartPos));
    };
    try {
      for await (const chunk of open(file, from) as AsyncIterable<Buffer>) {
        const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
        const bufPos = carryPos; // file offset of buf[0]
        carry = undefined;
        const text = buf.toString('latin1');
        scanner.reset(text);
        let start = 0;
        for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
          if (skipFirst) skipFirst = false;
          else if (slice && bufPos + start >= slice.end) {
            past = true;
            break;
          } else {
            lineStartPos = bufPos + start;
            handle(buf, text, start, nl);
          }
          start = nl + 1;
        }
        if (past) break;
        carryPos = bufPos + start;
        if (start < buf.length) carry = Buffer.from(buf.subarray(start));
      }
      // A live segment's last line may still be being written: it is not a record yet.
      if (
        carry &&
        carry.length > 0 &&
        !file.endsWith('.partial') &&
        !past &&
        !skipFirst &&
        !(slice && carryPos >= slice.end)
      ) {
        lineStartPos = carryPos;
        const text = carry.toString('latin1');
        scanner.reset(text);
        handle(carry, text, 0, carry.length);
      }
    } catch (error) {
      if (error instanceof InputError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && file.endsWith('.partial') && lineNo === 0) {
        // Rotated between listing and reading: read it under its completed name instead.
        const rotated = join(
          dirname(file),
          basename(file)
            .replace(/^\./, '')
            .replace(/\.partial$/, ''),
        );
        const completed = [rotated, `${rotated}.gz`].find((f) => existsSync(f));
        if (completed) {
          const more = await readObservationFiles([completed], acc);
          stats.lines += more.lines;
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

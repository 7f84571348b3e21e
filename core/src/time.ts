// SPDX-License-Identifier: Apache-2.0
/**
 * `--from` / `--to` values: ISO-8601 timestamps or durations relative to now (`1h`, `30m`, `90s`,
 * `2d`, `1w`, `500ms`, combined `1h30m`; `now` is now). A signed duration (`-1h`, `+1h`) is refused:
 * `-1h` read as "1h ago" and as "1h ahead" are both plausible, so either reading could be a silent
 * wrong window.
 */
import { InputError } from './errors.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
// Date-only or date-time with optional fraction and zone; Date.parse does the calendar checks.
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Parses a duration such as `1h`, `30m`, `1h30m`, `72h` into milliseconds; undefined when not one. */
export function parseDurationMs(text: string): number | undefined {
  const t = text.trim();
  if (!DURATION.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/**
 * Parses `--from`/`--to`: ISO-8601 (a zone-less time is read as UTC), `now`, or a duration meaning
 * "that long before `now`". Throws InputError naming `flag` and what was expected.
 */
export function parseTimeArg(text: string, flag: string, now: Date = new Date()): Date {
  const t = text.trim();
  if (t.toLowerCase() === 'now') return new Date(now.getTime());
  const duration = parseDurationMs(t);
  if (duration !== undefined) return new Date(now.getTime() - duration);
  if ((t.startsWith('-') || t.startsWith('+')) && parseDurationMs(t.slice(1)) !== undefined) {
    throw new InputError(
      `${flag} "${text}" has a sign: a duration already means that long before now, so write ${t.slice(1)} (or an ISO-8601 time)`,
    );
  }
  if (ISO.test(t)) {
    const hasZone = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i.test(t) && t.length > 10;
    const normalized = (hasZone ? t : t.length === 10 ? t + 'T00:00:00Z' : t + 'Z').replace(' ', 'T').replace(',', '.');
    const ms = Date.parse(normalized);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  throw new InputError(
    `${flag} "${text}" is not a time: expected ISO-8601 (2024-05-01T12:00:00Z) or a duration before now (1h, 30m, 2d)`,
  );
}

/** Parses a duration flag such as `--older-than 72h`; throws InputError naming `flag`. */
export function parseDurationArg(text: string, flag: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) {
    throw new InputError(
      `${flag} "${text}" is not a duration: expected a number with a unit (ms, s, m, h, d, w), e.g. 72h`,
    );
  }
  return ms;
}

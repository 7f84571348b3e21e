// SPDX-License-Identifier: Apache-2.0
import { formatKeyPath, type KeySegment } from './key-path.js';
import { containsUrlCredentials, HIDDEN, maskUrlCredentials, redactValue } from './secrets.js';

/** One thing wrong with a configuration: where (key path) and what (bad value, what is allowed). */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** A problem still carrying its key path as segments, so env-origin paths can be renamed later. */
export interface RawProblem {
  segments: KeySegment[];
  message: string;
}

/** The bad value as shown in a message, secrets hidden: `"abc"`, `1.5`, `a list`, `a mapping`. */
export function showValue(value: unknown, segments: readonly KeySegment[]): string {
  const key = String(lastStringSegment(segments));
  const parent = String(segments.filter((s) => typeof s === 'string').at(-2) ?? '');
  const redacted = redactValue(value, key, parent);
  if (redacted === HIDDEN) return 'a hidden value';
  if (redacted === null) return 'null (empty)';
  if (Array.isArray(redacted)) return 'a list';
  if (typeof redacted === 'object') return 'a mapping';
  if (typeof redacted === 'string') {
    const safe = containsUrlCredentials(redacted) ? maskUrlCredentials(redacted) : redacted;
    return JSON.stringify(safe.length > 80 ? `${safe.slice(0, 77)}...` : safe);
  }
  return String(redacted);
}

function lastStringSegment(segments: readonly KeySegment[]): KeySegment {
  for (let i = segments.length - 1; i >= 0; i--) if (typeof segments[i] === 'string') return segments[i]!;
  return '';
}

/**
 * Turns raw problems into what users read. Paths set by environment variables are shown as
 * `env STELLA_…`, with the key path they set in the message.
 */
export function finishProblems(raw: readonly RawProblem[], envOrigins: ReadonlyMap<string, string>): ConfigProblem[] {
  const seen = new Set<string>();
  const out: ConfigProblem[] = [];
  for (const problem of raw) {
    const keyPath = formatKeyPath(problem.segments);
    const envName = envOriginOf(keyPath, envOrigins);
    const finished = envName
      ? { path: `env ${envName}`, message: `${problem.message} (sets ${keyPath})` }
      : { path: keyPath, message: problem.message };
    const id = `${finished.path}\0${finished.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(finished);
  }
  return out;
}

function envOriginOf(keyPath: string, envOrigins: ReadonlyMap<string, string>): string | undefined {
  for (const [origin, envName] of envOrigins) {
    if (keyPath === origin || keyPath.startsWith(`${origin}.`) || keyPath.startsWith(`${origin}[`)) return envName;
  }
  return undefined;
}

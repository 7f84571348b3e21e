// SPDX-License-Identifier: Apache-2.0
/**
 * What never leaves the process: passwords, tokens, header values, and the password part of
 * connection URLs (userinfo and `?password=` query parameters). Used by error messages and
 * `describeConfig`; stricter than the logger's `redact()` because config errors echo values.
 */
const SECRET_KEY = /pass(word)?|secret|token|credential|api[-_]?key|authorization|private[-_]?key/i;
const URL_KEY = /url|uri|dsn|endpoint|connection/i;

export const HIDDEN = '***';

/** Redacts `value` found under `key` (the last segment of its key path); `parentKey` catches `headers.*`. */
export function redactValue(value: unknown, key: string, parentKey = ''): unknown {
  if (value === undefined || value === null) return value;
  if (SECRET_KEY.test(key) || /^headers$/i.test(parentKey)) return HIDDEN;
  if (typeof value === 'string' && URL_KEY.test(key)) return maskUrlCredentials(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, key, parentKey));
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, k, key)]));
  }
  return value;
}

/**
 * `user:password@` anywhere in a string, well-formed URL or not: `postgresql//u:pw@h`,
 * `postgres:/u:pw@h`, ` postgres://u:pw@h` (leading space), `u:pw@127.0.0.1:1/x` as a host, and
 * a connection error that echoes any of them. Over-hiding a `a:b@c` that was no secret is the price.
 */
const USERINFO = /([^\s"'`<>@/:=]*):([^\s"'`<>@/]+)@/g;
/** `password=…`, `token=…` in query strings, DSNs (`password=x host=y`) and messages. */
const KEY_VALUE = /((?:[\w-]*pass(?:word|wd)?|pwd|[\w-]*secret|[\w-]*token|sslkey|api[-_]?key)=)[^&#\s"',;]*/gi;
/** `Authorization: Bearer …` / `Basic …` values echoed by an exporter error. */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;

/** `postgres://u:pw@h/db?password=x` → `postgres://u:***@h/db?password=***`, and every shape above. */
export function maskUrlCredentials(url: string): string {
  return url
    .replace(USERINFO, (_m, user: string) => `${user}:${HIDDEN}@`)
    .replace(KEY_VALUE, `$1${HIDDEN}`)
    .replace(AUTH_SCHEME, `$1 ${HIDDEN}`);
}

/** Every message and log line passes here before it is written (cli/main.ts, logger.ts). */
export const redactSecrets = maskUrlCredentials;

/** Whether a string looks like it carries a secret, whatever its key (for values echoed in errors). */
export function containsUrlCredentials(value: string): boolean {
  return maskUrlCredentials(value) !== value;
}

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

/** `postgres://u:pw@h/db?password=x` → `postgres://u:***@h/db?password=***`. */
export function maskUrlCredentials(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i, (_m, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return `${scheme}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:${HIDDEN}`}@`;
    })
    .replace(/([?&](?:[\w-]*pass(?:word)?|[\w-]*secret|[\w-]*token|sslkey)=)[^&#]*/gi, `$1${HIDDEN}`);
}

/** Whether a string looks like it carries a secret, whatever its key (for values echoed in errors). */
export function containsUrlCredentials(value: string): boolean {
  return maskUrlCredentials(value) !== value;
}

// SPDX-License-Identifier: Apache-2.0
import type { Logger } from '@stella/sdk';
import { HIDDEN, maskUrlCredentials, redactSecrets, redactValue } from './config/secrets.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/**
 * What a log line may not carry: secrets by key (password, token, headers) and credentials in
 * any URL-looking string, whatever its key (a connection error can echo the URL). The rules are
 * the config's (config/secrets.ts), so a value hidden in `--print-config` is hidden here too.
 */
export function redact(value: unknown, key = '', parentKey = ''): unknown {
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, key, parentKey));
  if (value && typeof value === 'object') {
    if (redactValue(value, key, parentKey) === HIDDEN) return HIDDEN;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k, key)]));
  }
  const hidden = redactValue(value, key, parentKey);
  return typeof hidden === 'string' ? maskUrlCredentials(hidden) : hidden;
}

/**
 * Line-oriented logger on stderr: `level [scope] message key=value …`, or one JSON object a line
 * with `format: 'json'` (for DaemonSets feeding a log pipeline). Secrets are redacted.
 */
export function createLogger(
  options: { level?: LogLevel; format?: 'text' | 'json'; stream?: NodeJS.WritableStream } = {},
  bindings: Record<string, unknown> = {},
): Logger {
  const level = options.level ?? ((process.env.STELLA_LOG_LEVEL as LogLevel | undefined) || 'info');
  const format = options.format ?? (process.env.STELLA_LOG_FORMAT === 'json' ? 'json' : 'text');
  const stream = options.stream ?? process.stderr;
  const threshold = LEVELS[level] ?? LEVELS.info;
  const write = (lvl: Exclude<LogLevel, 'silent'>, raw: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < threshold) return;
    const msg = redactSecrets(raw);
    const all = redact({ ...bindings, ...fields }) as Record<string, unknown>;
    if (format === 'json') {
      stream.write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...all }, errorReplacer)}\n`);
      return;
    }
    const { scope, ...rest } = all;
    const kv = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, errorReplacer)}`)
      .join(' ');
    stream.write(`${lvl}${scope ? ` [${String(scope)}]` : ''} ${msg}${kv ? ` ${kv}` : ''}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (b) => createLogger({ level, format, stream }, { ...bindings, ...b }),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? redactSecrets(value.message) : value;
}

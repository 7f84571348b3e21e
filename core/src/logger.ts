// SPDX-License-Identifier: Apache-2.0
import type { Logger } from '@stella/sdk';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Keys whose values are never printed (database URLs with passwords, tokens). */
const SECRET_KEY = /pass(word)?|secret|token|credential|url|dsn|connection/i;

export function redact(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key) && /:\/\/[^@/]*:[^@/]*@/.test(value)) return value.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@');
    if (/pass(word)?|secret|token|credential/i.test(key)) return '***';
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, key));
  if (value && typeof value === 'object' && !(value instanceof Error)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
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
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < threshold) return;
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
  return value instanceof Error ? value.message : value;
}

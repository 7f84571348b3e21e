// SPDX-License-Identifier: Apache-2.0
/**
 * Malformed store URLs and hosts carrying a password (issue #13, item 3), through the real CLI:
 * whatever the shape, the password never appears on stdout or stderr, the answer is one sentence
 * per problem with exit 2 (bad config) or 3 (store unreachable), and never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../../core/src/config/secrets.js';
import { createLogger } from '../../../core/src/logger.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(REPO, 'core/bin/stella.js');
const SECRET = 'Secr3t';
const dir = mkdtempSync(join(tmpdir(), 'secrets-in-messages-'));

function query(postgres: string, env: NodeJS.ProcessEnv = {}) {
  const config = join(mkdtempSync(join(dir, 'c-')), 'stella.yaml');
  writeFileSync(config, `runtime_agent:\n  observation_store:\n    type: postgres\n    postgres:\n${postgres}\n`);
  const r = spawnSync(process.execPath, [BIN, 'observations', 'query', '--config', config, '--service', 'x'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout + r.stderr, config };
}

describe('a password in a malformed store setting never reaches the terminal', () => {
  it.each([
    ['a URL missing its colon', `      url: "postgresql//u:${SECRET}@127.0.0.1:1/x"`, 2],
    ['a URL with one slash', `      url: "postgres:/u:${SECRET}@127.0.0.1:1/x"`, 2],
    ['a URL with a leading space', `      url: " postgres://u:${SECRET}@127.0.0.1:1/x"`, 2],
    ['userinfo without a scheme', `      url: "u:${SECRET}@127.0.0.1:1/x"`, 2],
    ['a URL ending in a stray %', `      url: "postgres://u:${SECRET}@127.0.0.1:1/x%"`, 2],
    ['userinfo in postgres.host', `      host: "u:${SECRET}@127.0.0.1"\n      port: 1`, 3],
  ])('%s: exit %#, no password, no stack trace', (_name, yaml, code) => {
    const r = query(yaml);
    expect(r.out).not.toContain(SECRET);
    expect(r.out).not.toMatch(/\n\s+at /);
    expect(r.out).not.toContain('internal error');
    expect(r.out).toContain('***');
    expect(r.code).toBe(code);
  });

  it('the stray % names the key and says what to write', () => {
    const r = query(`      url: "postgres://u:${SECRET}@127.0.0.1:1/x%"`);
    expect(r.out).toContain(
      'runtime_agent.observation_store.postgres.url: has a "%" that does not start a %XX escape (write %25 for a literal percent sign), got "postgres://u:***@127.0.0.1:1/x%"',
    );
  });

  it('the same from the environment (STELLA_POSTGRES_URL)', () => {
    const r = query('      host: db', { STELLA_POSTGRES_URL: `postgres:/u:${SECRET}@db/x` });
    expect(r.code).toBe(2);
    expect(r.out).not.toContain(SECRET);
  });
});

describe('redactSecrets and the logger', () => {
  it.each([
    `connect ECONNREFUSED for postgresql//u:${SECRET}@h/x`,
    `dsn "host=h user=u password=${SECRET} dbname=x"`,
    `?sslmode=require&password=${SECRET}`,
    `header Authorization: Bearer ${SECRET}.abc`,
    `redis://:${SECRET}@cache:6379`,
    `u:${SECRET}@127.0.0.1:1/x`,
  ])('hides the secret in %s', (text) => {
    expect(redactSecrets(text)).not.toContain(SECRET);
  });

  it('leaves ordinary text, e-mail-like names and times alone', () => {
    for (const text of ['stella@example.org wrote 3 files', '12:30:00 at /usr/lib/libssl.so.3', 'tls/SSL_connect 42']) {
      expect(redactSecrets(text)).toBe(text);
    }
  });

  it('a log message (not only its fields) is redacted', () => {
    let line = '';
    const logger = createLogger({
      level: 'info',
      stream: { write: (s: string) => (line += s) } as unknown as NodeJS.WritableStream,
    });
    logger.warn(`store postgres:/u:${SECRET}@db unreachable`, { error: new Error(`password=${SECRET}`) });
    expect(line).not.toContain(SECRET);
    expect(line).toContain('u:***@db');
  });
});

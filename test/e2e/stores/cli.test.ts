// SPDX-License-Identifier: Apache-2.0
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Observation } from '@stella/sdk';
import { postgresStore } from '@stella/stores';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStella } from '../../support/cli.js';
import { freePort, type PostgresServer, startPostgres, stopAllServers } from '../../support/servers.js';
import { observation, silent } from './support.js';

let server: PostgresServer | undefined;
let dir: string;
const HOUR = 3_600_000;
const NO_POSTGRES = 'PostgreSQL is not installed on this machine (see the servers: line above)';
/** `stella observations <command>` against the PostgreSQL store the suite filled. */
const storeCli = (command: 'query' | 'prune', ...flags: string[]) =>
  runStella(['observations', command, '--config', path.join(dir, 'stella.yaml'), ...flags]);
const now = Date.now();
const rows: Observation[] = [
  ...Array.from({ length: 20 }, (_, i) => observation(i, now - 30 * 60_000 + i * 1000)),
  ...Array.from({ length: 5 }, (_, i) => observation(i, now - 50 * HOUR + i * 1000)),
];

beforeAll(async () => {
  server = await startPostgres();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stella-cli-store-'));
  if (!server) return;
  await fs.writeFile(
    path.join(dir, 'stella.yaml'),
    `runtime_agent:\n  observation_store:\n    type: postgres\n    retention_hours: 72\n    max_batch_size: 1000\n    postgres: {url: "${server.url}", schema: cli}\n`,
  );
  const store = await postgresStore().create(
    { retentionHours: 72, maxBatchSize: 1000, url: server.url, schema: 'cli' },
    { logger: silent },
  );
  await store.append(rows);
  await store.close();
});
afterAll(async () => {
  await stopAllServers();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('stella observations', () => {
  it('query --format ndjson streams the window from the configured store', async (ctx) => {
    if (!server) return ctx.skip(NO_POSTGRES);
    const r = await storeCli('query', '--from', '1h', '--format', 'ndjson');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Observation);
    expect(got).toEqual(rows.slice(0, 20));
  });

  it('query --summary --function filters and counts per function', async (ctx) => {
    if (!server) return ctx.skip(NO_POSTGRES);
    const r = await storeCli(
      'query',
      '--summary',
      '--function',
      'tls/*',
      '--service',
      'checkout',
      '--from',
      '1h',
      '--format',
      'json',
    );
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    const expected = rows.slice(0, 20).filter((o) => o.function === 'tls/SSL_do_handshake' && o.service === 'checkout');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({
      function: 'tls/SSL_do_handshake',
      records: expected.length,
      hitCount: expected.reduce((n, o) => n + o.hitCount, 0),
    });
    const table = await storeCli('query', '--summary');
    expect(table.stdout.split('\n')[0]).toMatch(/^SERVICE\s+FUNCTION\s+HITS\s+RECORDS/);
  });

  it('prune --older-than removes only older observations', async (ctx) => {
    if (!server) return ctx.skip(NO_POSTGRES);
    const r = await storeCli('prune', '--older-than', '24h');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^pruned 5 observations older than .* from the postgres store/);
    const after = await storeCli('query', '--format', 'ndjson');
    expect(after.stdout.trim().split('\n')).toHaveLength(20);
  });

  it('says clearly when the store is unreachable (exit 3) without printing the password', async (ctx) => {
    if (!server) return ctx.skip(NO_POSTGRES);
    const port = await freePort();
    const cfg = path.join(dir, 'down.yaml');
    await fs.writeFile(
      cfg,
      `runtime_agent:\n  observation_store:\n    type: postgres\n    postgres: {url: "postgres://stella:s3cret-pw@127.0.0.1:${port}/stella"}\n`,
    );
    const r = await runStella(['observations', 'query', '--config', cfg]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`postgres 127\\.0\\.0\\.1:${port}/stella is unavailable`));
    expect(r.stderr + r.stdout).not.toContain('s3cret-pw');
  });

  it('rejects bad flags and the in-agent memory store with exit 2', async () => {
    const cfg = path.join(dir, 'memory.yaml');
    await fs.writeFile(cfg, 'runtime_agent:\n  observation_store: {type: memory}\n');
    const mem = await runStella(['observations', 'query', '--config', cfg]);
    expect(mem.code).toBe(2);
    expect(mem.stderr).toMatch(/observation_store.type is "memory"/);
    const bad = await runStella(['observations', 'query', '--config', cfg, '--from', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from "yesterday" is not a time/);
    const prune = await runStella(['observations', 'prune', '--config', cfg, '--older-than', 'soon']);
    expect(prune.code).toBe(2);
  });
});

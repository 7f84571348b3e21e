// SPDX-License-Identifier: Apache-2.0
import { isStoreUnavailableError, postgresStore } from '@stella/stores';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../plugins/stores/src/postgres-schema.js';
import { type PostgresServer, startPostgres, stopAllServers } from '../../support/servers.js';
import { capturingLogger, collect, observation, type StoreHarness, silent, storeConformance } from './support.js';

let server: PostgresServer | undefined;
let schemaSeq = 0;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await stopAllServers();
});

function openStore(
  schema: string,
  o: { retentionHours?: number; now?: () => number; maxBatchSize?: number; ingest?: 'copy' | 'insert' } = {},
  logger = silent,
) {
  return postgresStore({ ...(o.now ? { now: o.now } : {}), ...(o.ingest ? { ingest: o.ingest } : {}) }).create(
    { retentionHours: o.retentionHours ?? 72, maxBatchSize: o.maxBatchSize ?? 1000, url: server!.url, schema },
    { logger },
  );
}

const harness = (): StoreHarness | undefined => {
  if (!server) return undefined;
  const schema = `t${process.pid}_${++schemaSeq}`;
  return {
    open: (o) => openStore(schema, o),
    async restart(whileDown) {
      await server!.stop();
      await whileDown();
      await server!.start();
    },
  };
};

// One harness (schema) per test: concurrent writers share it by calling open() several times.
describe('postgres store', () => {
  storeConformance(harness);
});

describe('postgres store specifics', () => {
  it('creates a partition per UTC day, across a day boundary', async (ctx) => {
    if (!server) return ctx.skip('PostgreSQL is not installed on this machine (see the servers: line above)');
    const schema = `day${process.pid}`;
    const midnight = Date.UTC(2031, 0, 2);
    const store = await openStore(schema, { now: () => midnight + 60_000, retentionHours: 24 * 400 });
    try {
      await store.append([observation(0, midnight - 1), observation(1, midnight), observation(2, midnight + 1)]);
      const partitions = (
        await server.psql(
          `SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'observations_p%' AND relnamespace = '${schema}'::regnamespace ORDER BY 1`,
          ['-d', 'stella', '-t', '-A'],
        )
      )
        .trim()
        .split('\n');
      expect(partitions).toEqual(
        expect.arrayContaining(['observations_p20310101', 'observations_p20310102', 'observations_p20310103']),
      );
      const perPartition = await server.psql(
        `SELECT tableoid::regclass, count(*) FROM ${schema}.observations GROUP BY 1 ORDER BY tableoid::regclass::text`,
        ['-d', 'stella', '-t', '-A'],
      );
      expect(perPartition.trim().split('\n')).toEqual([
        `${schema}.observations_p20310101|1`,
        `${schema}.observations_p20310102|2`,
      ]);
      const win = await collect(store.query({ from: new Date(midnight - 1), to: new Date(midnight + 1) }));
      expect(win.map((o) => o.observedAt)).toEqual([
        new Date(midnight - 1).toISOString(),
        new Date(midnight).toISOString(),
      ]);
      // Retention drops the whole older day as a partition.
      expect(await store.prune(new Date(midnight))).toBe(1);
      const after = (
        await server.psql(
          `SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'observations_p%' AND relnamespace = '${schema}'::regnamespace`,
          ['-d', 'stella', '-t', '-A'],
        )
      ).trim();
      expect(after).not.toContain('observations_p20310101');
    } finally {
      await store.close();
    }
  });

  it('writes the same rows with multi-row INSERT as with COPY', async (ctx) => {
    if (!server) return ctx.skip('PostgreSQL is not installed on this machine (see the servers: line above)');
    const store = await openStore(`ins${process.pid}`, { ingest: 'insert', maxBatchSize: 7 });
    try {
      const batch = Array.from({ length: 50 }, (_, i) => observation(i, Date.now() - 1000 + i));
      await store.append(batch);
      expect(await collect(store.query({}))).toEqual(batch);
    } finally {
      await store.close();
    }
  });

  it('migrates once and is safe when two agents start together', async (ctx) => {
    if (!server) return ctx.skip('PostgreSQL is not installed on this machine (see the servers: line above)');
    const schema = `mig${process.pid}`;
    const stores = await Promise.all([openStore(schema), openStore(schema), openStore(schema)]);
    await Promise.all(stores.map((s) => s.close()));
    const versions = await server.psql(`SELECT count(*) FROM ${schema}.schema_migrations`, [
      '-d',
      'stella',
      '-t',
      '-A',
    ]);
    expect(versions.trim()).toBe(String(MIGRATIONS.length)); // each once: 2 (the algorithm column)
  });

  it('reports an unreachable server as StoreUnavailableError, and never logs the password', async (ctx) => {
    if (!server) return ctx.skip('PostgreSQL is not installed on this machine (see the servers: line above)');
    const logger = capturingLogger();
    const store = await openStore(`pw${process.pid}`, {}, logger);
    await server.stop();
    try {
      const err = await store.append([observation(1, Date.now())]).catch((e: unknown) => e);
      expect(isStoreUnavailableError(err)).toBe(true);
      expect(String((err as Error).message)).not.toContain(server.password);
      expect((err as Error).message).toMatch(/postgres 127\.0\.0\.1:\d+\/stella is unavailable/);
    } finally {
      await server.start();
      await store.close();
    }
    expect(logger.lines.join('\n')).not.toContain(server.password);
    expect(logger.lines.join('\n')).toContain('postgres store ready');
  });

  it('uses the indexes for summary and window queries', async (ctx) => {
    if (!server) return ctx.skip('PostgreSQL is not installed on this machine (see the servers: line above)');
    const schema = `idx${process.pid}`;
    const store = await openStore(schema);
    await store.close();
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query('SET enable_seqscan = off'); // tiny table: ask which index the planner can use
      const plan = await client.query(
        `EXPLAIN SELECT function, sum(hit_count) FROM ${schema}.observations WHERE service = 'a' AND observed_at >= now() - interval '1 hour' GROUP BY function`,
      );
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(
        /Index Only Scan using observations_p\d+_service_function_\w+_idx/,
      );
    } finally {
      await client.end();
    }
  });
});

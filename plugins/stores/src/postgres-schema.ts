// SPDX-License-Identifier: Apache-2.0
import type { PoolClient } from 'pg';

/**
 * The store creates and migrates its own schema. Each migration runs once, in order, in one
 * transaction under an advisory lock, so agents starting together do not race.
 * Layout: `<schema>.observations` is range-partitioned by `observed_at`, one partition a UTC day
 * (`observations_p20250301`); retention drops whole partitions.
 * Indexes (created on the parent, so every partition gets them):
 *  - (service, observed_at): window queries per service in time order;
 *  - (service, function, observed_at) INCLUDE (node_hash, binary_path, hit_count): `--summary`,
 *    verification's per-call counts and `--function` filters, as index-only scans;
 *  - BRIN (observed_at): window queries across services; tiny, since rows arrive in time order.
 * `ingested_batches` makes appends idempotent (see PostgresObservationStore.append).
 */
export const MIGRATIONS: ((s: string) => string)[] = [
  (s) => `
    CREATE TABLE ${s}.observations (
      observed_at  timestamptz NOT NULL,
      service      text NOT NULL,
      function     text NOT NULL,
      symbol       text NOT NULL,
      purl         text,
      binary_path  text NOT NULL,
      build_id     text,
      node_hash    text,
      probe_type   text NOT NULL,
      pid          integer NOT NULL,
      tid          integer,
      comm         text NOT NULL,
      container_id text,
      cgroup_id    text,
      node_name    text NOT NULL,
      hit_count    bigint NOT NULL,
      window_start timestamptz,
      window_end   timestamptz,
      sample_rate  double precision
    ) PARTITION BY RANGE (observed_at);
    CREATE INDEX observations_service_time_idx ON ${s}.observations (service, observed_at);
    CREATE INDEX observations_function_idx ON ${s}.observations (service, function, observed_at)
      INCLUDE (node_hash, binary_path, hit_count);
    CREATE INDEX observations_time_brin ON ${s}.observations USING brin (observed_at);
    -- One row per committed append: a retry of a batch whose COMMIT reply was lost is recognised.
    CREATE TABLE ${s}.ingested_batches (batch_id uuid PRIMARY KEY, committed_at timestamptz NOT NULL DEFAULT now());
  `,
  // The algorithm a crypto call ran (`stella cbom`); NULL for every other function and older rows.
  (s) => `ALTER TABLE ${s}.observations ADD COLUMN IF NOT EXISTS algorithm text;`,
];

const LOCK_KEY = 0x5e11a; // pg_advisory_xact_lock key for schema and partition DDL

export async function migrate(client: PoolClient, schema: string): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${schema}.schema_migrations`,
    );
    const current = rows[0]?.v ?? 0;
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      await client.query(MIGRATIONS[v - 1]!(schema));
      await client.query(`INSERT INTO ${schema}.schema_migrations (version) VALUES ($1)`, [v]);
    }
    await client.query('COMMIT');
    return MIGRATIONS.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

export const DAY_MS = 86_400_000;

export function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

export function partitionName(day: number): string {
  return `observations_p${new Date(day).toISOString().slice(0, 10).replace(/-/g, '')}`;
}

export function dayOfPartition(name: string): number | undefined {
  const m = /^observations_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
}

/** Creates the day partitions (idempotent, safe against concurrent agents). */
export async function ensurePartitions(client: PoolClient, schema: string, days: number[]): Promise<void> {
  if (days.length === 0) return;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    for (const day of days) {
      const from = new Date(day).toISOString();
      const to = new Date(day + DAY_MS).toISOString();
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.${partitionName(day)} PARTITION OF ${schema}.observations FOR VALUES FROM ('${from}') TO ('${to}')`,
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

export async function listPartitions(client: PoolClient, schema: string): Promise<{ name: string; day: number }[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace
      WHERE n.nspname = $1 AND p.relname = 'observations'`,
    [schema],
  );
  return rows
    .map((r) => ({ name: r.name, day: dayOfPartition(r.name) }))
    .filter((p): p is { name: string; day: number } => p.day !== undefined)
    .sort((a, b) => a.day - b.day);
}

/**
 * Drops partitions whose whole day is before `cutoff`; returns the rows they held (exact when the
 * table was analysed-free small, else the planner's estimate, which is what the SDK allows).
 */
export async function dropPartitionsBefore(
  client: PoolClient,
  schema: string,
  cutoff: number,
): Promise<{ dropped: string[]; rows: number }> {
  const old = (await listPartitions(client, schema)).filter((p) => p.day + DAY_MS <= cutoff);
  let rows = 0;
  const dropped: string[] = [];
  for (const p of old) {
    const { rows: est } = await client.query<{ n: string }>(
      `SELECT CASE WHEN c.reltuples > 100000 THEN c.reltuples::int8 ELSE (SELECT count(*) FROM ${schema}.${p.name}) END AS n
         FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relname = $2`,
      [schema, p.name],
    );
    rows += Number(est[0]?.n ?? 0);
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      await client.query(`DROP TABLE IF EXISTS ${schema}.${p.name}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    dropped.push(p.name);
  }
  return { dropped, rows };
}

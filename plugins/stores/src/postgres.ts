// SPDX-License-Identifier: Apache-2.0

import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FunctionSummary, Logger, Observation, ObservationQuery, ObservationStore } from '@stella/sdk';
import { StoreUnavailableError } from '@stella/sdk';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { globToRegexSource, hasWildcard, literalPrefix } from './glob.js';
import {
  COLUMN_TYPES,
  COLUMNS,
  copyLine,
  isoFromPg,
  observationFromRow,
  rowValues,
  SELECT_LIST,
} from './postgres-rows.js';
import { DAY_MS, dayStart, dropPartitionsBefore, ensurePartitions, migrate } from './postgres-schema.js';
import { observedAtMs, sortSummaries } from './records.js';
import type { PostgresStoreOptions } from './types.js';
import { isConnectionError } from './unavailable.js';

const HOUR_MS = 3_600_000;
const FETCH_ROWS = 5000;

export type PostgresStoreConfig = PostgresStoreOptions & { retentionHours: number; maxBatchSize?: number };

/** Connection settings for `pg`: the url when given, else the discrete fields, else STELLA_POSTGRES_URL / DATABASE_URL / libpq PG* env. */
export function poolConfig(o: PostgresStoreConfig): pg.PoolConfig {
  const url = o.url ?? (o.host ? undefined : (process.env.STELLA_POSTGRES_URL ?? process.env.DATABASE_URL));
  const cfg: pg.PoolConfig = {
    ...(url ? { connectionString: url } : {}),
    max: o.poolSize ?? 4,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: 'stella',
  };
  if (o.ssl) cfg.ssl = true;
  if (url) {
    // The url is complete; a password kept apart from it (a secret file, an env var) still applies.
    if (o.password && !/^[^:]+:\/\/[^@/]*:[^@/]*@/.test(url)) cfg.password = o.password;
    return cfg;
  }
  if (o.host) cfg.host = o.host;
  if (o.port) cfg.port = o.port;
  if (o.user) cfg.user = o.user;
  if (o.password) cfg.password = o.password;
  if (o.database) cfg.database = o.database;
  return cfg;
}

/** Where we connect, for logs and errors: never the password. */
export function describeTarget(o: PostgresStoreConfig): string {
  const cfg = poolConfig(o);
  let host = cfg.host ?? process.env.PGHOST ?? 'localhost';
  let port = String(cfg.port ?? process.env.PGPORT ?? 5432);
  let database = cfg.database ?? process.env.PGDATABASE ?? '';
  if (cfg.connectionString) {
    try {
      const u = new URL(cfg.connectionString);
      host = u.hostname;
      port = u.port || '5432';
      database = u.pathname.slice(1);
    } catch {
      return 'postgres (unparsable url)';
    }
  }
  return `postgres ${host}:${port}/${database}`;
}

/**
 * PostgreSQL store. Batches are written with one COPY per `maxBatchSize` rows (or multi-row
 * INSERT … unnest, `ingest: 'insert'`), all chunks of one `append` in one transaction, so a
 * batch lands whole or not at all and a retry after a failure cannot duplicate part of it.
 */
export class PostgresObservationStore implements ObservationStore {
  readonly name = 'postgres';
  private readonly knownDays = new Set<number>();
  /** Id per batch object: the writer retries the same array, so a retry carries the same id. */
  private readonly batchIds = new WeakMap<Observation[], string>();
  private retentionTimer?: NodeJS.Timeout;
  private readonly schema: string;
  private readonly now: () => number;
  private readonly target: string;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly o: PostgresStoreConfig,
    private readonly logger: Logger,
  ) {
    this.schema = o.schema ?? 'stella';
    this.now = o.now ?? Date.now;
    this.target = describeTarget(o);
  }

  static async open(o: PostgresStoreConfig, logger: Logger): Promise<PostgresObservationStore> {
    const schema = o.schema ?? 'stella';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new TypeError(`observation_store.postgres.schema: "${schema}" is not a plain lower-case SQL identifier`);
    }
    const pool = new pg.Pool(poolConfig(o));
    // An idle client losing its server must not crash the agent; the next query reports it.
    pool.on('error', (error) => logger.warn('postgres store: idle connection lost', { error: error.message }));
    const store = new PostgresObservationStore(pool, o, logger);
    try {
      await store.withClient(async (c) => {
        await migrate(c, schema);
        const today = dayStart(store.now());
        const ahead = o.partitionsAhead ?? 2;
        const days = Array.from({ length: ahead + 1 }, (_, i) => today + i * DAY_MS);
        await ensurePartitions(c, schema, days);
        for (const d of days) store.knownDays.add(d);
      });
      await store.applyRetention();
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
    store.retentionTimer = setInterval(() => {
      store.applyRetention().catch((error) => logger.warn('postgres store: retention failed', { error }));
    }, HOUR_MS);
    store.retentionTimer.unref();
    logger.info('postgres store ready', { target: store.target, schema, ingest: o.ingest ?? 'copy' });
    return store;
  }

  /**
   * Idempotent for the same array object: if a COMMIT succeeded but its reply was lost (server
   * stopped at that instant), appending the same array again is recognised and skipped, so
   * count in = count out across server restarts.
   */
  async append(batch: Observation[]): Promise<void> {
    if (batch.length === 0) return;
    let batchId = this.batchIds.get(batch);
    if (!batchId) {
      batchId = randomUUID();
      this.batchIds.set(batch, batchId);
    }
    const cutoff = this.now() - this.o.retentionHours * HOUR_MS;
    const rows: Observation[] = [];
    const days = new Set<number>();
    batch.forEach((o, i) => {
      const t = observedAtMs(o, i);
      if (t < cutoff) return; // already past retention: its partition would be dropped at once
      rows.push(o);
      days.add(dayStart(t));
    });
    if (rows.length === 0) return;
    // Another agent's prune or shorter retention can drop a day partition this store believes in,
    // between its check and the COPY: the transaction then fails as a whole, the days are made
    // again and it is retried. Bounded, because a pruner could in principle keep winning.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.appendOnce(batchId, rows, days);
        return;
      } catch (error) {
        if (!isMissingPartition(error) || attempt >= 10) throw error;
        for (const d of days) this.knownDays.delete(d);
        this.logger.debug('postgres store: a day partition was dropped under an append; recreating it', {
          attempt,
        });
      }
    }
  }

  private async appendOnce(batchId: string, rows: Observation[], days: Set<number>): Promise<void> {
    const size = Math.max(1, this.o.maxBatchSize ?? 1000);
    const missing = [...days].filter((d) => !this.knownDays.has(d));
    await this.withClient(async (c) => {
      if (missing.length > 0) {
        await ensurePartitions(c, this.schema, missing);
        for (const d of missing) this.knownDays.add(d);
      }
      await c.query('BEGIN');
      try {
        const first = await c.query(
          `INSERT INTO ${this.schema}.ingested_batches (batch_id) VALUES ($1) ON CONFLICT DO NOTHING`,
          [batchId],
        );
        if (first.rowCount === 0) {
          await c.query('ROLLBACK');
          return; // committed by an earlier attempt
        }
        for (let i = 0; i < rows.length; i += size) {
          const chunk = rows.slice(i, i + size);
          if (this.o.ingest === 'insert') await this.insertChunk(c, chunk);
          else await this.copyChunk(c, chunk);
        }
        await c.query('COMMIT');
      } catch (error) {
        await c.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
  }

  private async copyChunk(c: pg.PoolClient, chunk: Observation[]): Promise<void> {
    const stream = c.query(copyStreams.from(`COPY ${this.schema}.observations (${COLUMNS.join(', ')}) FROM STDIN`));
    let text = '';
    for (const o of chunk) text += copyLine(o);
    await pipeline(Readable.from([text]), stream);
  }

  private async insertChunk(c: pg.PoolClient, chunk: Observation[]): Promise<void> {
    const columns: (string | number | null)[][] = COLUMNS.map(() => []);
    for (const o of chunk) {
      const values = rowValues(o);
      for (let i = 0; i < values.length; i++) columns[i]!.push(values[i]!);
    }
    const params = COLUMN_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
    await c.query(
      `INSERT INTO ${this.schema}.observations (${COLUMNS.join(', ')}) SELECT * FROM unnest(${params})`,
      columns,
    );
  }

  async *query(q: ObservationQuery): AsyncIterable<Observation> {
    const { where, params } = this.where(q);
    const limit = q.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
    const client = await this.connect();
    let failed = false;
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(
        `DECLARE stella_cursor NO SCROLL CURSOR FOR SELECT ${SELECT_LIST} FROM ${this.schema}.observations ${where} ORDER BY observed_at${limit}`,
        params,
      );
      for (;;) {
        const { rows } = await client.query(`FETCH ${FETCH_ROWS} FROM stella_cursor`);
        for (const r of rows) yield observationFromRow(r);
        if (rows.length < FETCH_ROWS) break;
      }
      await client.query('COMMIT');
    } catch (error) {
      failed = true;
      throw this.translate(error);
    } finally {
      if (!failed) client.release();
      else client.release(true);
    }
  }

  async summary(q: ObservationQuery): Promise<FunctionSummary[]> {
    const { where, params } = this.where(q);
    const ts = (c: string) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
    const rows = await this.withClient(async (c) => {
      const res = await c.query<{
        service: string;
        function: string;
        node_hash: string | null;
        binary_path: string;
        hits: string;
        records: string;
        first_seen: string;
        last_seen: string;
      }>(
        `SELECT service, function, node_hash, binary_path, sum(hit_count)::int8 AS hits, count(*)::int8 AS records,
                ${ts('min(observed_at)')} AS first_seen, ${ts('max(observed_at)')} AS last_seen
           FROM ${this.schema}.observations ${where}
          GROUP BY service, function, node_hash, binary_path`,
        params,
      );
      return res.rows;
    });
    return sortSummaries(
      rows.map((r) => ({
        service: r.service,
        function: r.function,
        ...(r.node_hash !== null ? { nodeHash: r.node_hash } : {}),
        binaryPath: r.binary_path,
        hitCount: Number(r.hits),
        records: Number(r.records),
        firstSeen: isoFromPg(r.first_seen),
        lastSeen: isoFromPg(r.last_seen),
      })),
    );
  }

  /** Drops whole days before `cutoff`, then deletes the rest of the older rows in the boundary day. */
  async prune(cutoff: Date): Promise<number> {
    return this.withClient(async (c) => {
      const { rows } = await dropPartitionsBefore(c, this.schema, cutoff.getTime());
      const del = await c.query(`DELETE FROM ${this.schema}.observations WHERE observed_at < $1`, [
        cutoff.toISOString(),
      ]);
      this.knownDays.clear(); // dropped days are re-created on demand
      return rows + (del.rowCount ?? 0);
    });
  }

  /** Automatic retention: only whole partitions (cheap); exact cuts are `prune`'s job. */
  async applyRetention(): Promise<string[]> {
    if (!(this.o.retentionHours > 0)) return [];
    const cutoff = this.now() - this.o.retentionHours * HOUR_MS;
    const { dropped } = await this.withClient(async (c) => {
      // Retries come within minutes; a day of batch ids is ample.
      await c.query(`DELETE FROM ${this.schema}.ingested_batches WHERE committed_at < now() - interval '1 day'`);
      return dropPartitionsBefore(c, this.schema, cutoff);
    });
    if (dropped.length > 0) {
      this.knownDays.clear();
      this.logger.info('postgres store: dropped partitions past retention', { partitions: dropped });
    }
    return dropped;
  }

  async close(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.pool.end();
  }

  private where(q: ObservationQuery): { where: string; params: unknown[] } {
    const clauses: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.service !== undefined) clauses.push(`service = ${p(q.service)}`);
    if (q.function !== undefined) {
      if (!hasWildcard(q.function)) clauses.push(`function = ${p(q.function)}`);
      else {
        const prefix = literalPrefix(q.function);
        if (prefix) clauses.push(`starts_with(function, ${p(prefix)})`);
        clauses.push(`function ~ ${p(globToRegexSource(q.function))}`);
      }
    }
    if (q.from) clauses.push(`observed_at >= ${p(q.from.toISOString())}`);
    if (q.to) clauses.push(`observed_at < ${p(q.to.toISOString())}`);
    return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
  }

  private readonly guarded = new WeakSet<pg.PoolClient>();

  private async connect(): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.translate(error);
    }
    // pg-pool listens for errors only on idle clients; a server going away while a client is
    // checked out would otherwise be an uncaught 'error' event. The pending query rejects anyway.
    if (!this.guarded.has(client)) {
      this.guarded.add(client);
      client.on('error', (error) => this.logger.debug('postgres store: connection lost', { error: error.message }));
    }
    return client;
  }

  private async withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken = false;
    try {
      return await fn(client);
    } catch (error) {
      broken = isConnectionError(error);
      throw this.translate(error);
    } finally {
      client.release(broken);
    }
  }

  private translate(error: unknown): unknown {
    if (!isConnectionError(error)) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new StoreUnavailableError('postgres', `${this.target} is unavailable: ${reason}`, { cause: error });
  }
}

/** SQLSTATE 23514 with this text: a row's day partition does not exist (any more). */
function isMissingPartition(error: unknown): boolean {
  return (
    (error as { code?: unknown })?.code === '23514' &&
    error instanceof Error &&
    /no partition of relation/.test(error.message)
  );
}

// SPDX-License-Identifier: Apache-2.0
import type { ObservationStore } from '@stella/sdk';

export interface MemoryStoreOptions {
  /** Upper bound on the estimated heap the records take. Default 32 MiB (half the agent's 64 MB buffer). */
  maxBytes?: number;
  /** Upper bound on the number of records. Default: unbounded (bytes bound only). */
  maxRecords?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

export interface MemoryStoreStats {
  records: number;
  approxBytes: number;
  maxBytes: number;
  /** Records evicted (oldest first) because the bound was reached. */
  evicted: number;
  /** Records dropped because they were older than the retention. */
  expired: number;
}

/** An ObservationStore whose heap use the agent counts in its buffer limit. */
export interface MeasuredObservationStore extends ObservationStore {
  approxBytes(): number;
}

export interface PostgresConnectionSettings {
  /** `postgres://user:pass@host:port/db`. When given it wins over the discrete fields (only a missing password is taken from them). Env fallback: `STELLA_POSTGRES_URL`, `DATABASE_URL`, then libpq's `PG*`. */
  url?: string;
  /** Env `PGHOST` etc. are honoured by `pg` itself when neither url nor fields are given. */
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  /** Schema holding the tables. Default `stella`. */
  schema?: string;
  /** TLS to the server (certificate verified). Default false. */
  ssl?: boolean;
}

export interface PostgresStoreOptions extends PostgresConnectionSettings {
  /** `copy` (default; measured faster, see docs/BENCHMARKS.md) or `insert` (multi-row INSERT). */
  ingest?: 'copy' | 'insert';
  /** Pool size. Default 4. */
  poolSize?: number;
  /** Connection timeout (ms). Default 5000. */
  connectTimeoutMs?: number;
  /** Days of partitions created ahead of today. Default 2. */
  partitionsAhead?: number;
  now?: () => number;
}

export interface ValkeyConnectionSettings {
  /** `redis://:pass@host:port/db` (also `valkey://`, `rediss://`). When given it wins over the discrete fields (only a missing password is taken from them). Env fallback: `STELLA_VALKEY_URL`. */
  url?: string;
  host?: string;
  port?: number;
  password?: string;
  db?: number;
  /** Prefix for every key. Default `stella:`. */
  keyPrefix?: string;
  /**
   * Seed nodes of a Valkey Cluster, `host:port` each (any few of its nodes; the client learns the
   * rest). When given, the store talks to the cluster with hash-tagged keys (one service's keys share
   * a slot) and `url`, `host`, `port` and `db` are not used; `password` is every node's.
   */
  clusterNodes?: string[];
  /**
   * Replicas that must have every write before `append` resolves (Valkey `WAIT`), so a primary lost
   * right after acknowledging cannot take acknowledged observations with it. While fewer replicas are
   * reachable, appends fail as unavailable and the writer holds and retries them. Default 1 with
   * `clusterNodes`, else 0.
   */
  waitReplicas?: number;
}

export interface ValkeyStoreOptions extends ValkeyConnectionSettings {
  connectTimeoutMs?: number;
  now?: () => number;
}

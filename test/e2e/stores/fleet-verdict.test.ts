// SPDX-License-Identifier: Apache-2.0
/**
 * One verdict for many nodes. Three nodes of one service each exercise part of its map and write
 * their observations through the agent's own StoreWriter into a shared PostgreSQL and a shared
 * Valkey Cluster (and their own NDJSON). `stella function-map verify` over one node's NDJSON fails;
 * over every node's NDJSON it passes; against either shared store (`--from`, through the YAML
 * config, `cluster_nodes` for the cluster) it gives the same per-path report as the NDJSON union.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Observation, ObservationStore } from '@stella/sdk';
import { postgresStore, valkeyStore } from '@stella/stores';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreWriter } from '../../../core/src/export/store-writer.js';
import { nodeHash } from '../../../core/src/function-map/index.js';
import { runStella } from '../../support/cli.js';
import { LIBSSL, LIBSSL_PURL } from '../../support/maps.js';
import { type PostgresServer, startPostgres, stopAllServers } from '../../support/servers.js';
import { startValkeyCluster, type ValkeyCluster } from '../../support/valkey-cluster.js';
import { libsslPathsMap } from './fleet-support.js';
import { silent } from './support.js';

const SERVICE = 'payments';
const SYMBOLS = ['SSL_do_handshake', 'SSL_connect', 'SSL_accept', 'SSL_read', 'SSL_write', 'SSL_shutdown'];
/** Which paths (by index into SYMBOLS) each node exercises: together all, alone at most half. */
const NODES: Record<string, number[]> = { 'node-a': [0, 1, 3], 'node-b': [1, 2], 'node-c': [4, 5, 0] };

/** Six one-call paths in libssl, tagged tls (first three) and io (last three). */
const sixPathMap = () =>
  libsslPathsMap(
    SERVICE,
    SYMBOLS.map((symbol, i) => ({ pathId: `path-${symbol}`, symbol, tags: [i < 3 ? 'tls' : 'io'] })),
  );

function observationsOf(node: string, now: number): Observation[] {
  return NODES[node]!.flatMap((p, k) =>
    Array.from({ length: 40 }, (_, i) => ({
      observedAt: new Date(now - 5 * 60_000 + k * 1000 + i * 50).toISOString(),
      service: SERVICE,
      function: `tls/${SYMBOLS[p]}`,
      symbol: SYMBOLS[p]!,
      purl: LIBSSL_PURL,
      binaryPath: LIBSSL,
      nodeHash: nodeHash(LIBSSL_PURL, SYMBOLS[p]!),
      probeType: 'uprobe',
      pid: 4000 + i,
      tid: 4000 + i,
      comm: 'api',
      nodeName: node,
      hitCount: 1 + (i % 3),
    })),
  );
}

let dir: string;
let pgServer: PostgresServer | undefined;
let cluster: ValkeyCluster | undefined;
const ndjson: Record<string, string> = {};
const configs: Record<string, string> = {};

/** Each node's agent writer: batches through the store exactly as the agent does. */
async function writeThrough(open: () => Promise<ObservationStore>, rows: Observation[]): Promise<void> {
  const store = await open();
  const writer = new StoreWriter({ store, maxBatchSize: 50, logger: silent, lingerMs: 10 });
  writer.write(rows);
  await writer.close(30_000);
  expect(writer.stats()).toMatchObject({ written: rows.length, dropped: { store_error: 0 } });
  await store.close();
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stella-fleet-'));
  await fs.writeFile(path.join(dir, 'map.json'), JSON.stringify(sixPathMap()));
  [pgServer, cluster] = await Promise.all([startPostgres(), startValkeyCluster()]);
  const now = Date.now();
  for (const node of Object.keys(NODES)) {
    const rows = observationsOf(node, now);
    ndjson[node] = path.join(dir, `${node}.ndjson`);
    await fs.writeFile(ndjson[node]!, rows.map((o) => `${JSON.stringify(o)}\n`).join(''));
    const writes: Promise<void>[] = [];
    if (pgServer) {
      const url = pgServer.url;
      writes.push(
        writeThrough(
          () =>
            postgresStore().create(
              { retentionHours: 72, maxBatchSize: 1000, url, schema: 'fleet' },
              { logger: silent },
            ),
          rows,
        ),
      );
    }
    if (cluster) {
      const c = cluster;
      writes.push(
        writeThrough(
          () =>
            valkeyStore().create(
              {
                retentionHours: 72,
                maxBatchSize: 1000,
                clusterNodes: c.seeds,
                password: c.password,
                keyPrefix: 'fleet:',
              },
              { logger: silent },
            ),
          rows,
        ),
      );
    }
    await Promise.all(writes); // the nodes write one after another, each to both stores at once
  }
  if (pgServer) {
    configs.postgres = path.join(dir, 'pg.yaml');
    await fs.writeFile(
      configs.postgres,
      `runtime_agent:\n  observation_store:\n    type: postgres\n    postgres: {url: "${pgServer.url}", schema: fleet}\n`,
    );
  }
  if (cluster) {
    configs.valkey = path.join(dir, 'valkey-cluster.yaml');
    await fs.writeFile(
      configs.valkey,
      `runtime_agent:\n  observation_store:\n    type: valkey\n    valkey:\n      cluster_nodes: [${cluster.seeds
        .slice(0, 3)
        .map((s) => `"${s}"`)
        .join(', ')}]\n      password: "${cluster.password}"\n      key_prefix: "fleet:"\n`,
    );
  }
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await stopAllServers();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

interface Report {
  verdict: string;
  observationRate: number;
  perTag: Record<string, { rate: number }>;
  paths: Array<{ pathId: string; observed: boolean; hitCount: number }>;
}

async function verify(args: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
  const r = await runStella(['function-map', 'verify', '--function-map', path.join(dir, 'map.json'), ...args]);
  return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

const perPath = (r: Report) => r.paths.map((p) => [p.pathId, p.observed, p.hitCount]);

describe('fleet verdict', () => {
  it('fails for any one node alone and passes for the union of every node’s NDJSON', async () => {
    for (const node of Object.keys(NODES)) {
      const alone = await verify(['--from', '1h', '--offline', '--observations', ndjson[node]!]);
      expect(alone.code, node).toBe(1);
      expect(alone.report.observationRate, node).toBeLessThanOrEqual(0.5);
    }
    const union = await verify(['--from', '1h', '--offline', '--observations', ...Object.values(ndjson)]);
    expect(union.code).toBe(0);
    expect(union.report.verdict).toBe('pass');
    expect(union.report.observationRate).toBe(1);
    expect(union.report.perTag).toMatchObject({ tls: { rate: 1 }, io: { rate: 1 } });
  });

  it.for(['postgres', 'valkey'] as const)(
    'gives the union verdict from the shared %s store (--from)',
    async (store, ctx) => {
      if (!configs[store]) return ctx.skip(`${store} is not installed on this machine (see the servers: line above)`);
      const union = await verify(['--from', '1h', '--offline', '--observations', ...Object.values(ndjson)]);
      const shared = await verify(['--from', '1h', '--config', configs[store]!]);
      expect(shared.stderr).toBe('');
      expect(shared.code).toBe(0);
      expect(shared.report.verdict).toBe('pass');
      expect(perPath(shared.report)).toEqual(perPath(union.report));
      expect(shared.report.perTag).toEqual(union.report.perTag);
    },
  );
});

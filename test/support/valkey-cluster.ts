// SPDX-License-Identifier: Apache-2.0
/**
 * A real Valkey Cluster for tests: six `valkey-server --cluster-enabled yes` processes on loopback
 * (free ports whose cluster-bus port, +10000, is free too), joined by `valkey-cli --cluster create
 * --cluster-replicas 1` into 3 primaries with one replica each. Nodes can be killed (SIGKILL, as a
 * crash) and started again on the same port and data; a restarted former primary rejoins as a
 * replica of the node that took over. Returns undefined, with a printed reason, when the binaries
 * are missing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { exec, onPath } from './servers.js';

export interface ValkeyClusterNode {
  port: number;
  dir: string;
  /** True while its process runs. */
  readonly running: boolean;
  /** SIGKILL: no shutdown, no AOF rewrite, as a crash or OOM kill would do. */
  kill(): Promise<void>;
  /** Starts it again on the same port, data and nodes.conf. */
  start(): Promise<void>;
  cli(...args: string[]): Promise<string>;
}

export interface ValkeyCluster {
  host: string;
  password: string;
  nodes: ValkeyClusterNode[];
  /** `host:port` of every node, for the client's seed list. */
  seeds: string[];
  /** The nodes currently serving slots as primaries (from a live node's CLUSTER NODES). */
  primaries(): Promise<ValkeyClusterNode[]>;
  /** The live primary that serves `key`'s slot. */
  primaryFor(key: string): Promise<ValkeyClusterNode>;
  /** The live replicas of `primary`. */
  replicasOf(primary: ValkeyClusterNode): Promise<ValkeyClusterNode[]>;
  /** Resolves once every running node reports cluster_state:ok, every slot has a live primary and
   * every running replica's link to its primary is up. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Node timeout: short, so a killed primary is failed over in about two seconds. */
const NODE_TIMEOUT_MS = 1000;
const PASSWORD = 'valkey-cluster-secret-4b8a';

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port whose cluster-bus port (port + 10000) is free as well. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) {
      taken.add(port).add(port + 10_000);
      return port;
    }
  }
  throw new Error('no free port pair for a Valkey Cluster node');
}

export async function startValkeyCluster(): Promise<ValkeyCluster | undefined> {
  const bin = onPath('valkey-server');
  const cliBin = onPath('valkey-cli');
  if (!bin || !cliBin) {
    process.stderr.write('servers: valkey-server/valkey-cli not found; Valkey Cluster tests are skipped\n');
    return undefined;
  }
  const host = '127.0.0.1';
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'stella-valkey-cluster-'));
  const taken = new Set<number>();
  const cliAt = (port: number, args: string[]) =>
    exec([cliBin, '-h', host, '-p', String(port), '--no-auth-warning', '-a', PASSWORD, ...args]);

  const nodes: ValkeyClusterNode[] = [];
  const children = new Map<number, ChildProcess>();
  for (let i = 0; i < 6; i++) {
    const port = await freeClusterPort(taken);
    const dir = path.join(root, String(port));
    await fs.mkdir(dir);
    // appendfsync no: the test machine's page cache survives a SIGKILL, and durability across a
    // crash comes from the replica (WAIT), which is what the store relies on.
    const args = [
      '--bind', host, '--port', String(port), '--dir', dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
      // Any replica may take over however long it was cut off: the test kills primaries on purpose.
      '--cluster-replica-validity-factor', '0',
      '--requirepass', PASSWORD, '--masterauth', PASSWORD,
      '--save', '', '--appendonly', 'yes', '--appendfsync', 'no',
      '--daemonize', 'no', '--logfile', path.join(dir, 'valkey.log'),
    ]; // biome-ignore format: one option and its value per pair
    const node: ValkeyClusterNode = {
      port,
      dir,
      get running() {
        return children.has(port);
      },
      async kill() {
        const child = children.get(port);
        if (!child) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      },
      async start() {
        if (children.has(port)) return;
        const child = spawn(bin, args, { stdio: 'ignore' });
        children.set(port, child);
        child.once('exit', () => {
          if (children.get(port) === child) children.delete(port);
        });
        for (let t = 0; t < 200; t++) {
          try {
            if ((await node.cli('PING')).trim() === 'PONG') return;
          } catch {}
          await new Promise((r) => setTimeout(r, 25));
        }
        throw new Error(`valkey-server did not answer on ${host}:${port}; see ${path.join(dir, 'valkey.log')}`);
      },
      cli: (...cmd) => cliAt(port, cmd),
    };
    nodes.push(node);
  }
  const killAll = () => {
    for (const c of children.values()) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  await Promise.all(nodes.map((n) => n.start()));
  const seeds = nodes.map((n) => `${host}:${n.port}`);
  await exec([
    cliBin,
    '--no-auth-warning',
    '-a',
    PASSWORD,
    '--cluster',
    'create',
    ...seeds,
    '--cluster-replicas',
    '1',
    '--cluster-yes',
  ]);

  const clusterNodes = () => (nodes.find((n) => n.running) as ValkeyClusterNode).cli('CLUSTER', 'NODES');
  const cluster: ValkeyCluster = {
    host,
    password: PASSWORD,
    nodes,
    seeds,
    async primaryFor(key) {
      const live = nodes.find((n) => n.running) as ValkeyClusterNode;
      const slot = Number((await live.cli('CLUSTER', 'KEYSLOT', key)).trim());
      for (const line of (await clusterNodes()).trim().split('\n')) {
        const [, address, flags, , , , , state, ...ranges] = line.split(' ');
        if (!flags?.includes('master') || flags.includes('fail') || state !== 'connected') continue;
        for (const r of ranges) {
          const [a, b = a] = r.split('-').map(Number);
          if (slot >= (a as number) && slot <= (b as number))
            return nodes.find((n) => n.port === Number(address?.split(':')[1]?.split('@')[0])) as ValkeyClusterNode;
        }
      }
      throw new Error(`no live primary serves slot ${slot} of ${key}`);
    },
    async replicasOf(primary) {
      const lines = (await clusterNodes())
        .trim()
        .split('\n')
        .map((l) => l.split(' '));
      const id = lines.find((f) => f[1]?.startsWith(`${host}:${primary.port}@`))?.[0];
      const ports = lines
        .filter((f) => f[3] === id && f[2]?.includes('slave') && !f[2].includes('fail'))
        .map((f) => Number(f[1]?.split(':')[1]?.split('@')[0]));
      return nodes.filter((n) => ports.includes(n.port) && n.running);
    },
    async primaries() {
      const live = nodes.find((n) => n.running);
      if (!live) return [];
      const text = await live.cli('CLUSTER', 'NODES');
      const ports = new Set<number>();
      for (const line of text.trim().split('\n')) {
        const [, address, flags, , , , , state, ...slots] = line.split(' ');
        if (flags?.includes('master') && !flags.includes('fail') && state === 'connected' && slots.length > 0)
          ports.add(Number(address?.split(':')[1]?.split('@')[0]));
      }
      return nodes.filter((n) => ports.has(n.port));
    },
    async waitUntilHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = nodes.filter((n) => n.running);
        const states = await Promise.all(running.map((n) => n.cli('CLUSTER', 'INFO').catch(() => '')));
        const replication = await Promise.all(running.map((n) => n.cli('INFO', 'replication').catch(() => '')));
        const ok =
          states.every((s) => /cluster_state:ok/.test(s) && /cluster_slots_ok:16384/.test(s)) &&
          replication.every((r) => /role:master/.test(r) || /master_link_status:up/.test(r));
        if (ok && (await cluster.primaries()).length === 3) return;
        if (Date.now() > deadline)
          throw new Error(`Valkey Cluster not healthy after ${timeoutMs} ms:\n${states.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      process.removeListener('exit', killAll);
      await Promise.all(nodes.map((n) => n.kill()));
      await fs.rm(root, { recursive: true, force: true });
    },
  };
  await cluster.waitUntilHealthy();
  return cluster;
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Real PostgreSQL and valkey-server for tests and benchmarks: each on a free loopback port, data in
 * a temporary directory, removed on stop. Both start idempotently (one instance per process and
 * name), and stop on process exit. When a binary is missing the helpers print why and return
 * `undefined`, so a suite can skip; in CI the binaries are present (the setup script installs them).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { freePort } from '../../core/src/demo/tls-server.js';

const run = promisify(execFile);

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** `postgres://user:password@127.0.0.1:port/database` */
  url: string;
  binDir: string;
  dataDir: string;
  stop(): Promise<void>;
  /** Starts it again on the same port and data (after `stop`). */
  start(): Promise<void>;
  /** Runs SQL through `psql` (as the test user). */
  psql(sql: string, extraArgs?: string[]): Promise<string>;
}

export interface ValkeyServer {
  host: string;
  port: number;
  password: string;
  url: string;
  dir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  cli(...args: string[]): Promise<string>;
}

export interface StartOptions {
  /** Name of the instance; the same name returns the same running server. Default `default`. */
  name?: string;
  /** Durable settings as in production (fsync on). Tests default to fast, non-durable-across-OS-crash settings. */
  durable?: boolean;
}

export { freePort };

function findPostgresBinDir(): string | undefined {
  if (process.env.STELLA_PG_BINDIR && existsSync(path.join(process.env.STELLA_PG_BINDIR, 'postgres')))
    return process.env.STELLA_PG_BINDIR;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(path.join(base, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(base, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(path.join(dir, 'postgres')) && existsSync(path.join(dir, 'initdb'))) return dir;
  }
  return undefined;
}

export function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/local/bin'])) {
    const p = path.join(dir, bin);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** PostgreSQL refuses to run as root: run its binaries as the `postgres` user then. */
async function pgUser(): Promise<{ uid: number; gid: number; wrap: (argv: string[]) => string[] }> {
  if (process.getuid?.() !== 0) return { uid: -1, gid: -1, wrap: (argv) => argv };
  const { stdout: uid } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return {
    uid: Number(uid.trim()),
    gid: Number(gid.trim()),
    wrap: (argv) => ['runuser', '-u', 'postgres', '--', ...argv],
  };
}

export async function exec(argv: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const [cmd, ...args] = argv;
  const { stdout } = await run(cmd!, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

const postgresInstances = new Map<string, Promise<PostgresServer | undefined>>();
const valkeyInstances = new Map<string, Promise<ValkeyServer | undefined>>();
const cleanups = new Set<() => void>();
let exitHooked = false;
function onExit(cleanup: () => void): void {
  cleanups.add(cleanup);
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const c of cleanups) c();
  });
}

export function startPostgres(options: StartOptions = {}): Promise<PostgresServer | undefined> {
  const name = options.name ?? 'default';
  let p = postgresInstances.get(name);
  if (!p) {
    p = launchPostgres(options);
    postgresInstances.set(name, p);
  }
  return p;
}

async function launchPostgres(options: StartOptions): Promise<PostgresServer | undefined> {
  const binDir = findPostgresBinDir();
  if (!binDir) {
    process.stderr.write('servers: PostgreSQL binaries (initdb, postgres) not found; PostgreSQL tests are skipped\n');
    return undefined;
  }
  const user = 'stella';
  const password = 'pg-test-secret-9f2c';
  const database = 'stella';
  const host = '127.0.0.1';
  const port = await freePort();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'stella-pg-'));
  const dataDir = path.join(root, 'data');
  const as = await pgUser();
  if (as.uid >= 0) await fs.chown(root, as.uid, as.gid);
  await fs.chmod(root, 0o700);
  const pwfile = path.join(root, 'pw');
  await fs.writeFile(pwfile, password, { mode: 0o600 });
  if (as.uid >= 0) await fs.chown(pwfile, as.uid, as.gid);
  await exec(
    as.wrap([
      path.join(binDir, 'initdb'),
      '-D',
      dataDir,
      '-U',
      user,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '-E',
      'UTF8',
      '--no-sync',
    ]),
  );
  const settings = [
    `-c listen_addresses=${host}`,
    `-p ${port}`,
    `-k ${root}`,
    '-c max_connections=100',
    '-c shared_buffers=128MB',
    ...(options.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
  ].join(' ');
  const pgctl = path.join(binDir, 'pg_ctl');
  let running = false;
  const server: PostgresServer = {
    host,
    port,
    user,
    password,
    database,
    url: `postgres://${user}:${password}@${host}:${port}/${database}`,
    binDir,
    dataDir,
    async start() {
      if (running) return;
      await exec(
        as.wrap([pgctl, '-D', dataDir, '-l', path.join(root, 'server.log'), '-w', '-t', '60', '-o', settings, 'start']),
      );
      running = true;
    },
    async stop() {
      if (!running) return;
      running = false;
      await exec(as.wrap([pgctl, '-D', dataDir, '-m', 'fast', '-w', 'stop']));
    },
    psql(sql, extraArgs = []) {
      return exec(
        [
          'psql',
          '-X',
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '-h',
          host,
          '-p',
          String(port),
          '-U',
          user,
          '-d',
          'postgres',
          ...extraArgs,
          '-c',
          sql,
        ],
        {
          PGPASSWORD: password,
        },
      );
    },
  };
  await server.start();
  await server.psql(`CREATE DATABASE ${database}`);
  onExit(() => {
    // Synchronous best effort on exit: immediate shutdown, then the temp dir goes.
    try {
      if (running) process.kill(Number(readPid(dataDir)), 'SIGQUIT');
    } catch {}
  });
  return server;
}

function readPid(dataDir: string): string {
  // postmaster.pid's first line is the postmaster's pid.
  return readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '';
}

export function startValkey(options: StartOptions = {}): Promise<ValkeyServer | undefined> {
  const name = options.name ?? 'default';
  let p = valkeyInstances.get(name);
  if (!p) {
    p = launchValkey(options);
    valkeyInstances.set(name, p);
  }
  return p;
}

async function launchValkey(options: StartOptions): Promise<ValkeyServer | undefined> {
  const bin = onPath('valkey-server');
  const cliBin = onPath('valkey-cli');
  if (!bin || !cliBin) {
    process.stderr.write('servers: valkey-server/valkey-cli not found; Valkey tests are skipped\n');
    return undefined;
  }
  const host = '127.0.0.1';
  const port = await freePort();
  const password = 'valkey-test-secret-7d1e';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stella-valkey-'));
  let child: ChildProcess | undefined;
  const args = [
    '--bind',
    host,
    '--port',
    String(port),
    '--dir',
    dir,
    '--requirepass',
    password,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    options.durable ? 'everysec' : 'no',
    '--daemonize',
    'no',
    '--logfile',
    path.join(dir, 'valkey.log'),
  ];
  const server: ValkeyServer = {
    host,
    port,
    password,
    url: `redis://:${password}@${host}:${port}/0`,
    dir,
    async start() {
      if (child) return;
      child = spawn(bin, args, { stdio: 'ignore' });
      const started = child;
      started.once('exit', () => {
        if (child === started) child = undefined;
      });
      for (let i = 0; i < 200; i++) {
        try {
          if ((await server.cli('PING')).trim() === 'PONG') return;
        } catch {}
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`valkey-server did not answer on ${host}:${port}; see ${path.join(dir, 'valkey.log')}`);
    },
    async stop() {
      const c = child;
      if (!c) return;
      const exited = new Promise((r) => c.once('exit', r));
      // SHUTDOWN writes the AOF out; a restart then has every acknowledged write.
      await server.cli('SHUTDOWN').catch(() => c.kill('SIGTERM'));
      await exited;
    },
    cli(...cmd) {
      return exec([cliBin, '-h', host, '-p', String(port), '--no-auth-warning', '-a', password, ...cmd]);
    },
  };
  await server.start();
  onExit(() => child?.kill('SIGKILL'));
  return server;
}

/** Stops every server this process started and removes their directories. */
export async function stopAllServers(): Promise<void> {
  for (const p of [...postgresInstances.values(), ...valkeyInstances.values()]) {
    const s = await p.catch(() => undefined);
    if (!s) continue;
    await s.stop().catch(() => {});
    await fs.rm('dataDir' in s ? path.dirname(s.dataDir) : s.dir, { recursive: true, force: true });
  }
  postgresInstances.clear();
  valkeyInstances.clear();
}

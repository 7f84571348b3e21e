// SPDX-License-Identifier: Apache-2.0
/**
 * docs/OPERATIONS.md "What survives a crash", tested as promised: the agent, SIGKILLed again and
 * again while a real TLS workload keeps it flushing NDJSON and appending batches to a real
 * PostgreSQL or Valkey, leaves every NDJSON file parseable and every acknowledged observation
 * present after restart. "Acknowledged" is what the agent logged (debug) before it died: lines
 * after their fdatasync returned (`export: synced`), batches after the store's commit/reply
 * (`store: acknowledged`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Observation } from '@stella/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpensslServer, type TlsServer } from '../../../core/src/demo/tls-server.js';
import { runStella, startStella } from '../../support/cli.js';
import { libsslCallMap, stdoutLines } from '../../support/maps.js';
import { startPostgres, startValkey } from '../../support/servers.js';

const KILLS = 6;
const canBpf = process.getuid?.() === 0;
if (!canBpf) console.warn('[skip] agent crash e2e: needs root for BPF');

const sum = (text: string, pattern: RegExp) => [...text.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0);

/** Every line of every completed NDJSON file, parsed (a parse error fails the test with the file named). */
async function completedLines(dir: string): Promise<Observation[]> {
  const names = await readdir(dir);
  const out: Observation[] = [];
  for (const name of names) {
    if (!/^[^.].*\.ndjson(\.gz)?$/.test(name) || names.includes(`${name}.gz`)) continue;
    const raw = await readFile(join(dir, name));
    const text = name.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
    expect(text === '' || text.endsWith('\n'), `${name} ends in a half line`).toBe(true);
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as Observation);
      } catch {
        throw new Error(`${name}: a line that does not parse: ${line.slice(0, 120)}`);
      }
    }
  }
  return out;
}

const FDATASYNC = 75; // x86-64 syscall number

/**
 * Waits until one of the process's threads is inside fdatasync(2) (the NDJSON flush, written but
 * not yet acknowledged), as /proc/PID/task/TID/syscall shows; false after `timeoutMs`.
 */
async function waitForFdatasync(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
      const line = await readFile(`/proc/${pid}/task/${tid}/syscall`, 'utf8').catch(() => '');
      if (line.startsWith(`${FDATASYNC} `)) return true;
    }
  }
  return false;
}

describe.skipIf(!canBpf).each([{ store: 'postgres' as const }, { store: 'valkey' as const }])(
  'agent SIGKILLed mid-write with the $store store',
  ({ store }) => {
    let dir: string;
    let tls: TlsServer;
    let client: ChildProcess;
    let storeYaml: string | undefined;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `stella-e2e-crash-${store}-`));
      tls = await startOpensslServer(dir);
      if (store === 'postgres') {
        const pg = await startPostgres();
        if (pg)
          storeYaml = `{type: postgres, max_batch_size: 4, postgres: {url: ${JSON.stringify(pg.url)}, schema: crash}}`;
      } else {
        const vk = await startValkey({ name: 'agent-crash', durable: true });
        if (vk) storeYaml = `{type: valkey, max_batch_size: 4, valkey: {url: ${JSON.stringify(vk.url)}}}`;
      }
      // One client for the whole run: handshakes keep coming across every kill and restart.
      client = spawn(
        'python3',
        [join(import.meta.dirname, '../agent/fixtures/tls_client.py'), String(tls.port), tls.certPath, '0'],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      await stdoutLines(client, 'ready');
      client.stdin?.write('1000000\n');
    });
    afterAll(async () => {
      client?.kill('SIGKILL');
      await tls?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    async function configFor(service: string, outDir: string): Promise<string> {
      const mapPath = join(dir, `${service}.json`);
      await writeFile(mapPath, JSON.stringify(libsslCallMap(service)));
      const configPath = join(dir, `${service}.yaml`);
      await writeFile(
        configPath,
        [
          'runtime_agent:',
          // One node name for every incarnation: a restart promotes what its killed predecessor left.
          '  node_name: crash-node',
          `  function_maps: [${JSON.stringify(mapPath)}]`,
          `  targets: [{service: ${service}, pids: [${client.pid}]}]`,
          `  observation_store: ${storeYaml}`,
          `  export: {flush_interval_ms: 50, output_path: ${JSON.stringify(outDir)}}`,
          '  telemetry: {prometheus: {enabled: false}}',
        ].join('\n'),
      );
      return configPath;
    }

    it(`${KILLS} SIGKILLs at varied moments: files parse, and what was acknowledged is there after restart`, async (ctx) => {
      if (!storeYaml) return ctx.skip(`${store} server binaries are not installed on this machine`);
      const outDir = join(dir, 'observations');
      await mkdir(outDir);
      const acknowledged: { service: string; syncedLines: number; storedHits: number; inFdatasync: boolean }[] = [];
      for (let i = 0; i < KILLS; i++) {
        const service = `crash-${store}-${i}`;
        const agent = startStella(['agent', '--config', await configFor(service, outDir)], {
          env: { STELLA_LOG_LEVEL: 'debug' },
        });
        await agent.waitFor(/\bready metrics=/, 60_000);
        await agent.waitFor(/store: acknowledged/, 30_000);
        // Varied moments across the flush and batch cycle (50 ms flushes, batches of 4); every other
        // kill waits for a thread to be inside the NDJSON fdatasync, so it lands mid-flush for sure.
        await new Promise((r) => setTimeout(r, 200 + ((i * 137) % 500)));
        const inFdatasync = i % 2 === 0 ? await waitForFdatasync(agent.child.pid!, 5000) : false;
        agent.child.kill('SIGKILL');
        await agent.exited;
        const log = agent.stderr();
        acknowledged.push({
          service,
          syncedLines: sum(log, /export: synced lines=(\d+)/g),
          storedHits: sum(log, /store: acknowledged observations=\d+ hits=(\d+)/g),
          inFdatasync,
        });
        // Before any restart, what readers take (completed files) is whole.
        await completedLines(outDir);
      }

      // Before the restart, verify reads what the killed runs left, live segments included: no line malformed.
      const last = `crash-${store}-${KILLS - 1}`;
      const before = await runStella([
        'function-map',
        'verify',
        '--function-map',
        join(dir, `${last}.json`),
        '--offline',
        '--observations',
        outDir,
        '--format',
        'json',
      ]);
      expect([0, 1], before.stderr).toContain(before.code);
      expect(
        (JSON.parse(before.stdout) as { observationsSkipped: { malformed: number } }).observationsSkipped.malformed,
      ).toBe(0);

      // A clean run promotes the killed runs' segments, cut back to their last whole line.
      const final = startStella(['agent', '--config', await configFor(`crash-${store}-final`, outDir)]);
      await final.waitFor(/\bready metrics=/, 60_000);
      final.child.kill('SIGTERM');
      expect(await final.exited, final.stderr()).toBe(0);
      expect((await readdir(outDir)).filter((n) => n.endsWith('.partial'))).toEqual([]);

      const lines = await completedLines(outDir);
      const found: { service: string; lines: number; hits: number }[] = [];
      for (const a of acknowledged) {
        expect(a.syncedLines, `${a.service}: the run acknowledged no NDJSON line before its kill`).toBeGreaterThan(0);
        expect(a.storedHits, `${a.service}: the run acknowledged no store batch before its kill`).toBeGreaterThan(0);
        const ndjsonLines = lines.filter((o) => o.service === a.service).length;
        expect(ndjsonLines, a.service).toBeGreaterThanOrEqual(a.syncedLines);
        const query = await runStella([
          'observations',
          'query',
          '--config',
          join(dir, `${a.service}.yaml`),
          '--service',
          a.service,
          '--summary',
          '--format',
          'json',
        ]);
        expect(query.code, query.stderr).toBe(0);
        const stored = (JSON.parse(query.stdout) as { hitCount: number }[]).reduce((n, x) => n + x.hitCount, 0);
        expect(stored, a.service).toBeGreaterThanOrEqual(a.storedHits);
        found.push({ service: a.service, lines: ndjsonLines, hits: stored });
      }
      // Half the kills landed inside fdatasync: written, not yet acknowledged.
      expect(acknowledged.filter((a) => a.inFdatasync).length).toBe(KILLS / 2);
      // What was present beyond the acknowledged shows kills between a write or commit and its ack.
      console.log(`[${store}] acknowledged before each kill, and found after restart`, acknowledged, found);
    }, 300_000);
  },
);

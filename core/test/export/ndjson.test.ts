// SPDX-License-Identifier: Apache-2.0
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { Observation } from '@stella/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NdjsonExporter } from '../../src/export/ndjson.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function obs(i: number, at = Date.now()): Observation {
  return {
    observedAt: new Date(at).toISOString(),
    service: 'checkout',
    function: 'crypto/EVP_DigestInit_ex',
    symbol: 'EVP_DigestInit_ex',
    binaryPath: '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
    nodeHash: `sha256:${'a'.repeat(64)}`,
    probeType: 'uprobe',
    pid: 42,
    comm: 'node',
    nodeName: 'node-a',
    hitCount: i,
  };
}

/** Every line of every completed file, parsed (throws on a half line). */
async function readAll(dir: string): Promise<{ files: string[]; records: Record<string, unknown>[] }> {
  const files = (await fs.readdir(dir)).filter((n) => /\.ndjson(\.gz)?$/.test(n)).sort();
  const records: Record<string, unknown>[] = [];
  for (const f of files) {
    let buf = await fs.readFile(path.join(dir, f));
    if (f.endsWith('.gz')) buf = gunzipSync(buf);
    const text = buf.toString('utf8');
    expect(text.endsWith('\n'), `${f} ends with a newline`).toBe(true);
    for (const line of text.slice(0, -1).split('\n')) records.push(JSON.parse(line));
  }
  return { files, records };
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stella-ndjson-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('NdjsonExporter', () => {
  it('writes one JSON object a line, visible only once the file is complete', async () => {
    const ex = new NdjsonExporter({
      outputPath: dir,
      flushIntervalMs: 60_000,
      compressRotated: false,
      nodeName: 'node-a',
      logger: silent,
    });
    ex.write([obs(1), obs(2)]);
    ex.write([obs(3)]);
    await ex.flush();
    expect(path.basename(ex.currentFile())).toMatch(/^\.observations-node-a-.*\.ndjson\.partial$/);
    expect((await readAll(dir)).records).toHaveLength(0); // in progress: hidden name
    expect((await fs.readFile(ex.currentFile(), 'utf8')).split('\n')).toHaveLength(4);
    await ex.close();
    const { files, records } = await readAll(dir);
    expect(files).toHaveLength(1);
    expect(records.map((r) => r.hitCount)).toEqual([1, 2, 3]);
    expect(records[0]).toEqual(obs(1, Date.parse(records[0]!.observedAt as string)));
  });

  it('flushes on its interval without being asked', async () => {
    const ex = new NdjsonExporter({ outputPath: dir, flushIntervalMs: 50, nodeName: 'node-a', logger: silent });
    ex.write([obs(1)]);
    await new Promise((r) => setTimeout(r, 300));
    expect(ex.stats().written).toBe(1);
    await ex.close();
  });

  it('rotates by size and gzips the completed files', async () => {
    const ex = new NdjsonExporter({
      outputPath: dir,
      flushIntervalMs: 60_000,
      rotateBytes: 4096,
      nodeName: 'node-a',
      logger: silent,
    });
    for (let b = 0; b < 20; b++) {
      ex.write(Array.from({ length: 10 }, (_, i) => obs(b * 10 + i)));
      await ex.flush();
    }
    await ex.close();
    const { files, records } = await readAll(dir);
    expect(files.length).toBeGreaterThan(5);
    expect(files.every((f) => f.endsWith('.ndjson.gz'))).toBe(true);
    expect(records.map((r) => r.hitCount)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('rotates by time even when idle', async () => {
    let now = Date.parse('2025-03-01T00:00:00Z');
    const ex = new NdjsonExporter({
      outputPath: dir,
      flushIntervalMs: 60_000,
      rotateIntervalMs: 10_000,
      compressRotated: false,
      nodeName: 'node-a',
      logger: silent,
      now: () => now,
    });
    ex.write([obs(1)]);
    await ex.flush();
    expect((await readAll(dir)).files).toHaveLength(0);
    now += 10_000;
    await ex.flush(); // nothing new, but the file is old enough to complete
    expect((await readAll(dir)).records).toHaveLength(1);
    ex.write([obs(2)]);
    await ex.close();
    expect((await readAll(dir)).files).toHaveLength(2);
  });

  it('removes completed files past retention, and only its own node’s', async () => {
    const old = path.join(dir, 'observations-node-a-20000101T000000000Z-0000-1.ndjson.gz');
    const other = path.join(dir, 'observations-node-b-20000101T000000000Z-0000-1.ndjson.gz');
    for (const f of [old, other]) {
      await fs.writeFile(f, '');
      await fs.utimes(f, new Date('2000-01-01'), new Date('2000-01-01'));
    }
    const ex = new NdjsonExporter({
      outputPath: dir,
      flushIntervalMs: 60_000,
      retentionHours: 1,
      nodeName: 'node-a',
      logger: silent,
    });
    ex.write([obs(1)]);
    await ex.close();
    const names = await fs.readdir(dir);
    expect(names).not.toContain(path.basename(old));
    expect(names).toContain(path.basename(other));
    expect(names.filter((n) => n.includes('node-a'))).toHaveLength(1);
  });

  it('recovers a half-written in-progress file: whole lines kept, the torn one cut', async () => {
    const partial = path.join(dir, '.observations-node-a-20250301T000000000Z-0000-1.ndjson.partial');
    await fs.writeFile(partial, `${JSON.stringify(obs(1))}\n${JSON.stringify(obs(2))}\n{"observedAt":"2025-03-01T00:0`);
    const ex = new NdjsonExporter({
      outputPath: dir,
      flushIntervalMs: 60_000,
      compressRotated: false,
      nodeName: 'node-a',
      logger: silent,
    });
    ex.write([obs(3)]);
    await ex.close();
    const { records, files } = await readAll(dir);
    expect(files).toHaveLength(2);
    expect(records.map((r) => r.hitCount)).toEqual([1, 2, 3]);
  });

  it('survives kill -9 mid-write: every file parses and every durable line is there once', async () => {
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, 'node_modules/jiti/lib/jiti-cli.mjs'), path.join(here, 'fixtures/writer.ts'), dir],
      {
        // The SDK from its sources, as in the test itself: the unit project needs no build.
        env: {
          ...process.env,
          JITI_ALIAS: JSON.stringify({ '@stella/sdk': path.join(repoRoot, 'plugins/sdk/src/index.ts') }),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let durable = 0;
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/durable (\d+)\n(?![\s\S]*durable \d+\n)/);
      if (m) durable = Number(m[1]);
    });
    // Let it write (and rotate, and gzip) for a while, then kill it at an arbitrary point.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (durable > 60_000) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 50)));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(durable).toBeGreaterThan(60_000);

    // A reader right after the kill: every visible file is whole.
    await readAll(dir);
    // The next start promotes the in-progress file and finishes interrupted gzips.
    const ex = new NdjsonExporter({ outputPath: dir, flushIntervalMs: 60_000, nodeName: 'node-a', logger: silent });
    await ex.close();
    const { records, files } = await readAll(dir);
    expect(files.length).toBeGreaterThan(3);
    expect(await fs.readdir(dir).then((n) => n.filter((f) => f.startsWith('.')))).toEqual([]);
    const seqs = records.map((r) => r.tid as number).sort((a, b) => a - b);
    expect(new Set(seqs).size).toBe(seqs.length); // nothing twice
    expect(seqs.length).toBeGreaterThanOrEqual(durable);
    for (let i = 0; i < durable; i++) if (seqs[i] !== i) throw new Error(`durable line ${i} is missing`);
  });
});

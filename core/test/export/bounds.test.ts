// SPDX-License-Identifier: Apache-2.0
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Observation } from '@stella/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { NdjsonExporter } from '../../src/export/ndjson.js';
import { createLogger } from '../../src/logger.js';

const obs = (i: number): Observation => ({
  observedAt: new Date(1_790_000_000_000 + i).toISOString(),
  service: 's',
  function: 'tls/SSL_connect',
  symbol: 'SSL_connect',
  binaryPath: '/usr/lib/x86_64-linux-gnu/libssl.so.3',
  nodeHash: 'sha256:00',
  probeType: 'uprobe',
  pid: 1,
  comm: 'c',
  nodeName: 'n',
  hitCount: 1,
});

/** An exporter with a 4 KiB outage bound that only flushes when told, its drops pushed to `drops`. */
const boundedExporter = (outputPath: string, drops: number[]) =>
  new NdjsonExporter({
    outputPath,
    flushIntervalMs: 60_000,
    nodeName: 'n',
    logger: createLogger({ level: 'silent' }),
    maxBufferedBytes: 4096,
    onDrop: (n) => drops.push(n),
  });

let dir: string | undefined;
afterEach(async () => {
  if (dir) {
    await chmod(dir, 0o755).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});

describe('NDJSON exporter bounds', () => {
  it('takes a batch larger than its outage bound whole while the disk writes (the agent budget bounds it)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-bounds-'));
    const drops: number[] = [];
    const exporter = boundedExporter(dir, drops);
    exporter.write(Array.from({ length: 1000 }, (_, i) => obs(i))); // ~250 KB, 60× the bound
    await exporter.close();
    expect(drops).toEqual([]);
    expect(exporter.stats().written).toBe(1000);
    const files = await readdir(dir);
    expect(files.length).toBeGreaterThan(0);
  });

  it('while writes fail, keeps at most its bound and reports every dropped line', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-bounds-'));
    const drops: number[] = [];
    // A file where the output directory should be fails for root too (permissions would not).
    const out = join(dir, 'blocked');
    await import('node:fs/promises').then((fs) => fs.writeFile(out, 'not a directory'));
    const exporter = boundedExporter(out, drops);
    exporter.write(Array.from({ length: 100 }, (_, i) => obs(i)));
    await expect(exporter.flush()).rejects.toThrow();
    exporter.write(Array.from({ length: 100 }, (_, i) => obs(100 + i)));
    const stats = exporter.stats();
    expect(stats.bufferedBytes).toBeLessThanOrEqual(4096);
    const dropped = drops.reduce((a, b) => a + b, 0);
    expect(dropped).toBe(stats.dropped);
    expect(dropped + stats.bufferedLines).toBe(200);
    expect(await readFile(out, 'utf8')).toBe('not a directory');
  });
});

// SPDX-License-Identifier: Apache-2.0
/**
 * A full disk under the NDJSON directory (issue #13), for real: a 64 KiB tmpfs filled up. Writes
 * fail and are counted (writeErrors, the agent's export_error), the lines wait in the bounded
 * buffer, no half line is left on disk, and once space is freed the next flush writes every line
 * exactly once. Needs root (mount); skips with a reason otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Observation } from '@stella/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NdjsonExporter } from '../../src/export/ndjson.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('full-disk.test: skipped, mounting a tmpfs needs root');

const obs = (i: number): Observation => ({
  observedAt: new Date().toISOString(),
  service: 'checkout',
  function: 'crypto/EVP_DigestInit_ex',
  symbol: 'EVP_DigestInit_ex',
  binaryPath: '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
  probeType: 'uprobe',
  pid: 42,
  comm: 'node',
  nodeName: 'node-a',
  hitCount: i + 1,
});

describe.skipIf(!isRoot)('NDJSON export on a full disk (real tmpfs)', () => {
  const mnt = path.join(mkdtempSync(path.join(os.tmpdir(), 'full-disk-')), 'mnt');
  beforeAll(() => {
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
  });
  afterAll(() => {
    spawnSync('umount', ['-l', mnt]);
  });

  it('counts the failed writes, keeps the lines, and writes each exactly once after space returns', async () => {
    const out = path.join(mnt, 'obs');
    const ex = new NdjsonExporter({ outputPath: out, flushIntervalMs: 3_600_000, nodeName: 'node-a', logger: silent });
    ex.write([obs(0)]);
    await ex.flush();
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(mnt, 'filler')}`, 'bs=4k']); // the disk is now full
    ex.write(Array.from({ length: 200 }, (_, i) => obs(i + 1)));
    await expect(ex.flush()).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(ex.flush()).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(ex.stats()).toMatchObject({ written: 1, writeErrors: 2, bufferedLines: 200, dropped: 0 });
    // No torn line: what is on disk is exactly the one line written before.
    const partial = (await fs.readFile(ex.currentFile(), 'utf8')).split('\n');
    expect(partial.slice(0, -1).map((l) => JSON.parse(l).hitCount)).toEqual([1]);

    await fs.rm(path.join(mnt, 'filler'));
    await ex.flush();
    expect(ex.stats()).toMatchObject({ written: 201, writeErrors: 2, bufferedLines: 0 });
    await ex.close();
    const files = (await fs.readdir(out)).filter((f) => /\.ndjson(\.gz)?$/.test(f));
    expect(files).toHaveLength(1);
    const { gunzipSync } = await import('node:zlib');
    let text = await fs.readFile(path.join(out, files[0]!));
    if (files[0]!.endsWith('.gz')) text = gunzipSync(text);
    const hits = text
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).hitCount as number);
    expect(hits).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
  });
});

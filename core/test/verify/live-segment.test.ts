// SPDX-License-Identifier: Apache-2.0
import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Observation } from '@stella/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { libsslCallMap } from '../../../test/support/maps.js';
import { NdjsonExporter } from '../../src/export/ndjson.js';
import { parseFunctionMap } from '../../src/function-map/index.js';
import { createLogger } from '../../src/logger.js';
import { isLiveSegment } from '../../src/ndjson/contract.js';
import { expandObservationInputs, readObservationFiles, VerificationAccumulator } from '../../src/verify/index.js';

const map = parseFunctionMap(libsslCallMap('live'), 'test');
const call = map.predicate.expectedPaths[0]!.expectedCalls[0]!;
const now = Date.now();
const obs = (i: number): Observation => ({
  observedAt: new Date(now - 60_000 + i).toISOString(),
  service: 'live',
  function: call.function,
  symbol: call.symbol,
  binaryPath: call.binaryPath,
  nodeHash: call.nodeHash,
  probeType: 'uprobe',
  pid: 42,
  comm: 'curl',
  nodeName: 'n',
  hitCount: 1,
});
const window = { from: new Date(now - 3600_000), to: new Date(now + 1000) };

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('verify on the output directory of a running agent', () => {
  it('reads the live segment the exporter is still appending to, without its unfinished last line', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-live-'));
    const exporter = new NdjsonExporter({
      outputPath: dir,
      flushIntervalMs: 60_000,
      nodeName: 'n',
      logger: createLogger({ level: 'silent' }),
    });
    exporter.write([obs(1), obs(2), obs(3)]);
    await exporter.flush();
    const live = (await readdir(dir)).find((f) => isLiveSegment(f));
    expect(live).toBeDefined();
    // Half a line, as if the agent were in the middle of a write.
    await appendFile(join(dir, live!), '{"observedAt":"2026-11-2');

    const files = await expandObservationInputs([dir]);
    expect(files.map((f) => f.slice(dir!.length + 1))).toEqual([live]);
    const acc = new VerificationAccumulator(map, window);
    await readObservationFiles(files, acc);
    const report = acc.report();
    expect(report.paths[0]!.hitCount).toBe(3);
    expect(report.observationsSkipped.malformed).toBe(0);
    expect(report.observationRate).toBe(1);
    await exporter.close();
  });

  it('reads a rotated file once when its gzip twin already exists', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-live-'));
    const lines = `${[obs(1), obs(2)].map((o) => JSON.stringify(o)).join('\n')}\n`;
    await writeFile(join(dir, 'observations-n-1.ndjson'), lines);
    await writeFile(join(dir, 'observations-n-1.ndjson.gz'), gzipSync(lines));
    const files = await expandObservationInputs([dir]);
    expect(files.map((f) => f.slice(dir!.length + 1))).toEqual(['observations-n-1.ndjson.gz']);
    const acc = new VerificationAccumulator(map, window);
    await readObservationFiles(files, acc);
    expect(acc.report().paths[0]!.hitCount).toBe(2);
  });
});

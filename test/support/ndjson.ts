// SPDX-License-Identifier: Apache-2.0
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Observation } from '@stella/sdk';
import { NdjsonExporter } from '../../core/src/export/ndjson.js';
import type { FunctionMap } from '../../core/src/function-map/types.js';
import { createLogger } from '../../core/src/logger.js';
import { observationFilesOf } from '../../core/src/ndjson/contract.js';
import { VerificationAccumulator } from '../../core/src/verify/accumulator.js';
import { readObservationFiles } from '../../core/src/verify/ndjson.js';

/**
 * Every observation in an agent's NDJSON output directory, read by the contract's own file rule
 * (a gzip over its plain twin while both exist), so a test reads what `verify` would read.
 * An absent directory holds none.
 */
export async function readObservations(dir: string): Promise<Observation[]> {
  const out: Observation[] = [];
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of observationFilesOf(names)) {
    const raw = await readFile(join(dir, name));
    const text = (name.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    for (const line of text.split('\n')) if (line.trim()) out.push(JSON.parse(line) as Observation);
  }
  return out;
}

/** The calls of `functionId` (by `pid` when given) the observations count. */
export function hits(observations: readonly Observation[], functionId: string, pid?: number): number {
  return observations
    .filter((o) => o.function === functionId && (pid === undefined || o.pid === pid))
    .reduce((n, o) => n + o.hitCount, 0);
}

/**
 * Writes `records` through the agent's NDJSON exporter into `dir` and reads the completed files
 * back as `verify` does, against `map` over the last hour: the verifier's read statistics (lines,
 * fast lane) and its report.
 */
export async function exportThenVerify(records: Observation[], map: FunctionMap, dir: string) {
  const exporter = new NdjsonExporter({
    outputPath: dir,
    flushIntervalMs: 60_000,
    compressRotated: false,
    nodeName: 'node-a',
    logger: createLogger({ level: 'silent' }),
  });
  exporter.write(records);
  await exporter.close();
  const now = Date.now();
  const acc = new VerificationAccumulator(map, { from: new Date(now - 3600_000), to: new Date(now + 1000) });
  const stats = await readObservationFiles(await exporter.completedFiles(), acc);
  return { stats, report: acc.report() };
}

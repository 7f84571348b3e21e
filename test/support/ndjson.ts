// SPDX-License-Identifier: Apache-2.0
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Observation } from '@stella/sdk';
import { observationFilesOf } from '../../core/src/ndjson/contract.js';

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


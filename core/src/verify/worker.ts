// SPDX-License-Identifier: Apache-2.0
/**
 * One parallel verify reader (worker_threads): reads its files and slices into its own
 * accumulator over the same map and window, and posts the counts back to be merged.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FunctionMap } from '../function-map/types.js';
import { VerificationAccumulator } from './accumulator.js';
import { type ObservationSlice, readObservationFiles } from './ndjson.js';

interface Job {
  map: FunctionMap;
  from: number;
  to: number;
  items: (string | ObservationSlice)[];
}

const job = workerData as Job;
try {
  const acc = new VerificationAccumulator(job.map, { from: new Date(job.from), to: new Date(job.to) });
  const stats = await readObservationFiles(job.items, acc);
  parentPort?.postMessage({ state: acc.exportState(), stats });
} catch (error) {
  parentPort?.postMessage({ error: (error as Error).message, input: (error as Error).name === 'InputError' });
}

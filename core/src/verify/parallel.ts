// SPDX-License-Identifier: Apache-2.0
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InputError } from '../errors.js';
import type { AccumulatorState, VerificationAccumulator } from './accumulator.js';
import { type ObservationSlice, type ReadStats, readObservationFiles, STDIN } from './ndjson.js';

/** Below this much input per worker, starting workers costs more than it saves (~50 ms each). */
export const MIN_BYTES_PER_WORKER = 32 * 1024 * 1024;

const WORKER = new URL('./worker.js', import.meta.url);

/**
 * Splits the inputs across `workers` readers of about equal bytes: plain files are cut into byte
 * slices at any offset (a slice owns the lines that start inside it), gzip files go whole.
 */
export function planSlices(files: readonly string[], workers: number): (string | ObservationSlice)[][] {
  const sized = files.map((file) => ({ file, size: statSync(file).size }));
  const total = sized.reduce((n, f) => n + f.size, 0);
  const target = Math.max(1, Math.ceil(total / workers));
  const pieces: { item: string | ObservationSlice; size: number }[] = [];
  for (const { file, size } of sized) {
    if (file.endsWith('.gz') || size <= target) {
      pieces.push({ item: file, size });
      continue;
    }
    for (let start = 0; start < size; start += target) {
      pieces.push({ item: { file, start, end: Math.min(size, start + target) }, size: Math.min(target, size - start) });
    }
  }
  // Largest first onto the least-loaded reader.
  const plans = Array.from({ length: workers }, () => ({ bytes: 0, items: [] as (string | ObservationSlice)[] }));
  for (const piece of pieces.sort((a, b) => b.size - a.size)) {
    const least = plans.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    least.items.push(piece.item);
    least.bytes += piece.size;
  }
  return plans.filter((p) => p.items.length > 0).map((p) => p.items);
}

/**
 * `readObservationFiles` on every CPU: with enough input, one worker thread per CPU reads its
 * share into its own accumulator and the counts are merged into `acc`. Same result as the
 * sequential reader (malformed samples of a slice after a file's first name a byte offset,
 * `file@offset`, instead of a line number). Falls back to one reader for small inputs, one CPU,
 * or when the compiled worker is not there (running from TypeScript sources).
 */
export async function readObservationFilesParallel(
  files: readonly string[],
  acc: VerificationAccumulator,
  options: { workers?: number } = {},
): Promise<ReadStats> {
  const infos = files.map((f) => (f === STDIN ? undefined : statSync(f, { throwIfNoEntry: false })));
  // Standard input, pipes and devices are read once, as they come: by this thread, with the rest.
  const streams = files.some((f, i) => f === STDIN || infos[i]?.isFile() === false);
  const total = infos.reduce((n, info) => n + (info?.size ?? 0), 0);
  const workers = Math.min(options.workers ?? availableParallelism(), Math.floor(total / MIN_BYTES_PER_WORKER));
  if (streams || workers < 2 || !existsSync(fileURLToPath(WORKER))) return readObservationFiles(files, acc);
  const plans = planSlices(files, workers);
  const results = await Promise.all(
    plans.map(
      (items) =>
        new Promise<{ state: AccumulatorState; stats: ReadStats }>((resolve, reject) => {
          const worker = new Worker(WORKER, {
            // Each reader's heap stays small (chunks are 512 KiB, state is per distinct call): keep
            // the whole verify under 200 MB however many CPUs read.
            resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 16 },
            workerData: { map: acc.map, from: acc.window.from.getTime(), to: acc.window.to.getTime(), items },
          });
          worker.once(
            'message',
            (m: { state?: AccumulatorState; stats?: ReadStats; error?: string; input?: boolean }) => {
              if (m.error !== undefined) reject(m.input ? new InputError(m.error) : new Error(m.error));
              else resolve({ state: m.state!, stats: m.stats! });
            },
          );
          worker.once('error', reject);
        }),
    ),
  );
  const stats: ReadStats = { files: files.length, lines: 0, fastLane: 0 };
  for (const { state, stats: s } of results) {
    acc.mergeState(state);
    stats.lines += s.lines;
    stats.fastLane += s.fastLane;
  }
  return stats;
}

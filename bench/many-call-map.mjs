// SPDX-License-Identifier: Apache-2.0
// A function map with many probed calls in one path, from the app's `main`: what the stop and
// exit-storm benchmarks give the agent to attach. Needs the compiled core (npm run build).
import { execFileSync } from 'node:child_process';
import { writeOnePathMap } from './one-call-map.mjs';

/**
 * The first `count` exported functions of the shared library `binaryPath` (from `nm -D`), one
 * symbol per address, so aliases never put two probes on one instruction.
 */
export function exportedFunctions(binaryPath, count) {
  const seen = new Set();
  const symbols = [];
  for (const line of execFileSync('nm', ['-D', '--defined-only', binaryPath], { encoding: 'utf8' }).split('\n')) {
    const [address, type, versioned] = line.trim().split(/\s+/);
    // `nm -D` appends the symbol version (`EVP_DigestUpdate@@OPENSSL_3.0.0`).
    const name = versioned?.split('@')[0];
    if (type !== 'T' || !name || seen.has(address)) continue;
    seen.add(address);
    symbols.push(name);
    if (symbols.length === count) return symbols;
  }
  throw new Error(`${binaryPath}: only ${symbols.length} exported functions, ${count} wanted`);
}

/**
 * Writes to `path` a map whose one path expects every symbol of `symbols` in `binaryPath`,
 * category `category` (which probe plugin takes them), library purl `purl`.
 */
export function writeManyCallMap(repo, path, { app, binaryPath, library, purl, category, symbols }) {
  const calls = symbols.map((symbol) => ({ function: `${category}/${symbol}`, symbol, library, purl, binaryPath }));
  return writeOnePathMap(repo, path, { app, calls, pathId: 'many-calls', tags: ['bench'], priority: 'crypto' });
}

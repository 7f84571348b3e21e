// SPDX-License-Identifier: Apache-2.0
// The function map a probe benchmark gives the agent: one path, from the app's `main` to the
// probed calls. Needs the compiled core (npm run build).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes to `path` a map with one path from `app`'s `main` (the subject and entry point) to
 * `calls`, each {function, symbol, library, purl, binaryPath}, probed by uprobe.
 */
export async function writeOnePathMap(repo, path, { app, calls, pathId, tags, priority }) {
  const { nodeHash, pathHash } = await import(join(repo, 'core/dist/function-map/index.js'));
  const entry = { symbol: 'main', purl: app, nodeHash: nodeHash(app, 'main') };
  const expectedCalls = calls.map((call) => ({
    ...call,
    probeTypes: ['uprobe'],
    nodeHash: nodeHash(call.purl, call.symbol),
    optional: false,
  }));
  writeFileSync(
    path,
    JSON.stringify({
      _type: 'https://stella.ops/predicates/function-map/v1',
      subject: { purl: app, digest: { sha256: '3'.repeat(64) } },
      predicate: {
        schemaVersion: '1.0.0',
        service: 'bench',
        coverage: { minObservationRate: 0.95, windowSeconds: 600, failOnUnexpected: false },
        expectedPaths: [
          {
            pathId,
            tags,
            priority,
            optional: false,
            entrypoint: entry,
            expectedCalls,
            pathHash: pathHash([entry.nodeHash, ...expectedCalls.map((c) => c.nodeHash)]),
          },
        ],
      },
    }),
  );
}

/** {@link writeOnePathMap} with the one probed `call`. */
export function writeOneCallMap(repo, path, { call, ...rest }) {
  return writeOnePathMap(repo, path, { ...rest, calls: [call] });
}

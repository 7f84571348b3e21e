// SPDX-License-Identifier: Apache-2.0
// The function map a probe benchmark gives the agent: one path, from the app's `main` to the one
// probed call. Needs the compiled core (npm run build).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes the map to `path`. `app` is the benchmarked program's purl (subject and entry point);
 * `call` is the probed function: {function, symbol, library, purl, binaryPath}.
 */
export async function writeOneCallMap(repo, path, { app, call, pathId, tags, priority }) {
  const { nodeHash, pathHash } = await import(join(repo, 'core/dist/function-map/index.js'));
  const entry = { symbol: 'main', purl: app, nodeHash: nodeHash(app, 'main') };
  const expected = { ...call, probeTypes: ['uprobe'], nodeHash: nodeHash(call.purl, call.symbol), optional: false };
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
            expectedCalls: [expected],
            pathHash: pathHash([entry.nodeHash, expected.nodeHash]),
          },
        ],
      },
    }),
  );
}

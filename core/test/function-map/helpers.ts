// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';
import { nodeHash, pathHash } from '../../src/function-map/hash.js';
import type { ExpectedCall, ExpectedPath, FunctionMap } from '../../src/function-map/types.js';

export const SERVICE = 'checkout';
export const SUBJECT_PURL = 'pkg:generic/checkout';

export function call(fn: string, purl: string, binaryPath: string, optional = false): ExpectedCall {
  const symbol = fn.split('/')[1]!;
  return {
    function: fn,
    symbol,
    library: binaryPath.split('/').pop()!,
    purl,
    binaryPath,
    probeTypes: ['uprobe'],
    nodeHash: nodeHash(purl, symbol),
    optional,
  };
}

export function path(pathId: string, tags: string[], calls: ExpectedCall[], optional = false): ExpectedPath {
  const entry = nodeHash(SUBJECT_PURL, 'main');
  return {
    pathId,
    tags,
    priority: 'general',
    optional,
    entrypoint: { symbol: 'main', purl: SUBJECT_PURL, nodeHash: entry },
    expectedCalls: calls,
    pathHash: pathHash([entry, ...calls.map((c) => c.nodeHash)]),
  };
}

export function makeMap(
  paths: ExpectedPath[],
  coverage: Partial<FunctionMap['predicate']['coverage']> = {},
): FunctionMap {
  return {
    _type: 'https://stella.ops/predicates/function-map/v1',
    subject: { purl: SUBJECT_PURL, digest: { sha256: 'a'.repeat(64) } },
    predicate: {
      schemaVersion: '1.0.0',
      service: SERVICE,
      buildId: 'ci-42',
      coverage: { minObservationRate: 0.95, windowSeconds: 1800, failOnUnexpected: false, ...coverage },
      expectedPaths: paths,
    },
  };
}

export function obs(
  c: { function: string; binaryPath: string; nodeHash?: string; purl?: string },
  at: string,
  more: Partial<Observation> = {},
): Observation {
  const o: Observation = {
    observedAt: at,
    service: SERVICE,
    function: c.function,
    symbol: c.function.split('/')[1]!,
    binaryPath: c.binaryPath,
    probeType: 'uprobe',
    pid: 100,
    comm: 'node',
    nodeName: 'node-1',
    hitCount: 1,
    ...more,
  };
  if (c.nodeHash !== undefined && !('nodeHash' in more)) o.nodeHash = c.nodeHash;
  if (c.purl !== undefined) o.purl = c.purl;
  return o;
}

export const LIBSSL = 'pkg:deb/debian/libssl3@3.0.15-1?arch=amd64';
export const LIBCRYPTO = 'pkg:deb/debian/libssl3@3.0.15-1?arch=amd64'; // libcrypto.so.3 ships in Debian's libssl3 package
export const NODE = 'pkg:deb/debian/nodejs@18.19.0';

// SPDX-License-Identifier: Apache-2.0
import { basename } from 'node:path';
import {
  type CatalogueEntry,
  type CatalogueLibrary,
  canaryFunctionId,
  type ProbeRequest,
  type ProbeType,
} from '@stella/sdk';
import { nodeHash } from '../function-map/hash.js';
import type { FunctionMap } from '../function-map/index.js';

export interface AgentProbeRequest extends ProbeRequest {
  /** false for catalogue functions the map does not declare, watched to report unexpected calls. */
  expected: boolean;
  /** The library's canary (`canary/<symbol>`): says the probes see the library, never counted. */
  canary?: true;
}

function categoryOf(functionId: string): string {
  const slash = functionId.indexOf('/');
  return slash > 0 ? functionId.slice(0, slash) : 'general';
}

/**
 * Every expected call of every loaded map, once per (service, nodeHash); then, for each library
 * the maps name, the catalogue's other functions of that library (except hot ones, which cost a
 * trap per record), so that a call nobody declared is seen and reported as unexpected instead of
 * passing unnoticed; and each such library's canary, when its catalogue names one.
 */
export function buildProbeRequests(
  maps: FunctionMap[],
  catalogues: CatalogueEntry[],
  watchUndeclared = true,
): AgentProbeRequest[] {
  const requests: AgentProbeRequest[] = [];
  const seen = new Set<string>();
  const libraries = new Map<
    string,
    { service: string; library: string; binaryPath: string; purl: string; buildId?: string }
  >();
  for (const map of maps) {
    const service = map.predicate.service;
    for (const path of map.predicate.expectedPaths) {
      for (const call of path.expectedCalls) {
        const key = `${service}\u0000${call.nodeHash}`;
        if (seen.has(key)) continue;
        seen.add(key);
        requests.push({
          service,
          functionId: call.function,
          category: categoryOf(call.function),
          symbol: call.symbol,
          library: call.library,
          binaryPath: call.binaryPath,
          purl: call.purl,
          buildId: call.buildId,
          nodeHash: call.nodeHash,
          probeTypes: call.probeTypes,
          expected: true,
        });
        libraries.set(`${service}\u0000${call.binaryPath}`, {
          service,
          library: call.library,
          binaryPath: call.binaryPath,
          purl: call.purl,
          buildId: call.buildId,
        });
      }
    }
  }
  const catalogueLibrariesOf = (lib: { library: string; binaryPath: string }) =>
    catalogues.flatMap((entry) =>
      entry.libraries.filter((catLib) => {
        const names = [catLib.library, ...(catLib.alternatives ?? [])].map((n) => basename(n));
        return names.includes(basename(lib.library)) || names.includes(basename(lib.binaryPath));
      }),
    );
  for (const lib of libraries.values()) {
    const canary = catalogueLibrariesOf(lib).find((c) => c.canary !== undefined);
    if (canary) requests.push(canaryRequest(lib, canary));
  }
  if (!watchUndeclared) return requests;
  for (const lib of libraries.values()) {
    for (const catLib of catalogueLibrariesOf(lib)) {
      for (const fn of catLib.functions) {
        if (fn.hot) continue;
        const hash = nodeHash(lib.purl, fn.symbol);
        const key = `${lib.service}\u0000${hash}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const probeTypes: ProbeType[] = fn.probeTypes ?? ['uprobe'];
        requests.push({
          service: lib.service,
          functionId: `${fn.category}/${fn.symbol}`,
          category: fn.category,
          symbol: fn.symbol,
          library: lib.library,
          binaryPath: lib.binaryPath,
          purl: lib.purl,
          buildId: lib.buildId,
          nodeHash: hash,
          probeTypes,
          expected: false,
        });
      }
    }
  }
  return requests;
}

/**
 * The canary of one library of a service's map. Its category is the library's own (a libssl
 * canary goes to the plugin serving `tls`); its node hash is the function id's, so it never
 * coincides with a declared call of the same symbol (libsodium's `sodium_init` may be both).
 */
function canaryRequest(
  lib: { service: string; library: string; binaryPath: string; purl: string; buildId?: string },
  catLib: CatalogueLibrary,
): AgentProbeRequest {
  const symbol = catLib.canary as string;
  const functionId = canaryFunctionId(symbol);
  return {
    service: lib.service,
    functionId,
    category: catLib.functions[0]?.category ?? 'general',
    symbol,
    library: lib.library,
    binaryPath: lib.binaryPath,
    purl: lib.purl,
    buildId: lib.buildId,
    nodeHash: nodeHash(lib.purl, functionId),
    probeTypes: ['uprobe'],
    expected: false,
    canary: true,
  };
}

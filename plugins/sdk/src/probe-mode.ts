// SPDX-License-Identifier: Apache-2.0
/**
 * Which count mode a probed function runs in. Most specific first: `probes.modes[functionId]`,
 * `probes.modes[category]`, `probes.mode`, then the catalogue: presence for functions marked hot,
 * count for the rest. Hot functions default to presence because counting every call of one is what
 * makes a watched service slow (one trap per call), while verification needs each call seen once
 * per window; an operator who wants their exact counts says `count`.
 */
import { isCanaryFunction } from './canary.js';
import type { CatalogueEntry } from './types/catalogue.js';
import type { ProbeRequest } from './types/probe-requests.js';
import type { ProbeCountMode, ProbeTuning } from './types/tuning.js';

export function probeModeOf(
  request: Pick<ProbeRequest, 'functionId' | 'category'>,
  hot: boolean,
  tuning: Pick<ProbeTuning, 'countMode' | 'countModes'>,
): ProbeCountMode {
  // A canary fires about once per process: counting it exactly costs almost nothing, and presence
  // mode's per-process disarm would only add links.
  if (isCanaryFunction(request.functionId)) return 'count';
  const modes = tuning.countModes ?? {};
  return modes[request.functionId] ?? modes[request.category] ?? tuning.countMode ?? (hot ? 'presence' : 'count');
}

/** Function ids the catalogue marks hot (a symbol absent from it is not hot). */
function hotFunctionIds(catalogue: readonly CatalogueEntry[]): Set<string> {
  const hot = new Set<string>();
  for (const entry of catalogue)
    for (const library of entry.libraries)
      for (const fn of library.functions) if (fn.hot) hot.add(`${fn.category}/${fn.symbol}`);
  return hot;
}

/** Each request's mode, with the catalogue's hot flags. */
export function probeModesOf(
  requests: readonly ProbeRequest[],
  catalogue: readonly CatalogueEntry[],
  tuning: Pick<ProbeTuning, 'countMode' | 'countModes'>,
): ProbeCountMode[] {
  const hot = hotFunctionIds(catalogue);
  return requests.map((request) => probeModeOf(request, hot.has(request.functionId), tuning));
}

/**
 * The requests counted in the kernel without a record per call: hot catalogue functions in count
 * mode while per-call records are on (`aggregationWindowMs` 0; aggregating, every count-mode probe
 * is counted in the kernel already). Their counts stay exact and arrive once per window as one
 * record per (function, process) with `hitCount` N. Why: a hot function makes hundreds of calls a
 * request (EVP_DigestUpdate ~270 a TLS handshake), and a ring-buffer record per call plus its
 * decode in the agent, on the service's CPUs, cost more than the trap itself (docs/BENCHMARKS.md).
 */
export function countOnlyIndexes(
  requests: readonly ProbeRequest[],
  catalogue: readonly CatalogueEntry[],
  modes: readonly ProbeCountMode[],
  aggregationWindowMs: number,
): Set<number> {
  const indexes = new Set<number>();
  if (aggregationWindowMs > 0) return indexes;
  const hot = hotFunctionIds(catalogue);
  requests.forEach((request, index) => {
    if (modes[index] === 'count' && hot.has(request.functionId)) indexes.add(index);
  });
  return indexes;
}

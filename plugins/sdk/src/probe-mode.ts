// SPDX-License-Identifier: Apache-2.0
/**
 * Which count mode a probed function runs in. Most specific first: `probes.modes[functionId]`,
 * `probes.modes[category]`, `probes.mode`, then the catalogue: presence for functions marked hot,
 * count for the rest. Hot functions default to presence because counting every call of one is what
 * makes a watched service slow (one trap per call), while verification needs each call seen once
 * per window; an operator who wants their exact counts says `count`. The exception is a hot
 * function whose calls carry their algorithm (`EVP_DigestInit_ex`, `EVP_CipherInit_ex`): the CBOM
 * counts calls per algorithm, and presence, which disarms the function at its first hit in a
 * window, would see only the first algorithm. Those default to count, which for a hot function
 * means counted in the kernel under its algorithm (`countOnlyIndexes`): exact, and no record per
 * call.
 */
import { isCanaryFunction } from './canary.js';
import type { CatalogueEntry } from './types/catalogue.js';
import type { ProbeRequest } from './types/probe-requests.js';
import type { ProbeCountMode, ProbeTuning } from './types/tuning.js';

/** What the catalogue says of a function's default mode: hot (presence) or not (count). */
export type CatalogueDefault = 'presence' | 'count';

export function probeModeOf(
  request: Pick<ProbeRequest, 'functionId' | 'category'>,
  catalogueDefault: CatalogueDefault,
  tuning: Pick<ProbeTuning, 'countMode' | 'countModes'>,
): ProbeCountMode {
  // A canary fires about once per process: counting it exactly costs almost nothing, and presence
  // mode's per-process disarm would only add links.
  if (isCanaryFunction(request.functionId)) return 'count';
  const modes = tuning.countModes ?? {};
  return modes[request.functionId] ?? modes[request.category] ?? tuning.countMode ?? catalogueDefault;
}

/** Function ids the catalogue marks hot (a symbol absent from it is not hot). */
function hotFunctionIds(catalogue: readonly CatalogueEntry[]): Set<string> {
  const hot = new Set<string>();
  for (const entry of catalogue)
    for (const library of entry.libraries)
      for (const fn of library.functions) if (fn.hot) hot.add(`${fn.category}/${fn.symbol}`);
  return hot;
}

/**
 * Function ids whose default is presence: hot, and no algorithm per call to count. A function id
 * is hot with an algorithm in one library (OpenSSL's EVP calls) or another (BoringSSL's, unread):
 * any library that gives it an algorithm keeps it counted, so the CBOM never loses calls.
 */
function presenceByDefault(catalogue: readonly CatalogueEntry[]): Set<string> {
  const presence = new Set<string>();
  const counted = new Set<string>();
  for (const entry of catalogue)
    for (const library of entry.libraries)
      for (const fn of library.functions) {
        if (!fn.hot) continue;
        const id = `${fn.category}/${fn.symbol}`;
        if (fn.algorithm) counted.add(id);
        else presence.add(id);
      }
  for (const id of counted) presence.delete(id);
  return presence;
}

/** Each request's mode, with the catalogue's hot flags and algorithm sources. */
export function probeModesOf(
  requests: readonly ProbeRequest[],
  catalogue: readonly CatalogueEntry[],
  tuning: Pick<ProbeTuning, 'countMode' | 'countModes'>,
): ProbeCountMode[] {
  const presence = presenceByDefault(catalogue);
  return requests.map((request) =>
    probeModeOf(request, presence.has(request.functionId) ? 'presence' : 'count', tuning),
  );
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

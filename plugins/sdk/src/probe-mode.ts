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

/** Each request's mode, with the catalogue's hot flags (a symbol absent from it is not hot). */
export function probeModesOf(
  requests: readonly ProbeRequest[],
  catalogue: readonly CatalogueEntry[],
  tuning: Pick<ProbeTuning, 'countMode' | 'countModes'>,
): ProbeCountMode[] {
  const hot = new Set<string>();
  for (const entry of catalogue)
    for (const library of entry.libraries)
      for (const fn of library.functions) if (fn.hot) hot.add(`${fn.category}/${fn.symbol}`);
  return requests.map((request) => probeModeOf(request, hot.has(request.functionId), tuning));
}

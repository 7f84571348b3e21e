// SPDX-License-Identifier: Apache-2.0
/**
 * Why a path went unobserved (issue 17): "not exercised" when the canary of every library it needs
 * fired in a target process (the probes see that library there, the path did not run), else "not
 * observable" (the probes may not see the library at all), with the probe's reason when the agent
 * knows one.
 */
import type { CanarySighting, PathResult, PathVisibility } from './types.js';

/** Shown when no probe status says more: where to look. */
export const NOT_OBSERVABLE_CAUSES =
  'wrong binary path, another copy of the library, statically linked, a container path not reached, a probe that failed, or a library without a canary';

/** What the live agent knows beyond the records of the window. */
export interface VisibilityHints {
  /** Canaries of processes still running, seen before the window (a process inits once). */
  liveCanaries?: ReadonlyMap<string, number>;
  /** The probe status behind a library that showed no canary, one sentence; undefined when none is known. */
  libraryNote?: (binaryPath: string) => string | undefined;
}

/** Fills `visibility` on every unobserved path, from the window's canaries and the agent's hints. */
export function explainUnobserved(
  paths: PathResult[],
  canaries: readonly CanarySighting[],
  hints: VisibilityHints = {},
): void {
  const processesOf = (binaryPath: string) => {
    const inWindow = canaries.filter((c) => c.binaryPath === binaryPath).reduce((n, c) => n + c.processes, 0);
    return Math.max(inWindow, hints.liveCanaries?.get(binaryPath) ?? 0);
  };
  for (const path of paths) {
    if (path.observed) continue;
    const libraries = [...new Set(path.missingCalls.map((c) => c.binaryPath))];
    path.visibility = visibilityOf(libraries, processesOf, hints);
  }
}

function visibilityOf(
  libraries: string[],
  processesOf: (binaryPath: string) => number,
  hints: VisibilityHints,
): PathVisibility {
  const blind = libraries.filter((l) => processesOf(l) === 0);
  if (blind.length === 0) {
    const seen = libraries.map((l) => `${l} (${processesOf(l)} process${processesOf(l) === 1 ? '' : 'es'})`);
    return {
      verdict: 'not-exercised',
      reason: `the canary of ${seen.join(', ')} fired: the probes see the library, the path did not run`,
    };
  }
  const notes = blind.map((l) => `${l} (${hints.libraryNote?.(l) ?? NOT_OBSERVABLE_CAUSES})`);
  return {
    verdict: 'not-observable',
    reason: `no target process showed the canary of ${notes.join('; ')}`,
  };
}

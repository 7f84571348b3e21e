// SPDX-License-Identifier: Apache-2.0
/**
 * What the live agent knows about canaries beyond the records of a verification window: a process
 * calls its library's init once, often long before the window, so its canary counts for as long as
 * the process lives; and, for a library with no canary, the probe statuses say why when they can.
 */
import { existsSync } from 'node:fs';
import { isCanaryFunction, type Observation } from '@stella/sdk';
import type { VisibilityHints } from '../verify/visibility.js';
import type { AgentProbeRequest } from './requests.js';
import type { CallStatus } from './status.js';

/** Pids per library kept per service: beyond it a library reads as seen anyway. */
const MAX_PIDS = 4096;

export class LiveCanaries {
  /** service → binaryPath (as in the map) → pids whose canary fired. */
  private readonly seen = new Map<string, Map<string, Set<number>>>();

  constructor(private readonly procRoot = '/proc') {}

  /** Cheap for every observation: a prefix test, and a Map walk only for the rare canary. */
  note(o: Observation): void {
    if (!isCanaryFunction(o.function)) return;
    let libraries = this.seen.get(o.service);
    if (!libraries) {
      libraries = new Map();
      this.seen.set(o.service, libraries);
    }
    let pids = libraries.get(o.binaryPath);
    if (!pids) {
      pids = new Set();
      libraries.set(o.binaryPath, pids);
    }
    if (pids.size < MAX_PIDS) pids.add(o.pid);
  }

  /** Per library of `service`, how many processes that showed its canary still run. */
  liveProcesses(service: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [binaryPath, pids] of this.seen.get(service) ?? []) {
      for (const pid of pids) if (!existsSync(`${this.procRoot}/${pid}`)) pids.delete(pid);
      if (pids.size > 0) out.set(binaryPath, pids.size);
    }
    return out;
  }
}

/**
 * For a library of `service` that showed no canary: the first failed attach point of its probes
 * (reason and detail, e.g. a build-id mismatch on another copy), else what the probes' states say,
 * plus the target processes that were already running when the agent started.
 */
export function libraryNoteFor(
  service: string,
  requests: readonly AgentProbeRequest[],
  statuses: readonly CallStatus[],
  runningAtStart: readonly number[],
  /** Set when records are sampled in the kernel: a canary's one record may be one of those dropped. */
  sampling?: string,
): VisibilityHints['libraryNote'] {
  return (binaryPath) => {
    const mine = requests.filter((r) => r.service === service && r.binaryPath === binaryPath);
    const hashes = new Set(mine.map((r) => r.nodeHash));
    const rows = statuses.filter((s) => s.service === service && hashes.has(s.nodeHash));
    const notes: string[] = [];
    if (!mine.some((r) => r.canary)) notes.push('no loaded plugin names a canary for this library');
    const failed = rows.flatMap((r) => [r, ...r.points]).find((p) => p.state === 'failed');
    if (failed) notes.push(`probe ${failed.reason ?? 'failed'}: ${failed.detail ?? failed.functionId}`);
    else if (rows.length > 0 && !rows.some((r) => r.state === 'attached' || r.state === 'observed'))
      notes.push(`no probe attached (${[...new Set(rows.map((r) => r.state))].join(', ')})`);
    if (runningAtStart.length > 0)
      notes.push(
        `${runningAtStart.length} target process(es) were running before the agent started, so their library init ran before the probes attached`,
      );
    if (sampling) notes.push(sampling);
    return notes.length > 0 ? notes.join('; ') : undefined;
  };
}

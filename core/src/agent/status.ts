// SPDX-License-Identifier: Apache-2.0
import { isCanaryFunction, type ProbeStatus } from '@stella/sdk';

export interface ProbeHealth {
  attached: number;
  failed: number;
  failureRate: number;
}

/** One row of {@link ProbeStatusRegistry.all}: a call's effective state and what it is made of. */
export interface CallStatus extends ProbeStatus {
  /** True once an observation of the call arrived on this node, even if no point is attached now. */
  observed: boolean;
  /** The latest report of each attach point still known (detached points are dropped), oldest first. */
  points: ProbeStatus[];
}

interface PointReport {
  status: ProbeStatus;
  /** Report order across the registry: the latest report of a kind supplies the call's fields. */
  seq: number;
}

interface CallEntry {
  /** What the call reads as now; refreshed on every report, read by `health()` and `all()`. */
  effective: ProbeStatus;
  readonly declared: ProbeStatus;
  /** Latest report per attach point, in report order (an update moves the point to the end). */
  readonly points: Map<string, PointReport>;
  /** The latest `detached` report, for the call's detail once nothing else is left. */
  released?: PointReport;
  observed: boolean;
  /** Some point was attached at some time (a plugin that never says so still counts when observed). */
  everLive: boolean;
}

const isLive = (state: ProbeStatus['state']) => state === 'attached' || state === 'observed';

/**
 * Per expected call, where it stands on this node now, worked out from the latest report of each of
 * its attach points (libssl in two containers, one link per target pid, an old and an upgraded
 * inode): `observed` or `attached` while any point is attached (observed once an observation
 * arrived), else `failed` while any point failed (that point's reason and detail), else
 * `resolvable` (a point was resolved, or all were detached: a process leaving is normal), else
 * `declared`. A point reported `detached` is dropped. An observed call whose plugin never reported
 * an attached point reads `observed` (the observation proves a live probe).
 */
export class ProbeStatusRegistry {
  private readonly byCall = new Map<string, CallEntry>();
  private readonly listeners = new Set<(status: ProbeStatus) => void>();
  private seq = 0;

  private key(service: string, nodeHash: string): string {
    return `${service}\u0000${nodeHash}`;
  }

  /** Explicit ids and implicit ones (plugin, resolvedPath, pid) cannot collide: the tag differs. */
  private pointKey(s: ProbeStatus): string {
    if (s.attachPoint !== undefined) return `${s.plugin}\u0000p\u0000${s.attachPoint}`;
    return `${s.plugin}\u0000i\u0000${s.resolvedPath ?? ''}\u0000${s.pid ?? ''}`;
  }

  private entryFor(status: Omit<ProbeStatus, 'state'>): CallEntry {
    const key = this.key(status.service, status.nodeHash);
    let entry = this.byCall.get(key);
    if (!entry) {
      const { plugin, service, functionId, nodeHash } = status;
      const declared: ProbeStatus = { plugin, service, functionId, nodeHash, state: 'declared' };
      entry = { effective: declared, declared, points: new Map(), observed: false, everLive: false };
      this.byCall.set(key, entry);
    }
    return entry;
  }

  declare(status: Omit<ProbeStatus, 'state'>): void {
    this.entryFor(status);
  }

  /** Records one point's latest state (see {@link ProbeStatus.attachPoint}); listeners get the report as sent. */
  report(status: ProbeStatus): void {
    const entry = this.entryFor(status);
    const pointKey = this.pointKey(status);
    const report = { status: { ...status }, seq: ++this.seq };
    entry.points.delete(pointKey);
    if (status.state === 'detached') entry.released = report;
    else entry.points.set(pointKey, report);
    if (isLive(status.state)) entry.everLive = true;
    if (status.state === 'observed') entry.observed = true;
    this.refresh(entry);
    for (const listener of this.listeners) listener(status);
  }

  /** Cheap enough for every observation: one Map lookup (and a refresh the first time only). */
  markObserved(service: string, nodeHash: string): void {
    const entry = this.byCall.get(this.key(service, nodeHash));
    if (entry && !entry.observed) {
      entry.observed = true;
      this.refresh(entry);
    }
  }

  onReport(listener: (status: ProbeStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One row per call: its effective state, whether it was ever observed, and its points. */
  all(): CallStatus[] {
    return [...this.byCall.values()].map((entry) => ({
      ...entry.effective,
      observed: entry.observed,
      points: [...entry.points.values()].map((p) => p.status),
    }));
  }

  /**
   * attached = attached or observed now; failed = failed now. Declared and resolvable calls count as
   * neither, canaries never (they explain a miss, the failure gauges are about the map's calls).
   */
  health(service?: string, category?: string): ProbeHealth {
    let attached = 0;
    let failed = 0;
    for (const { effective: s } of this.byCall.values()) {
      if (service !== undefined && s.service !== service) continue;
      if (category !== undefined && !s.functionId.startsWith(`${category}/`)) continue;
      // A canary says whether a library is seen; its own attach is not a probe the map asked for.
      if (isCanaryFunction(s.functionId)) continue;
      if (isLive(s.state)) attached++;
      else if (s.state === 'failed') failed++;
    }
    const total = attached + failed;
    return { attached, failed, failureRate: total === 0 ? 0 : failed / total };
  }

  private refresh(entry: CallEntry): void {
    let live: PointReport | undefined;
    let failed: PointReport | undefined;
    let quiet = entry.released;
    for (const point of entry.points.values()) {
      const state = point.status.state;
      if (isLive(state)) live = point;
      else if (state === 'failed') failed = point;
      else if (state === 'resolvable' && (!quiet || point.seq > quiet.seq)) quiet = point;
    }
    if (live) entry.effective = { ...live.status, state: entry.observed ? 'observed' : 'attached' };
    else if (failed) entry.effective = failed.status;
    else if (entry.observed && !entry.everLive) entry.effective = { ...entry.declared, state: 'observed' };
    else if (quiet) entry.effective = { ...quiet.status, state: 'resolvable' };
    else entry.effective = entry.declared;
  }
}

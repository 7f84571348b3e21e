// SPDX-License-Identifier: Apache-2.0
import type { ProbeStatus } from '@stella/sdk';

export interface ProbeHealth {
  attached: number;
  failed: number;
  failureRate: number;
}

const RANK: Record<ProbeStatus['state'], number> = { declared: 0, resolvable: 1, failed: 2, attached: 3, observed: 4 };

/**
 * Per expected call, the furthest state reached on this node (declared → resolvable → attached →
 * observed, or failed with a reason). One call can have several attach points (libssl in two
 * containers); it counts as attached when any one is.
 */
export class ProbeStatusRegistry {
  private readonly byCall = new Map<string, ProbeStatus>();
  private readonly listeners = new Set<(status: ProbeStatus) => void>();

  private key(s: { service: string; nodeHash: string }): string {
    return `${s.service}\u0000${s.nodeHash}`;
  }

  declare(status: Omit<ProbeStatus, 'state'>): void {
    const key = this.key(status);
    if (!this.byCall.has(key)) this.byCall.set(key, { ...status, state: 'declared' });
  }

  report(status: ProbeStatus): void {
    const key = this.key(status);
    const current = this.byCall.get(key);
    if (!current || RANK[status.state] >= RANK[current.state]) this.byCall.set(key, { ...current, ...status });
    for (const listener of this.listeners) listener(status);
  }

  /** Cheap enough for every observation: one Map lookup. */
  markObserved(service: string, nodeHash: string): void {
    const current = this.byCall.get(this.key({ service, nodeHash }));
    if (current && current.state !== 'observed') current.state = 'observed';
  }

  onReport(listener: (status: ProbeStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  all(): ProbeStatus[] {
    return [...this.byCall.values()];
  }

  /** attached = reached attached or observed; failed = ended in failed. Declared-only calls count as neither. */
  health(service?: string, category?: string): ProbeHealth {
    let attached = 0;
    let failed = 0;
    for (const s of this.byCall.values()) {
      if (service !== undefined && s.service !== service) continue;
      if (category !== undefined && !s.functionId.startsWith(`${category}/`)) continue;
      if (s.state === 'attached' || s.state === 'observed') attached++;
      else if (s.state === 'failed') failed++;
    }
    const total = attached + failed;
    return { attached, failed, failureRate: total === 0 ? 0 : failed / total };
  }
}

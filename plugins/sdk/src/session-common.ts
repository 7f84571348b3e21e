// SPDX-License-Identifier: Apache-2.0
/** Pieces every probe session shares: drop counter, aggregates, comm lookup. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StellaMaps } from './abi.js';
import { AggregateReader, type DrainedAggregate } from './aggregates.js';
import type { BpfLink, BpfObjectHandle } from './types/bpf-api.js';
import type { Logger } from './types/logger.js';
import type { Observation } from './types/observation.js';
import type { PluginContext } from './types/probe-plugin.js';

/** Sums the per-CPU `stella_drops` counter (ringbuf.bpf.h) and reports it to the agent. */
export function reportKernelDrops(handle: BpfObjectHandle, ctx: PluginContext, plugin: string, log: Logger): void {
  try {
    const values = handle.mapLookupPerCpu(StellaMaps.drops, new Uint8Array(4));
    if (values)
      ctx.reportKernelDrops(
        plugin,
        values.reduce((sum, v) => sum + v.readBigUInt64LE(0), 0n),
      );
  } catch (error) {
    log.debug('reading the drop counter failed', { error: (error as Error).message });
  }
}

/** `/proc/PID/comm`, or '' when the process is gone (aggregated records outlive processes). */
export function commOf(pid: number): string {
  try {
    return readFileSync(join('/proc', String(pid), 'comm'), 'utf8').trim();
  } catch {
    return '';
  }
}

/** The aggregation window a drained entry belongs to (ISO-8601 start and end). */
export interface AggregateWindow {
  windowStart: string;
  windowEnd: string;
}

/**
 * A session's periodic work: the kernel drop counter every second, or — with aggregation on —
 * every window, when each `stella_agg` entry's growth since the last window becomes records (`recordsOf`) that are
 * emitted together. `stop()` ends it, drains the last (partial) window and reads the drops once more.
 */
export function startHousekeeping(options: {
  handle: BpfObjectHandle;
  ctx: PluginContext;
  plugin: string;
  log: Logger;
  /** 0 = per-call events (no aggregation). */
  aggregationWindowMs: number;
  recordsOf: (entry: DrainedAggregate, window: AggregateWindow, out: Observation[]) => void;
}): { stop(): void } {
  const { handle, ctx, plugin, log, aggregationWindowMs, recordsOf } = options;
  const aggregate = aggregationWindowMs > 0;
  const aggregates = new AggregateReader(handle);
  let windowStartMs = Date.now();
  const flush = () => {
    const windowEndMs = Date.now();
    const window = {
      windowStart: new Date(windowStartMs).toISOString(),
      windowEnd: new Date(windowEndMs).toISOString(),
    };
    const out: Observation[] = [];
    for (const entry of aggregates.drain()) recordsOf(entry, window, out);
    windowStartMs = windowEndMs;
    if (out.length > 0) ctx.emit(out);
  };
  const timer = setInterval(
    () => {
      reportKernelDrops(handle, ctx, plugin, log);
      if (aggregate) flush();
    },
    aggregate ? aggregationWindowMs : 1000,
  );
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (aggregate) flush();
      reportKernelDrops(handle, ctx, plugin, log);
    },
  };
}

/** Releases a link on a worker thread; a failure is logged, never thrown (stopping goes on). */
export async function destroyLink(link: BpfLink, log: Logger): Promise<void> {
  try {
    await link.destroyAsync();
  } catch (error) {
    log.warn('detach failed', { link: link.description, error: (error as Error).message });
  }
}

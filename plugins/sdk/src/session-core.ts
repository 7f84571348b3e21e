// SPDX-License-Identifier: Apache-2.0
/**
 * The probe session core both attach strategies (uprobes; syscalls by kprobe, fentry or
 * tracepoint) run on: the object opened and tuned by one rule and pointed at the node's target
 * maps, the ring-buffer consumer, housekeeping (drop counter, aggregation windows) and one stop order.
 */
import { StellaMaps } from './abi.js';
import type { DrainedAggregate } from './aggregates.js';
import { createEventHeader, decodeEventHeader, EVENT_HEADER, type EventHeader, forEachRecord } from './event.js';
import { applyObjectTuning, type ObjectTuning, objectTuning } from './object-tuning.js';
import { type AggregateWindow, destroyLink, startHousekeeping } from './session-common.js';
import { reuseTargetMaps } from './target-filter.js';
import type { BpfLink, BpfObjectHandle } from './types/bpf-api.js';
import type { Logger } from './types/logger.js';
import type { Observation } from './types/observation.js';
import type { PluginContext } from './types/probe-plugin.js';

export interface ProbeObjectOptions {
  plugin: string;
  objectPath: string;
  /** The kernel filters by the target maps (false when the rules claim every process). */
  filterTargets: boolean;
  ringBufferBytes?: number;
  /** The object's own `const volatile` tunables, set after the shared ones. */
  configure?(handle: BpfObjectHandle): void;
  /** Programs to load (default: all). */
  autoload?(program: string): boolean;
}

export interface ProbeObject {
  handle: BpfObjectHandle;
  settings: ObjectTuning;
}

/**
 * Opens, tunes and loads an object with the node's target maps in place of its own (the core
 * fills them; a filtering object without them would see no target); closes it when any step fails.
 */
export function openProbeObject(ctx: PluginContext, options: ProbeObjectOptions): ProbeObject {
  const handle = ctx.bpf.open(options.objectPath, { name: options.plugin });
  const settings = objectTuning(ctx.tuning, options.filterTargets);
  try {
    applyObjectTuning(handle, settings, options.ringBufferBytes);
    options.configure?.(handle);
    if (options.filterTargets) {
      if (!ctx.targetMaps) throw new Error(`${options.plugin}: filtering by target needs the node's target maps`);
      reuseTargetMaps(handle, ctx.targetMaps);
    }
    const { autoload } = options;
    if (autoload) for (const program of handle.programNames()) handle.setAutoload(program, autoload(program));
    handle.load();
    return { handle, settings };
  } catch (error) {
    handle.close();
    throw error;
  }
}

export interface SessionCoreOptions {
  ctx: PluginContext;
  plugin: string;
  log: Logger;
  object: ProbeObject;
  /**
   * One ring-buffer record whose header was decoded into `header`; push its observations to `out`.
   * Runs per event: field reads only.
   */
  onRecord(buf: Buffer, offset: number, header: EventHeader, out: Observation[]): void;
  /** One aggregate's growth since the last window becomes records. */
  recordsOf(entry: DrainedAggregate, window: AggregateWindow, out: Observation[]): void;
  /** After a change of targets (the core has refreshed the node's target maps). */
  onTargetsChanged?(): void;
}

export interface SessionCore {
  /** Destroys `links`, drains the ring and the last window, closes the object. */
  stop(links: Iterable<BpfLink>): Promise<void>;
}

export function startSessionCore(options: SessionCoreOptions): SessionCore {
  const { ctx, plugin, log, object } = options;
  const { handle, settings } = object;
  const unsubscribe = ctx.onTargetsChanged(() => options.onTargetsChanged?.());
  const header = createEventHeader();
  const consumer = handle.consumeRingBuffer(StellaMaps.events, (batch) => {
    const out: Observation[] = [];
    forEachRecord(batch, (buf, offset, length) => {
      if (length < EVENT_HEADER.size) return;
      decodeEventHeader(buf, offset, header);
      options.onRecord(buf, offset, header, out);
    });
    if (out.length > 0) ctx.emit(out);
  });
  const housekeeping = startHousekeeping({
    handle,
    ctx,
    plugin,
    log,
    aggregationWindowMs: settings.aggregate ? ctx.tuning.aggregationWindowMs : 0,
    recordsOf: options.recordsOf,
  });
  let stopped = false;
  return {
    async stop(links) {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      // In parallel on worker threads: each perf-event link's release waits for a grace period.
      await Promise.all([...links].map((link) => destroyLink(link, log)));
      await consumer.stop();
      housekeeping.stop();
      handle.close();
    },
  };
}

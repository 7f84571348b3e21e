// SPDX-License-Identifier: Apache-2.0
/**
 * The one rule by which every probe session sets an object's `const volatile` tunables before
 * load. The uprobe and syscall sessions used to set them each in their own way, and the syscall
 * one sent sampled per-call events beside exact aggregates, counting the same calls twice.
 */
import { StellaGlobals, StellaMaps } from './abi.js';
import { samplingThreshold } from './target-filter.js';
import type { BpfObjectHandle } from './types/bpf-api.js';
import type { ProbeTuning } from './types/tuning.js';

/** Ring buffer size: a 256 KiB ring dropped heavily under CPU contention on 2 CPUs, 4 MiB < 3 %. */
export const DEFAULT_RINGBUF_BYTES = 4 * 1024 * 1024;

export interface ObjectTuning {
  /** The kernel filters by target maps; false when every process belongs to one service. */
  filterTargets: boolean;
  /** Exact per-(probe, pid) counts in `stella_agg`, read every window. */
  aggregate: boolean;
  /** `stella_sample_threshold`: 0 when aggregating, since the counts already carry every call. */
  sampleThreshold: number;
  /** `sampleRate` of a per-call observation; undefined when every call is sent. */
  perCallSampleRate: number | undefined;
}

/** What the operator's tuning means for one object. */
export function objectTuning(tuning: ProbeTuning, filterTargets: boolean): ObjectTuning {
  const aggregate = tuning.aggregationWindowMs > 0;
  return {
    filterTargets,
    aggregate,
    sampleThreshold: aggregate ? 0 : samplingThreshold(tuning.samplingRate),
    perCallSampleRate: !aggregate && tuning.samplingRate < 1 ? tuning.samplingRate : undefined,
  };
}

/** Sets the shared globals and the ring size on an opened, not yet loaded object. */
export function applyObjectTuning(handle: BpfObjectHandle, tuning: ObjectTuning, ringBufferBytes?: number): void {
  handle.setGlobal(StellaGlobals.filterTargets, tuning.filterTargets);
  handle.setGlobal(StellaGlobals.aggregate, tuning.aggregate);
  handle.setGlobal(StellaGlobals.sampleThreshold, tuning.sampleThreshold);
  handle.setMaxEntries(StellaMaps.events, ringBufferBytes ?? DEFAULT_RINGBUF_BYTES);
}

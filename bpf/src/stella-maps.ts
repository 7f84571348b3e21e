// SPDX-License-Identifier: Apache-2.0
/** Helpers for the maps and globals every object built on the SDK's stella/*.bpf.h has. */
import { type BpfObjectHandle, StellaAbi, StellaMaps } from '@stella/sdk';
import { AGG_KEY_LAYOUT, AGG_KEY_SIZE, AGG_VALUE_LAYOUT } from '@stella/sdk/layout';

// Names shared with the C headers: the SDK owns them.
export { StellaGlobals, StellaMaps } from '@stella/sdk';

/** `stella_sample_threshold` for a sampling rate in [0, 1]: rate x (2^32 - 1); 1 keeps everything. */
export function samplingThreshold(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`sampling rate must be between 0 and 1, got ${rate}`);
  return rate >= 1 ? 0xffffffff : Math.floor(rate * 0xffffffff);
}

/** Events the kernel could not write (ring buffer full), summed over CPUs. */
export function readDropCount(obj: BpfObjectHandle): bigint {
  const values = obj.mapLookupPerCpu(StellaMaps.drops, Buffer.alloc(4)) ?? [];
  let total = 0n;
  for (const v of values) total += v.readBigUInt64LE(0);
  return total;
}

export interface AggregateEntry {
  cookie: bigint;
  pid: number;
  /** The value the probe read at the call (argument.bpf.h); `StellaAbi.argUnread` when none. */
  arg: number;
  /** Calls since the entry was created (monotonic; compute deltas between reads). */
  count: number;
  /** CLOCK_MONOTONIC ns of the latest call on any CPU. */
  lastTsNs: bigint;
}

/** Reads `stella_agg`, summing counts over CPUs. */
export function readAggregates(obj: BpfObjectHandle): AggregateEntry[] {
  const entries: AggregateEntry[] = [];
  for (const key of obj.mapKeys(StellaMaps.aggregates)) {
    const perCpu = obj.mapLookupPerCpu(StellaMaps.aggregates, key);
    if (!perCpu) continue; // deleted since the key walk
    let count = 0;
    let lastTsNs = 0n;
    for (const v of perCpu) {
      count += Number(v.readBigUInt64LE(AGG_VALUE_LAYOUT.count.offset));
      const ts = v.readBigUInt64LE(AGG_VALUE_LAYOUT.last_ts_ns.offset);
      if (ts > lastTsNs) lastTsNs = ts;
    }
    entries.push({
      cookie: key.readBigUInt64LE(AGG_KEY_LAYOUT.cookie.offset),
      pid: key.readUInt32LE(AGG_KEY_LAYOUT.pid.offset),
      arg: key.readUInt32LE(AGG_KEY_LAYOUT.arg.offset),
      count,
      lastTsNs,
    });
  }
  return entries;
}

/** Key of `stella_agg` for one probe, process and value read (none by default). */
export function aggregateKey(cookie: bigint, pid: number, arg: number = StellaAbi.argUnread): Buffer {
  const key = Buffer.alloc(AGG_KEY_SIZE);
  key.writeBigUInt64LE(cookie, AGG_KEY_LAYOUT.cookie.offset);
  key.writeUInt32LE(pid, AGG_KEY_LAYOUT.pid.offset);
  key.writeUInt32LE(arg, AGG_KEY_LAYOUT.arg.offset);
  return key;
}

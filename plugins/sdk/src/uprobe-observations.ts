// SPDX-License-Identifier: Apache-2.0
import { EVENT_HEADER, type EventHeader, readCString, SERVICE_NONE } from './event.js';
import type { Observation, ProbeRequest } from './types.js';

export interface UprobeObservationOptions {
  /** The session's requests; an event's attach cookie is an index into them. */
  requests: readonly ProbeRequest[];
  /** The header the ring-buffer callback decodes each record into, read by `fromEvent`. */
  header: EventHeader;
  /** Kernel monotonic ns → epoch ms. */
  clock: (monotonicNs: number) => number;
  nodeName: string;
  samplingRate: number;
  /** The service of every process when the rules claim all processes for one service. */
  fixedService?: string;
  /** Service names by the index the kernel carries; read per event, as the rules change at run time. */
  services: () => readonly string[];
}

export interface UprobeObservationDecoder {
  /** The record of one call (or count) of `request`: one builder for events and aggregates. */
  observationOf(request: ProbeRequest, observedAt: string, pid: number, comm: string, hitCount: number): Observation;
  /** The observation of the record whose header was just decoded; undefined for another service's process. */
  fromEvent(buf: Buffer, offset: number): Observation | undefined;
}

/**
 * Turns the generic uprobe call records into observations. Per-event work is kept to field reads
 * and one object of a fixed shape (docs/KERNEL.md §6: ~1 µs of per-event object work stalls the loop at
 * high rates): absent optional fields stay undefined, which JSON omits, and the time and cgroup
 * strings are reused while they repeat.
 */
export function createUprobeObservationDecoder(options: UprobeObservationOptions): UprobeObservationDecoder {
  const { requests, header, clock, nodeName, fixedService, services } = options;
  const sampleRate = options.samplingRate < 1 ? options.samplingRate : undefined;
  let lastMs = -1;
  let lastIso = '';
  let lastCgroup = -1n;
  let lastCgroupText = '';
  const observationOf = (
    request: ProbeRequest,
    observedAt: string,
    pid: number,
    comm: string,
    hitCount: number,
  ): Observation => ({
    observedAt,
    service: request.service,
    function: request.functionId,
    symbol: request.symbol,
    purl: request.purl,
    binaryPath: request.binaryPath,
    buildId: request.buildId,
    nodeHash: request.nodeHash,
    probeType: 'uprobe',
    pid,
    tid: undefined,
    comm,
    cgroupId: undefined,
    nodeName,
    hitCount,
    sampleRate: undefined,
    windowStart: undefined,
    windowEnd: undefined,
  });
  const fromEvent = (buf: Buffer, offset: number): Observation | undefined => {
    const request = requests[header.cookie];
    if (!request) return undefined;
    const service = header.service === SERVICE_NONE ? (fixedService ?? request.service) : services()[header.service];
    if (service !== undefined && service !== request.service) return undefined; // another service's process
    const ms = Math.floor(clock(header.tsNs));
    if (ms !== lastMs) {
      lastMs = ms;
      lastIso = new Date(ms).toISOString();
    }
    if (header.cgroupId !== lastCgroup) {
      lastCgroup = header.cgroupId;
      lastCgroupText = lastCgroup.toString();
    }
    const observation = observationOf(
      request,
      lastIso,
      header.pid,
      readCString(buf, offset + EVENT_HEADER.comm, EVENT_HEADER.commLength),
      header.hitCount,
    );
    observation.tid = header.tid;
    observation.cgroupId = lastCgroupText;
    observation.sampleRate = sampleRate;
    return observation;
  };
  return { observationOf, fromEvent };
}

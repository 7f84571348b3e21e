// SPDX-License-Identifier: Apache-2.0
/** A uprobe session's records → observations: the call's request is the attach cookie's index. */

import { StellaAbi } from './abi.js';
import { aggregateObservedAt } from './aggregates.js';
import { EVENT_HEADER, type EventHeader, readCString, SERVICE_NONE } from './event.js';
import { CALL_ARG_EVENT_LAYOUT, CALL_ARG_EVENT_SIZE } from './layout.js';
import { createIsoClock, createObservationBuilder } from './observation.js';
import type { Observation } from './types/observation.js';
import type { ProbeRequest } from './types/probe-requests.js';

export interface UprobeObservationOptions {
  /** The session's requests; an event's attach cookie is an index into them. */
  requests: readonly ProbeRequest[];
  /** Kernel monotonic ns → epoch ms. */
  clock: (monotonicNs: number) => number;
  nodeName: string;
  /** `sampleRate` of each per-call observation; undefined when every call is sent. */
  sampleRate: number | undefined;
  /** The service of every process when the rules claim all processes for one service. */
  fixedService?: string;
  /** Service names by the index the kernel carries; read per event, as the rules change at run time. */
  services: () => readonly string[];
  /** Request indexes in presence mode: their records say `countMode: 'presence'`. */
  presence?: ReadonlySet<number>;
  /** Per request index: the name of the value read at the call (`algorithmNamers`); undefined: no `algorithm`. */
  algorithms?: readonly (((value: number) => string) | undefined)[];
}

export interface UprobeObservationDecoder {
  /** The observation of the record whose header was just decoded; undefined for another service's process. */
  fromEvent(buf: Buffer, offset: number, header: EventHeader): Observation | undefined;
  /** The record of `count` calls of request `cookie` by `pid` in an aggregation window. */
  fromAggregate(
    cookie: bigint,
    pid: number,
    comm: string,
    count: number,
    lastTsNs: number,
    window: { windowStart: string; windowEnd: string },
    arg?: number,
  ): Observation | undefined;
}

export function createUprobeObservationDecoder(options: UprobeObservationOptions): UprobeObservationDecoder {
  const { requests, clock, fixedService, services, sampleRate } = options;
  const presence = options.presence ?? new Set<number>();
  const algorithms = options.algorithms ?? [];
  const ARG = CALL_ARG_EVENT_LAYOUT.arg.offset;
  const observationOf = createObservationBuilder(options.nodeName);
  const isoTime = createIsoClock(clock);
  let lastCgroup = -1n;
  let lastCgroupText = '';
  return {
    fromEvent(buf, offset, header) {
      const request = requests[header.cookie];
      if (!request) return undefined;
      const service = header.service === SERVICE_NONE ? (fixedService ?? request.service) : services()[header.service];
      if (service !== undefined && service !== request.service) return undefined; // another service's process
      if (header.cgroupId !== lastCgroup) {
        lastCgroup = header.cgroupId;
        lastCgroupText = lastCgroup.toString();
      }
      return observationOf(request, {
        observedAt: isoTime(header.tsNs),
        probeType: 'uprobe',
        pid: header.pid,
        tid: header.tid,
        comm: readCString(buf, offset + EVENT_HEADER.comm, EVENT_HEADER.commLength),
        cgroupId: lastCgroupText,
        sampleRate,
        countMode: presence.has(header.cookie) ? 'presence' : undefined,
        algorithm: algorithms[header.cookie]?.(
          header.recordSize >= CALL_ARG_EVENT_SIZE ? buf.readUInt32LE(offset + ARG) : StellaAbi.argUnread,
        ),
        hitCount: header.hitCount,
      });
    },
    fromAggregate(cookie, pid, comm, count, lastTsNs, window, arg = StellaAbi.argUnread) {
      const request = requests[Number(cookie)];
      if (!request) return undefined;
      return observationOf(request, {
        observedAt: aggregateObservedAt(lastTsNs, clock, window),
        probeType: 'uprobe',
        pid,
        comm,
        hitCount: count,
        ...window,
        countMode: presence.has(Number(cookie)) ? 'presence' : undefined,
        algorithm: algorithms[Number(cookie)]?.(arg),
      });
    },
  };
}

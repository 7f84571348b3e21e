// SPDX-License-Identifier: Apache-2.0
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  createEventHeader,
  createMonotonicClock,
  decodeEventHeader,
  EVENT_HEADER,
  forEachRecord,
  readCString,
  SERVICE_NONE,
} from './event.js';
import { isLibrary, mappedFiles } from './proc-maps.js';
import { populateTargetMaps, samplingThreshold } from './targets.js';
import type {
  BpfLink,
  BpfObjectHandle,
  Observation,
  PluginContext,
  ProbeRequest,
  ProbeSession,
  RingBufferConsumer,
} from './types.js';

/** Ring buffer size: MACHINE.md measured heavy drops at 256 KiB under contention, < 3 % at 4 MiB. */
export const DEFAULT_RINGBUF_BYTES = 4 * 1024 * 1024;

export interface UprobeCallSessionOptions {
  /** Plugin name, for statuses and logs. */
  plugin: string;
  /** Compiled object that includes `stella/uprobe_call.bpf.h`. */
  objectPath: string;
  program?: string;
  ringBufferBytes?: number;
  /** How often (ms) to look for new processes' libraries when no target event arrives. */
  rescanIntervalMs?: number;
}

interface Attachment {
  link: BpfLink;
  requestIndex: number;
  fileKey: string;
}

/**
 * Runs the generic "a call happened" uprobe for a plugin: one BPF object, one attach point per
 * (library file, symbol) with the request index as the attach cookie, the kernel filtering by
 * target and sampling, events decoded into observations. TLS, crypto and auth plugins are this
 * plus their catalogue.
 */
export async function startUprobeCallSession(
  ctx: PluginContext,
  requests: ProbeRequest[],
  options: UprobeCallSessionOptions,
): Promise<ProbeSession> {
  const program = options.program ?? 'stella_uprobe_call';
  const log = ctx.logger.child({ scope: options.plugin });
  const { tuning } = ctx;
  const handle: BpfObjectHandle = ctx.bpf.open(options.objectPath, { name: options.plugin });
  const rules = ctx.targetRules();
  const aggregate = tuning.aggregationWindowMs > 0;
  handle.setGlobal('stella_filter_targets', rules.allProcessesService === undefined);
  handle.setGlobal('stella_aggregate', aggregate);
  // With aggregation on, exact counts come from the BPF map; per-call events are only emitted
  // when sampling asks for them.
  handle.setGlobal(
    'stella_sample_threshold',
    aggregate && tuning.samplingRate >= 1 ? 0 : samplingThreshold(tuning.samplingRate),
  );
  handle.setMaxEntries('stella_events', options.ringBufferBytes ?? DEFAULT_RINGBUF_BYTES);
  handle.load();
  populateTargetMaps(handle, rules);
  const trackerLinks = attachTargetTracker(handle, rules.allProcessesService === undefined, log);

  const attachments = new Map<string, Attachment>();
  const attachedFiles = new Set<string>();
  const failedOnce = new Set<string>();
  const clock = createMonotonicClock();
  const header = createEventHeader();
  const fixedService = rules.allProcessesService;
  let linksInUse = 0;

  const attachRequestToFile = (index: number, request: ProbeRequest, hostPath: string, fileKey: string) => {
    const key = `${fileKey}#${index}`;
    if (attachments.has(key)) return;
    if (linksInUse >= tuning.maxConcurrent) {
      if (!failedOnce.has(key)) {
        failedOnce.add(key);
        ctx.reportStatus({
          plugin: options.plugin,
          service: request.service,
          functionId: request.functionId,
          nodeHash: request.nodeHash,
          resolvedPath: hostPath,
          state: 'failed',
          reason: 'limit-reached',
          detail: `probes.max_concurrent (${tuning.maxConcurrent}) reached`,
        });
      }
      return;
    }
    try {
      const link = handle.attachUprobe({
        program,
        binaryPath: hostPath,
        symbol: request.symbol,
        pid: -1,
        cookie: BigInt(index),
      });
      attachments.set(key, { link, requestIndex: index, fileKey });
      linksInUse++;
      ctx.reportStatus({
        plugin: options.plugin,
        service: request.service,
        functionId: request.functionId,
        nodeHash: request.nodeHash,
        resolvedPath: hostPath,
        probeType: 'uprobe',
        state: 'attached',
      });
    } catch (error) {
      if (failedOnce.has(key)) return;
      failedOnce.add(key);
      const errno = (error as { code?: string }).code;
      ctx.reportStatus({
        plugin: options.plugin,
        service: request.service,
        functionId: request.functionId,
        nodeHash: request.nodeHash,
        resolvedPath: hostPath,
        probeType: 'uprobe',
        state: 'failed',
        reason: errno === 'ENOENT' ? 'symbol-missing' : 'attach-error',
        detail: (error as Error).message,
      });
    }
  };

  /** Finds each request's library in the target processes (and on the host) and attaches. */
  const resolveAndAttach = () => {
    const candidates = new Map<string, { hostPath: string; path: string }>();
    const addCandidate = (hostPath: string, path: string) => {
      try {
        const st = statSync(hostPath, { bigint: true });
        const fileKey = `${st.dev}:${st.ino}`;
        if (!candidates.has(fileKey)) candidates.set(fileKey, { hostPath, path });
      } catch {
        // the file vanished between listing and stat: the next rescan will settle it
      }
    };
    for (const request of requests) addCandidate(request.binaryPath, request.binaryPath);
    for (const target of ctx.targets()) {
      for (const file of mappedFiles(target.pid)) {
        if (requests.some((r) => isLibrary(file, r.library, r.binaryPath))) addCandidate(file.hostPath, file.path);
      }
    }
    const resolved = new Set<number>();
    for (const [fileKey, file] of candidates) {
      requests.forEach((request, index) => {
        if (!isLibrary({ path: file.path }, request.library, request.binaryPath)) return;
        resolved.add(index);
        attachRequestToFile(index, request, file.hostPath, fileKey);
      });
      attachedFiles.add(fileKey);
    }
    requests.forEach((request, index) => {
      if (resolved.has(index) || failedOnce.has(`absent#${index}`)) return;
      failedOnce.add(`absent#${index}`);
      ctx.reportStatus({
        plugin: options.plugin,
        service: request.service,
        functionId: request.functionId,
        nodeHash: request.nodeHash,
        state: 'failed',
        reason: 'library-absent',
        detail: `${request.library} is not at ${request.binaryPath} nor mapped by any target process`,
      });
    });
  };

  const toObservation = (buf: Buffer, offset: number): Observation | undefined => {
    decodeEventHeader(buf, offset, header);
    const request = requests[header.cookie];
    if (!request) return undefined;
    const service =
      header.service === SERVICE_NONE ? (fixedService ?? request.service) : rules.services[header.service];
    if (service !== undefined && service !== request.service) return undefined; // another service's process
    return {
      observedAt: new Date(clock(header.tsNs)).toISOString(),
      service: request.service,
      function: request.functionId,
      symbol: request.symbol,
      ...(request.purl ? { purl: request.purl } : {}),
      binaryPath: request.binaryPath,
      ...(request.buildId ? { buildId: request.buildId } : {}),
      nodeHash: request.nodeHash,
      probeType: 'uprobe',
      pid: header.pid,
      tid: header.tid,
      comm: readCString(buf, offset + EVENT_HEADER.comm, EVENT_HEADER.commLength),
      cgroupId: header.cgroupId.toString(),
      nodeName: ctx.nodeName,
      hitCount: header.hitCount,
      ...(tuning.samplingRate < 1 && !aggregate ? { sampleRate: tuning.samplingRate } : {}),
    };
  };

  resolveAndAttach();
  const unsubscribe = ctx.onTargetsChanged(() => {
    populateTargetMaps(handle, ctx.targetRules());
    resolveAndAttach();
  });
  const rescan = setInterval(resolveAndAttach, options.rescanIntervalMs ?? 5000);
  rescan.unref();

  const consumer: RingBufferConsumer = handle.consumeRingBuffer('stella_events', (batch) => {
    const out: Observation[] = [];
    forEachRecord(batch, (buf, offset, length) => {
      if (length < EVENT_HEADER.size) return;
      const observation = toObservation(buf, offset);
      if (observation) out.push(observation);
    });
    if (out.length > 0) ctx.emit(out);
  });

  const readDrops = () => {
    try {
      const values = handle.mapLookupPerCpu('stella_drops', new Uint8Array(4));
      if (values)
        ctx.reportKernelDrops(
          options.plugin,
          values.reduce((sum, v) => sum + v.readBigUInt64LE(0), 0n),
        );
    } catch (error) {
      log.debug('reading the drop counter failed', { error: (error as Error).message });
    }
  };

  let windowStartMs = Date.now();
  const flushAggregates = () => {
    const windowEndMs = Date.now();
    const out: Observation[] = [];
    for (const key of handle.mapKeys('stella_agg')) {
      const values = handle.mapLookupPerCpu('stella_agg', key);
      handle.mapDelete('stella_agg', key);
      if (!values) continue;
      let count = 0;
      let lastTs = 0;
      for (const v of values) {
        count += Number(v.readBigUInt64LE(0));
        const ts = Number(v.readBigUInt64LE(8));
        if (ts > lastTs) lastTs = ts;
      }
      const index = Number(key.readBigUInt64LE(0));
      const pid = key.readUInt32LE(8);
      const request = requests[index];
      if (!request || count === 0) continue;
      out.push({
        observedAt: new Date(clock(lastTs)).toISOString(),
        service: request.service,
        function: request.functionId,
        symbol: request.symbol,
        ...(request.purl ? { purl: request.purl } : {}),
        binaryPath: request.binaryPath,
        ...(request.buildId ? { buildId: request.buildId } : {}),
        nodeHash: request.nodeHash,
        probeType: 'uprobe',
        pid,
        comm: commOf(pid),
        nodeName: ctx.nodeName,
        hitCount: count,
        windowStart: new Date(windowStartMs).toISOString(),
        windowEnd: new Date(windowEndMs).toISOString(),
      });
    }
    windowStartMs = windowEndMs;
    if (out.length > 0) ctx.emit(out);
  };
  const housekeeping = setInterval(
    () => {
      readDrops();
      if (aggregate) flushAggregates();
    },
    aggregate ? tuning.aggregationWindowMs : 1000,
  );
  housekeeping.unref();

  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(rescan);
      clearInterval(housekeeping);
      unsubscribe();
      for (const link of trackerLinks) link.destroy();
      for (const { link } of attachments.values()) {
        try {
          link.destroy();
        } catch (error) {
          log.warn('detach failed', { link: link.description, error: (error as Error).message });
        }
      }
      await consumer.stop();
      if (aggregate) flushAggregates();
      readDrops();
      handle.close();
    },
  };
}

/**
 * The exec/fork/exit programs of target.bpf.h claim new processes in the kernel. Without them
 * (a kernel lacking tp_btf) the agent still filters the processes its /proc scan found, and says
 * that short-lived processes will be missed.
 */
function attachTargetTracker(handle: BpfObjectHandle, filtering: boolean, log: PluginContext['logger']): BpfLink[] {
  const links: BpfLink[] = [];
  if (!filtering) return links;
  for (const program of ['stella_track_exec', 'stella_track_fork', 'stella_track_exit']) {
    if (!handle.programNames().includes(program)) continue;
    try {
      links.push(handle.attachAuto(program));
    } catch (error) {
      log.warn('in-kernel process tracking unavailable: processes started after a /proc scan may be missed', {
        program,
        error: (error as Error).message,
      });
    }
  }
  return links;
}

function commOf(pid: number): string {
  try {
    return readFileSync(join('/proc', String(pid), 'comm'), 'utf8').trim();
  } catch {
    return '';
  }
}

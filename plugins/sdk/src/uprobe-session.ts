// SPDX-License-Identifier: Apache-2.0
import { basename } from 'node:path';
import { AttachPointStatuses, filePoint, linkPoint, releaseDetail } from './attach-points.js';
import { createEventHeader, createMonotonicClock, decodeEventHeader, EVENT_HEADER, forEachRecord } from './event.js';
import { type LibraryFile, LibraryFileCache, resolveRequest } from './library-files.js';
import { isLibrary, mappedFiles } from './proc-maps.js';
import { attachTargetTracker, commOf, destroyQuietly, startHousekeeping } from './session-common.js';
import { populateTargetMaps, samplingThreshold } from './targets.js';
import type {
  BpfLink,
  BpfObjectHandle,
  Observation,
  PluginContext,
  ProbeRequest,
  ProbeSession,
  RingBufferConsumer,
  TargetRules,
} from './types.js';
import { createUprobeObservationDecoder } from './uprobe-observations.js';

/** Ring buffer size: heavy drops at 256 KiB under contention, < 3 % at 4 MiB (docs/KERNEL.md §6). */
export const DEFAULT_RINGBUF_BYTES = 4 * 1024 * 1024;

/** Record kind of `stella_library_loaded` (`stella/library_load.bpf.h`): a target returned from dlopen. */
export const EVENT_KIND_LIBRARY_LOADED = 190;

/** Program that reports dlopen returns; optional in an object (then only the periodic rescan finds late libraries). */
const LIBRARY_LOADED_PROGRAM = 'stella_library_loaded';

/** The point of a request's library search: `library-absent` until a file is found. */
const LOOKUP_POINT = { id: 'library-lookup' };

/** With `attachScope: 'auto'`, per-pid attach is used up to this many explicit target pids. */
export const PER_PID_ATTACH_LIMIT = 16;

export interface UprobeCallSessionOptions {
  /** Plugin name, for statuses and logs. */
  plugin: string;
  /** Compiled object that includes `stella/uprobe_call.bpf.h`. */
  objectPath: string;
  program?: string;
  ringBufferBytes?: number;
  /** How often (ms) to look for new processes' libraries when no target event arrives. Default 5000. */
  rescanIntervalMs?: number;
  /**
   * Where each uprobe is installed (docs/KERNEL.md §4: a uprobe on a shared library traps in every process
   * that maps it unless attached per pid).
   * - `global`: pid -1, the kernel filters targets inside the program (catches processes claimed at
   *   exec time, short-lived ones included);
   * - `per-pid`: one link per target process: other processes never trap, but children forked later
   *   are not covered until user space attaches to them;
   * - `auto` (default): per pid when the target rules are explicit pids only (no executable,
   *   cgroup or all-processes rule) and there are at most {@link PER_PID_ATTACH_LIMIT}; else global.
   */
  attachScope?: 'auto' | 'global' | 'per-pid';
  /**
   * A library whose GNU build-id differs from the map's `buildId`: `skip` (default) reports
   * `build-id-mismatch` and does not attach; `attach` attaches anyway and reports the mismatch
   * in the status detail.
   */
  onBuildIdMismatch?: 'skip' | 'attach';
}

interface Attachment {
  link: BpfLink;
  fileKey: string;
  /** -1 for a global attach. */
  pid: number;
}

interface Candidate {
  file: LibraryFile;
  /** Target pids that map this file (empty: found on the host path only). */
  pids: Set<number>;
}

/**
 * Runs the generic "a call happened" uprobe for a plugin: one BPF object, one attach point per
 * (library file, symbol[, pid]) with the request index as the attach cookie, the kernel filtering
 * by target, counting and sampling; events decoded into observations.
 *
 * Discovery: libraries on the map's paths, in every target's /proc/PID/maps (through
 * /proc/PID/root, so a container's or a private mount namespace's copy is its own file), picked up
 * again on every target change, every `rescanIntervalMs`, and — when the object has the
 * `stella_library_loaded` program — as soon as a target returns from dlopen. A library replaced on
 * disk is a new inode: it is attached as a new file and reported; links to inodes no target maps
 * any more, and per-pid links of processes that left, are released and reported `detached`.
 * Statuses name their attach point: the file's key (`dev:inode:mtime:size`) for its resolve verdict,
 * `<key>@pidN` / `<key>@all` for a link. TLS, crypto and auth plugins are this plus their
 * catalogue.
 */
export async function startUprobeCallSession(
  ctx: PluginContext,
  requests: ProbeRequest[],
  options: UprobeCallSessionOptions,
): Promise<ProbeSession> {
  const program = options.program ?? 'stella_uprobe_call';
  const plugin = options.plugin;
  const log = ctx.logger.child({ scope: plugin });
  const { tuning } = ctx;
  const handle: BpfObjectHandle = ctx.bpf.open(options.objectPath, { name: plugin });
  let rules = ctx.targetRules();
  const aggregate = tuning.aggregationWindowMs > 0;
  handle.setGlobal('stella_filter_targets', rules.allProcessesService === undefined);
  handle.setGlobal('stella_aggregate', aggregate);
  // With aggregation on, the exact counts come from the BPF map and no per-call event is sent:
  // sampled per-call records on top would count the same calls twice.
  handle.setGlobal('stella_sample_threshold', aggregate ? 0 : samplingThreshold(tuning.samplingRate));
  handle.setMaxEntries('stella_events', options.ringBufferBytes ?? DEFAULT_RINGBUF_BYTES);
  const watchLibraryLoads = handle.programNames().includes(LIBRARY_LOADED_PROGRAM);
  handle.load();
  populateTargetMaps(handle, rules);
  const trackerLinks = attachTargetTracker(handle, rules.allProcessesService === undefined, log);

  const files = new LibraryFileCache();
  const attachments = new Map<string, Attachment>();
  const loaderLinks = new Map<string, BpfLink>();
  const points = new AttachPointStatuses(ctx, plugin);
  /** Requests whose library was found at least once: a later absence is processes leaving, not a failure. */
  const everResolved = new Set<number>();
  /** Host path of each request's binaryPath -> the file key last seen there (replacement detection). */
  const lastAtPath = new Map<string, { key: string; inode: bigint; buildId?: string }>();
  /** File key -> one sentence on the file it replaced, for the re-attach status. */
  const replacements = new Map<string, string>();
  const clock = createMonotonicClock();
  const header = createEventHeader();
  const fixedService = rules.allProcessesService;
  const scopeOption = options.attachScope ?? 'auto';

  /** The rules name processes by explicit pid only (no executable, cgroup or all-processes rule). */
  const pidsOnly = (current: TargetRules): boolean =>
    current.allProcessesService === undefined && current.executables.length === 0 && current.cgroups.length === 0;

  const perPidScope = (current: TargetRules): boolean => {
    if (scopeOption === 'per-pid') return true;
    if (scopeOption === 'global') return false;
    return pidsOnly(current) && current.pids.length > 0 && current.pids.length <= PER_PID_ATTACH_LIMIT;
  };

  /**
   * No rule can match any process (every explicit pid has exited, no executable or cgroup rule
   * resolved): a link would only make every process that maps the library trap for nothing
   * (docs/KERNEL.md §2: ~0.5–10 µs a call). Links come back when a target appears.
   */
  const matchesNothing = (current: TargetRules): boolean => pidsOnly(current) && current.pids.length === 0;

  const attachOne = (index: number, request: ProbeRequest, file: LibraryFile, offset: number, pid: number) => {
    const key = `${file.key}#${index}#${pid}`;
    if (attachments.has(key)) return true;
    const point = linkPoint(file, pid);
    if (attachments.size >= tuning.maxConcurrent) {
      points.report(index, request, point, {
        resolvedPath: file.path,
        state: 'failed',
        reason: 'limit-reached',
        detail: `probes.max_concurrent (${tuning.maxConcurrent}) reached: ${request.symbol} in ${file.path} not attached`,
      });
      return true;
    }
    try {
      const link = handle.attachUprobe({
        program,
        binaryPath: file.hostPath,
        offset,
        pid,
        cookie: BigInt(index),
      });
      attachments.set(key, { link, fileKey: file.key, pid });
      const replaced = replacements.get(file.key);
      points.report(index, request, point, {
        resolvedPath: file.path,
        probeType: 'uprobe',
        state: 'attached',
        ...(pid >= 0 ? { pid } : {}),
        ...(replaced ? { detail: replaced } : {}),
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      points.report(index, request, point, {
        resolvedPath: file.path,
        probeType: 'uprobe',
        state: 'failed',
        reason: code === 'ENOENT' ? 'symbol-missing' : 'attach-error',
        detail: (error as Error).message,
      });
    }
    return true;
  };

  const watchLoader = (file: LibraryFile) => {
    if (!watchLibraryLoads || loaderLinks.has(file.key)) return;
    const offset = file.offsetOf('dlopen');
    if (offset === undefined) return;
    try {
      loaderLinks.set(
        file.key,
        handle.attachUprobe({ program: LIBRARY_LOADED_PROGRAM, binaryPath: file.hostPath, offset, retprobe: true }),
      );
    } catch (error) {
      log.warn('cannot watch dlopen: late libraries are found by the periodic rescan only', {
        libc: file.path,
        error: (error as Error).message,
      });
      loaderLinks.set(file.key, { description: 'failed', destroy() {}, destroyAsync: async () => {} });
    }
  };

  let deferred: NodeJS.Timeout | undefined;
  /**
   * Finds each request's library on the host and in target processes and attaches. `onlyPids`
   * (after a dlopen) rescans those processes only and releases nothing.
   */
  const resolveAndAttach = (onlyPids?: number[]) => {
    const deadline = Date.now() + tuning.attachTimeoutMs;
    rules = ctx.targetRules();
    const perPid = perPidScope(rules);
    const idle = matchesNothing(rules);
    const targets = ctx.targets();
    const targetPids = new Set(targets.map((t) => t.pid));
    const candidates = new Map<string, Candidate>();
    const add = (hostPath: string, path: string, pid?: number) => {
      const file = files.open(hostPath, path);
      if (!file) return undefined;
      let candidate = candidates.get(file.key);
      if (!candidate) {
        candidate = { file, pids: new Set() };
        candidates.set(file.key, candidate);
      }
      if (pid !== undefined) candidate.pids.add(pid);
      return file;
    };
    // Every pass (a dlopen one too): the map's own paths, and whether an upgrade replaced them.
    for (const request of requests) {
      const file = add(request.binaryPath, request.binaryPath);
      const previous = lastAtPath.get(request.binaryPath);
      if (file && previous && previous.key !== file.key && !replacements.has(file.key)) {
        const how = previous.inode === file.inode ? 'rewritten in place' : 'replaced on disk';
        const detail = `${request.binaryPath} was ${how} (inode ${previous.inode} → ${file.inode}${
          previous.buildId !== file.buildId ? `, build-id ${previous.buildId ?? '?'} → ${file.buildId ?? '?'}` : ''
        }): re-attached`;
        replacements.set(file.key, detail);
        log.info(detail);
      }
      if (file) lastAtPath.set(request.binaryPath, { key: file.key, inode: file.inode, buildId: file.buildId });
    }
    for (const pid of onlyPids ?? [...targetPids]) {
      for (const mapped of mappedFiles(pid)) {
        if (watchLibraryLoads && /^libc\.so(\.\d+)?$/.test(basename(mapped.path))) {
          const libc = files.open(mapped.hostPath, mapped.path);
          if (libc) watchLoader(libc);
        }
        if (requests.some((r) => isLibrary(mapped, r.library, r.binaryPath))) add(mapped.hostPath, mapped.path, pid);
      }
    }

    const resolved = new Set<number>();
    let timedOut = false;
    for (const { file, pids } of candidates.values()) {
      requests.forEach((request, index) => {
        if (!isLibrary({ path: file.path }, request.library, request.binaryPath)) return;
        resolved.add(index);
        const verdict = resolveRequest(file, request);
        const mismatchAttach =
          !verdict.ok && verdict.reason === 'build-id-mismatch' && options.onBuildIdMismatch === 'attach';
        if (!verdict.ok && !mismatchAttach) {
          points.report(index, request, filePoint(file), {
            resolvedPath: file.path,
            state: 'failed',
            reason: verdict.reason,
            detail: verdict.detail,
          });
          return;
        }
        const offset = verdict.ok ? verdict.offset : file.offsetOf(request.symbol);
        if (offset === undefined) return;
        points.report(index, request, filePoint(file), {
          resolvedPath: file.path,
          probeType: 'uprobe',
          state: 'resolvable',
          ...(verdict.ok ? {} : { detail: verdict.detail }),
        });
        if (idle) return;
        if (timedOut || Date.now() > deadline) {
          timedOut = true;
          return;
        }
        if (perPid) {
          for (const pid of pids) if (targetPids.has(pid) || onlyPids) attachOne(index, request, file, offset, pid);
        } else {
          attachOne(index, request, file, offset, -1);
        }
      });
    }
    if (timedOut && !deferred) {
      log.warn(
        `attaching took longer than probes.attach_timeout_ms (${tuning.attachTimeoutMs} ms): continuing in the background`,
      );
      deferred = setTimeout(() => {
        deferred = undefined;
        resolveAndAttach();
      }, 0);
    }
    if (onlyPids) return;

    // Release links to inodes no target maps any more (an upgraded library's old copy after its
    // last process exited) and per-pid links of processes that left; their points (and those of
    // files and processes that only ever failed) are reported detached.
    // `pid`: a link's (-1 = global); undefined for a file's own point.
    const gone = (fileKey: string, pid: number | undefined) =>
      !candidates.has(fileKey) || (pid !== undefined && pid >= 0 && !targetPids.has(pid)) || (idle && pid === -1);
    for (const [key, attachment] of attachments) {
      if (!gone(attachment.fileKey, attachment.pid)) continue;
      destroyQuietly(attachment.link, log);
      attachments.delete(key);
    }
    points.release(
      (p) => p.fileKey !== undefined && gone(p.fileKey, p.pid),
      (p) => releaseDetail(p, candidates.has(p.fileKey!)),
    );
    for (const key of files.keys()) {
      if (!candidates.has(key) && !loaderLinks.has(key)) files.forget(key);
    }
    reportLookups(resolved);
  };

  /**
   * `library-absent` for requests whose library was never found; a library found since clears it
   * (a stale absence must not outlive the attach it preceded: once that process leaves, the call
   * reads resolvable, not failed).
   */
  const reportLookups = (resolved: Set<number>) => {
    for (const index of resolved) everResolved.add(index);
    points.release(
      (p) => p.id === LOOKUP_POINT.id && resolved.has(p.index),
      (p) => `${p.request.library} found`,
    );
    requests.forEach((request, index) => {
      if (everResolved.has(index)) return;
      points.report(index, request, LOOKUP_POINT, {
        state: 'failed',
        reason: 'library-absent',
        detail: `${request.library} is not at ${request.binaryPath} nor mapped by any target process`,
      });
    });
  };

  const decoder = createUprobeObservationDecoder({
    requests,
    header,
    clock,
    nodeName: ctx.nodeName,
    samplingRate: tuning.samplingRate,
    fixedService,
    services: () => rules.services,
  });

  resolveAndAttach();
  const unsubscribe = ctx.onTargetsChanged(() => {
    populateTargetMaps(handle, ctx.targetRules());
    resolveAndAttach();
  });
  const rescan = setInterval(() => resolveAndAttach(), options.rescanIntervalMs ?? 5000);
  rescan.unref();

  const loadedPids = new Set<number>();
  let loadScan: NodeJS.Immediate | undefined;
  const onLibraryLoaded = (pid: number) => {
    loadedPids.add(pid);
    loadScan ??= setImmediate(() => {
      loadScan = undefined;
      const pids = [...loadedPids];
      loadedPids.clear();
      try {
        resolveAndAttach(pids);
      } catch (error) {
        log.warn('rescan after dlopen failed', { pids, error: (error as Error).message });
      }
    });
  };

  const consumer: RingBufferConsumer = handle.consumeRingBuffer('stella_events', (batch) => {
    const out: Observation[] = [];
    forEachRecord(batch, (buf, offset, length) => {
      if (length < EVENT_HEADER.size) return;
      decodeEventHeader(buf, offset, header);
      if (header.kind === EVENT_KIND_LIBRARY_LOADED) {
        onLibraryLoaded(header.pid);
        return;
      }
      const observation = decoder.fromEvent(buf, offset);
      if (observation) out.push(observation);
    });
    if (out.length > 0) ctx.emit(out);
  });

  const housekeeping = startHousekeeping({
    handle,
    ctx,
    plugin,
    log,
    aggregationWindowMs: aggregate ? tuning.aggregationWindowMs : 0,
    recordsOf({ key, count, lastTsNs }, window, out) {
      const request = requests[Number(key.readBigUInt64LE(0))];
      if (!request) return;
      const pid = key.readUInt32LE(8);
      const observedAt = new Date(clock(lastTsNs)).toISOString();
      out.push(Object.assign(decoder.observationOf(request, observedAt, pid, commOf(pid), count), window));
    },
  });

  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(rescan);
      if (deferred) clearTimeout(deferred);
      if (loadScan) clearImmediate(loadScan);
      unsubscribe();
      for (const link of trackerLinks) destroyQuietly(link, log);
      for (const link of loaderLinks.values()) destroyQuietly(link, log);
      for (const { link } of attachments.values()) destroyQuietly(link, log);
      await consumer.stop();
      housekeeping.stop();
      handle.close();
    },
  };
}

// SPDX-License-Identifier: Apache-2.0
import { ARGUMENT_READS_GLOBAL, EventKind, StellaPrograms } from './abi.js';
import { algorithmNamers, argumentReadsGlobal, argumentRegisters } from './algorithms.js';
import { AttachPointStatuses, filePoint, linkPoint, releaseDetail } from './attach-points.js';
import { createMonotonicClock } from './event.js';
import { type Candidate, LibraryDiscovery } from './library-discovery.js';
import { type LibraryFile, resolveRequest } from './library-files.js';
import { UprobePlacer } from './placement/placer.js';
import type { UprobePlacement } from './placement/types.js';
import { PresenceController } from './presence.js';
import { openPresenceObject, presenceIndexes } from './presence-session.js';
import { isLibrary } from './proc-maps.js';
import { commOf } from './session-common.js';
import { startSessionCore } from './session-core.js';
import type { BpfLink, BpfObjectHandle } from './types/bpf-api.js';
import type { AlgorithmSource } from './types/catalogue.js';
import type { PluginContext, ProbeSession } from './types/probe-plugin.js';
import type { ProbeRequest } from './types/probe-requests.js';
import type { TargetScope } from './types/targets.js';
import type { ProbeCountMode } from './types/tuning.js';
import { UprobeLinks, type WantedProbe } from './uprobe-links.js';
import { createUprobeObservationDecoder } from './uprobe-observations.js';

/** Record kind of `stella_library_loaded` (`stella/library_load.bpf.h`): a target returned from dlopen. */
export const EVENT_KIND_LIBRARY_LOADED: number = EventKind.libraryLoaded;

/** Program that reports dlopen returns; optional in an object (then only the periodic rescan finds late libraries). */
const LIBRARY_LOADED_PROGRAM = StellaPrograms.libraryLoaded;

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
  /**
   * Each request's count mode, by index (`probeModesOf`); default `count` for all. Presence-mode
   * probes get their own pid-scoped uprobe_multi links, whatever `attachScope` says.
   */
  countModes?: readonly ProbeCountMode[];
  /**
   * Request indexes in count mode counted in the kernel with no record per call
   * (`countOnlyIndexes`); drained every {@link COUNT_ONLY_WINDOW_MS} unless aggregating.
   */
  countOnly?: ReadonlySet<number>;
  /**
   * Each request's algorithm source, by index (`algorithmSourcesOf`): the program reads the
   * argument at the call, and observations carry `algorithm`. Probes that read an argument stay
   * at the entry when placement would skip an instruction that writes its register.
   */
  algorithms?: readonly (AlgorithmSource | undefined)[];
}

/** How often a non-aggregating session reports its count-only probes' counts. */
export const COUNT_ONLY_WINDOW_MS = 1000;

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
  const plugin = options.plugin;
  const log = ctx.logger.child({ scope: plugin });
  const { tuning } = ctx;
  let targetScope = ctx.targetScope();
  const fixedService = targetScope.allProcessesService;
  const program = options.program ?? StellaPrograms.uprobeCall;
  const multi = (await ctx.bpf.uprobeMultiSupported?.()) ?? { supported: false, reason: 'not offered by this BPF API' };
  if (!multi.supported) log.info('uprobe_multi unavailable: one perf-event uprobe per probe', { reason: multi.reason });
  const wantedPresence = presenceIndexes(options.countModes);
  const algorithmSources = options.algorithms ?? [];
  const argumentReads = argumentReadsGlobal(algorithmSources);
  let readsArmed = false;
  /** The object's own tuning: the per-cookie argument reads (an object built before them has none). */
  const setArgumentReads = (h: BpfObjectHandle) => {
    if (!argumentReads) return;
    try {
      h.setGlobal(ARGUMENT_READS_GLOBAL, argumentReads);
      readsArmed = true;
    } catch (error) {
      log.warn(`${options.objectPath} reads no arguments (rebuild it against this SDK): algorithms are unknown`, {
        error: (error as Error).message,
      });
    }
  };
  if (!multi.supported && wantedPresence.size > 0) {
    log.warn('presence mode needs uprobe_multi links: counting every call instead', { reason: multi.reason });
    wantedPresence.clear();
  }
  const { object, presence: presenceRequests } = openPresenceObject(
    ctx,
    {
      plugin,
      objectPath: options.objectPath,
      filterTargets: fixedService === undefined,
      ringBufferBytes: options.ringBufferBytes,
      // The kernel refuses a program loaded for one attach type when attached by the other.
      configure: (h) => {
        if (multi.supported) h.setProgramAttachType(program, 'uprobe.multi');
        setArgumentReads(h);
      },
    },
    wantedPresence,
    log,
  );
  const { handle } = object;
  const countOnly = options.countOnly ?? new Set<number>();
  const watchLibraryLoads = handle.programNames().includes(LIBRARY_LOADED_PROGRAM);
  const scope = options.attachScope ?? 'auto';

  const discovery = new LibraryDiscovery(requests, log);
  const points = new AttachPointStatuses(ctx, plugin);
  const links = new UprobeLinks(handle, program, multi.supported, points, tuning.maxConcurrent, log, (key) =>
    discovery.replacementOf(key),
  );
  const presenceFiles = new Map<string, LibraryFile>();
  const presence =
    presenceRequests.size > 0
      ? new PresenceController({
          handle,
          program: StellaPrograms.uprobePresence,
          windowMs: tuning.presenceWindowMs ?? 15_000,
          log,
          onArmed({ index, fileKey, pid, error }) {
            const file = presenceFiles.get(fileKey);
            if (!file) return;
            points.report(index, requests[index]!, linkPoint(file, pid), {
              resolvedPath: file.path,
              probeType: 'uprobe',
              state: error ? 'failed' : 'attached',
              pid,
              ...(error ? { reason: 'attach-error' as const } : {}),
              detail: error
                ? error.message
                : 'presence mode: disarmed in this process once seen, until the window rolls over',
            });
          },
        })
      : undefined;
  const loaderLinks = new Map<string, BpfLink>();
  // Past-the-entry placement only for the generic program: it reads no argument register, so the
  // instructions it skips cannot change what it records. Another program stays at the entry.
  // The worker stops 2 s after the last placement: a session places its files in one burst at
  // start (answers are kept below, per file), and a running worker holds ~45 MB for libssl and
  // libcrypto (~185 MB more for node's executable); what it freed is then handed back.
  const placer =
    program === StellaPrograms.uprobeCall
      ? new UprobePlacer({ idleMs: 2000, onWorkerStopped: () => void ctx.bpf.releaseFreedMemory?.() })
      : undefined;
  /** File key → symbol → placement (one decode pass per file). */
  const placements = new Map<string, Promise<Map<string, UprobePlacement | undefined>>>();
  const placementsOf = (file: LibraryFile) => {
    let cached = placements.get(file.key);
    if (!cached) {
      const symbols = [...new Set(requests.map((r) => r.symbol))];
      cached = (
        placer
          ? placer.place(
              file.hostPath,
              symbols.map((symbol) => ({ symbol })),
            )
          : Promise.resolve([])
      )
        .then((found) => new Map(symbols.map((s, i) => [s, found[i]])))
        .catch((error) => {
          log.warn('placement failed: probes stay at function entries', { file: file.path, error: String(error) });
          return new Map<string, UprobePlacement | undefined>();
        });
      placements.set(file.key, cached);
    }
    return cached;
  };
  /** Where `symbol` at `entry` of `file` is probed, and the reason shown in its status. */
  const placeProbe = async (file: LibraryFile, index: number, symbol: string, entry: number) => {
    if (!placer) return { offset: entry, placement: 'entry: a custom program may read argument registers' };
    const placed = (await placementsOf(file)).get(symbol);
    if (!placed) return { offset: entry, placement: 'entry: no placement for this symbol' };
    if (placed.offset - placed.delta !== entry)
      return { offset: entry, placement: 'entry: placement saw another entry address' };
    const read = algorithmSources[index]?.read;
    const register = read ? argumentRegisters(read).find((r) => placed.registersWritten.includes(r)) : undefined;
    if (register)
      return { offset: entry, placement: `entry: ${placed.reason} skips a write of %${register}, the argument read` };
    return { offset: placed.offset, placement: placed.reason };
  };
  /** Requests whose library was found at least once: a later absence is processes leaving, not a failure. */
  const everResolved = new Set<number>();

  const decoder = createUprobeObservationDecoder({
    requests,
    clock: createMonotonicClock(),
    nodeName: ctx.nodeName,
    sampleRate: object.settings.perCallSampleRate,
    fixedService,
    services: () => targetScope.services,
    presence: presenceRequests,
    algorithms: algorithmNamers(algorithmSources, readsArmed),
  });

  const watchLoader = (file: LibraryFile) => {
    if (loaderLinks.has(file.key)) return;
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

  /** Reports each request's verdict on each candidate file and attaches where it resolves. */
  const attachCandidates = async (
    candidates: Map<string, Candidate>,
    targetPids: Set<number>,
    onlyPids: number[] | undefined,
    deadline: number,
  ): Promise<{ resolved: Set<number>; timedOut: boolean }> => {
    const perPid = perPidScope(scope, targetScope);
    const idle = matchesNothing(targetScope);
    const resolved = new Set<number>();
    const wanted: WantedProbe[] = [];
    const arming: Promise<void>[] = [];
    let timedOut = false;
    for (const { file, pids, loadable } of candidates.values()) {
      for (const [index, request] of requests.entries()) {
        if (!isLibrary({ path: file.path }, request.library, request.binaryPath)) continue;
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
          continue;
        }
        const entry = verdict.ok ? verdict.offset : file.offsetOf(request.symbol);
        if (entry === undefined) continue;
        points.report(index, request, filePoint(file), {
          resolvedPath: file.path,
          probeType: 'uprobe',
          state: 'resolvable',
          ...(verdict.ok ? {} : { detail: verdict.detail }),
        });
        if (idle) continue;
        if (timedOut || Date.now() > deadline) {
          timedOut = true;
          continue;
        }
        const { offset, placement } = await placeProbe(file, index, request.symbol, entry);
        if (presence && presenceRequests.has(index)) {
          presenceFiles.set(file.key, file);
          for (const pid of pids)
            if (targetPids.has(pid) || onlyPids) arming.push(presence.arm(index, file, offset, pid));
          continue;
        }
        const probe = { index, request, file, offset, placement, countOnly: countOnly.has(index) };
        if (!perPid) wanted.push({ ...probe, pid: -1 });
        // Per-pid count links also for targets that have not loaded the library yet (at most
        // PER_PID_ATTACH_LIMIT of them), so their first calls after dlopen count. Presence links
        // stay with processes that map it: one link per probe and process, and the dlopen watch
        // arms them soon enough to see a call once in the window.
        else
          for (const pid of [...pids, ...loadable]) if (targetPids.has(pid) || onlyPids) wanted.push({ ...probe, pid });
      }
    }
    // Presence links are made beside the others, and the pass (so "ready") waits for both.
    await Promise.all([links.attach(wanted), ...arming]);
    return { resolved, timedOut };
  };

  let deferred: NodeJS.Timeout | undefined;
  /**
   * Finds each request's library on the host and in target processes and attaches. `onlyPids`
   * (after a dlopen) rescans those processes only and releases nothing.
   */
  const pass = async (onlyPids?: number[]) => {
    const deadline = Date.now() + tuning.attachTimeoutMs;
    targetScope = ctx.targetScope();
    const targetPids = new Set(ctx.targets().map((t) => t.pid));
    const candidates = discovery.scan(onlyPids ?? targetPids, watchLibraryLoads ? watchLoader : undefined);
    const { resolved, timedOut } = await attachCandidates(candidates, targetPids, onlyPids, deadline);
    if (timedOut && !deferred) {
      log.warn(
        `attaching took longer than probes.attach_timeout_ms (${tuning.attachTimeoutMs} ms): continuing in the background`,
      );
      deferred = setTimeout(() => {
        deferred = undefined;
        void resolveAndAttach();
      }, 0);
    }
    if (onlyPids) return;

    // Release links to inodes no target maps any more (an upgraded library's old copy after its
    // last process exited) and per-pid links of processes that left; their points (and those of
    // files and processes that only ever failed) are reported detached.
    const idle = matchesNothing(targetScope);
    const gone = (fileKey: string, pid: number | undefined) =>
      !candidates.has(fileKey) || (pid !== undefined && pid >= 0 && !targetPids.has(pid)) || (idle && pid === -1);
    await links.release(gone);
    presence?.release(gone);
    points.release(
      (p) => p.fileKey !== undefined && gone(p.fileKey, p.pid),
      (p) => releaseDetail(p, candidates.has(p.fileKey!)),
    );
    discovery.forget((key) => !candidates.has(key) && !loaderLinks.has(key));
    for (const key of placements.keys()) if (!candidates.has(key)) placements.delete(key);
    reportLookups(resolved);
  };

  // Passes run one after another (attach and release are asynchronous); none starts once stopping.
  let passes: Promise<void> = Promise.resolve();
  let stopping = false;
  const resolveAndAttach = (onlyPids?: number[]): Promise<void> => {
    passes = passes
      .then(() => (stopping ? undefined : pass(onlyPids)))
      .catch((error) => log.warn('attach pass failed', { pids: onlyPids, error: (error as Error).message }));
    return passes;
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

  const loadedPids = new Set<number>();
  let loadScan: NodeJS.Immediate | undefined;
  const onLibraryLoaded = (pid: number) => {
    loadedPids.add(pid);
    loadScan ??= setImmediate(() => {
      loadScan = undefined;
      const pids = [...loadedPids];
      loadedPids.clear();
      void resolveAndAttach(pids);
    });
  };

  const core = startSessionCore({
    ctx,
    plugin,
    log,
    object,
    onRecord(buf, offset, header, out) {
      if (header.kind === EVENT_KIND_LIBRARY_LOADED) {
        onLibraryLoaded(header.pid);
        return;
      }
      if (presence && presenceRequests.has(header.cookie)) {
        presence.firstHit(header.cookie, header.pid, header.tsNs);
        // Aggregating, the window's count carries this hit; the record only said "disarm me".
        if (object.settings.aggregate) return;
      }
      const observation = decoder.fromEvent(buf, offset, header);
      if (observation) out.push(observation);
    },
    recordsOf({ cookie, pid, arg, count, lastTsNs }, window, out) {
      const observation = decoder.fromAggregate(cookie, pid, commOf(pid), count, lastTsNs, window, arg);
      if (observation) out.push(observation);
    },
    onTargetsChanged: () => void resolveAndAttach(),
    ...(countOnly.size > 0 ? { countOnlyWindowMs: COUNT_ONLY_WINDOW_MS } : {}),
  });
  await resolveAndAttach();
  const rescan = setInterval(() => void resolveAndAttach(), options.rescanIntervalMs ?? 5000);
  rescan.unref();

  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(rescan);
      if (deferred) clearTimeout(deferred);
      if (loadScan) clearImmediate(loadScan);
      await passes;
      const loaders = [...loaderLinks.values()];
      loaderLinks.clear();
      await presence?.stop();
      await Promise.all([core.stop([...loaders, ...links.links()]), placer?.close()]);
    },
  };
}

function perPidScope(scope: NonNullable<UprobeCallSessionOptions['attachScope']>, targets: TargetScope): boolean {
  if (scope === 'per-pid') return true;
  if (scope === 'global') return false;
  const pids = targets.explicitPids;
  return pids !== undefined && pids.length > 0 && pids.length <= PER_PID_ATTACH_LIMIT;
}

/**
 * No rule can match any process (every explicit pid has exited, no executable or cgroup rule
 * resolved): a link would only make every process that maps the library trap for nothing
 * (~0.5–10 µs a call). Links come back when a target appears.
 */
function matchesNothing(targets: TargetScope): boolean {
  return targets.explicitPids?.length === 0;
}

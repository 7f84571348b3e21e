// SPDX-License-Identifier: Apache-2.0
import { StellaMaps, splitSyscallCookie, TARGET_TRACKER_PROGRAMS } from './abi.js';
import {
  createEventHeader,
  createMonotonicClock,
  decodeEventHeader,
  EVENT_HEADER,
  forEachRecord,
  readCString,
  SERVICE_NONE,
} from './event.js';
import { applyObjectTuning, objectTuning } from './object-tuning.js';
import { attachTargetTracker, commOf, destroyQuietly, startHousekeeping } from './session-common.js';
import {
  detectSyscallMechanisms,
  mechanismOrder,
  planSyscalls,
  type SyscallMechanism,
  type SyscallMechanismAvailability,
  type SyscallProbe,
  syscallPrograms,
} from './syscall-plan.js';
import { populateTargetMaps } from './targets.js';
import type {
  BpfLink,
  BpfObjectHandle,
  Observation,
  PluginContext,
  ProbeFailureReason,
  ProbeRequest,
  ProbeSession,
  RingBufferConsumer,
  TargetRules,
} from './types.js';

export interface SyscallSessionOptions {
  /** Plugin name, for statuses and logs. */
  plugin: string;
  /** Category, for the log line that names the mechanisms (`net`, `file`). */
  category: string;
  /** Compiled object built on stella/syscall.bpf.h. */
  objectPath: string;
  /** Every syscall the object carries programs for. */
  probes: readonly SyscallProbe[];
  /**
   * Which syscalls carry each libc symbol of the catalogue. The calls are observed at the
   * syscall boundary, so one kernel-side event satisfies every declared libc function it carries
   * (glibc's `open()` issues the `openat` syscall, so `open` → [`open`, `openat`]).
   */
  symbolSyscalls: Readonly<Record<string, readonly string[]>>;
  /** Syscalls that must be attached whenever one of them is (`read` needs the opens and `close`). */
  requires?: Readonly<Record<string, readonly string[]>>;
  /** Sets the object's own `const volatile` tunables before load. */
  configure?(handle: BpfObjectHandle): void;
  ringBufferBytes?: number;
  /** Detected availability (e.g. from the plugin's `detect`); detected again when absent. */
  availability?: SyscallMechanismAvailability;
}

/** How one syscall ended up observed (or not). */
export interface SyscallAttachment {
  syscall: string;
  mechanism?: SyscallMechanism;
  /** The decision, in order: skipped mechanisms and failed attaches with their reasons. */
  decisions: string[];
  /** True when the kernel lacks every mechanism (none detected, or each attach said so). */
  kernelMissing: boolean;
  /** True when `probes.max_concurrent` stopped the attach. */
  limitReached?: boolean;
}

export interface SyscallSession extends ProbeSession {
  /** Per syscall, the mechanism used and why the better ones were not. */
  readonly attachments: ReadonlyMap<string, SyscallAttachment>;
}

/** Attach errors that mean the kernel lacks the mechanism rather than a transient fault. */
const KERNEL_MISSING_ERRNOS = new Set(['ENOENT', 'EOPNOTSUPP', 'ENOTSUPP', 'ENOSYS', 'EPERM']);
/** Room for 64 syscall ids per service in a fan-out key (ids are small enum values). */
const IDS_PER_SERVICE = 64;

/**
 * Runs syscall-boundary probes (net, file) for a plugin: per syscall the first mechanism of the
 * kprobe → fentry → tracepoint chain that the kernel offers and that attaches, the kernel
 * filtering by target (and, for files, by path prefix), sampling and counting; records fanned out
 * to the expected calls their syscall carries.
 */
export async function startSyscallSession(
  ctx: PluginContext,
  requests: ProbeRequest[],
  options: SyscallSessionOptions,
): Promise<SyscallSession> {
  const log = ctx.logger.child({ scope: options.plugin });
  const { tuning } = ctx;
  const probeBySyscall = new Map(options.probes.map((p) => [p.syscall, p]));
  const probeById = new Map(options.probes.map((p) => [p.id, p]));
  const statusBase = (r: ProbeRequest) => ({
    plugin: options.plugin,
    service: r.service,
    functionId: r.functionId,
    nodeHash: r.nodeHash,
  });

  // 1. Which syscalls the requests need (plus what those need), and which requests no syscall carries.
  const wanted = new Set<string>();
  const carriedBy = new Map<ProbeRequest, string[]>();
  for (const request of requests) {
    const syscalls = (options.symbolSyscalls[request.symbol] ?? []).filter((s) => probeBySyscall.has(s));
    if (syscalls.length === 0) {
      ctx.reportStatus({
        ...statusBase(request),
        state: 'failed',
        reason: 'symbol-missing',
        detail: `no ${options.category} probe observes ${request.symbol}: known are ${Object.keys(options.symbolSyscalls).join(', ')}`,
      });
      continue;
    }
    carriedBy.set(request, syscalls);
    for (const s of syscalls) wanted.add(s);
  }
  const pending = [...wanted];
  for (let syscall = pending.pop(); syscall !== undefined; syscall = pending.pop()) {
    for (const dep of options.requires?.[syscall] ?? []) {
      if (probeBySyscall.has(dep) && !wanted.has(dep)) {
        wanted.add(dep);
        pending.push(dep);
      }
    }
  }
  const probes = options.probes.filter((p) => wanted.has(p.syscall));

  // 2. Detect, degrade: per syscall the mechanisms to try, in the operator's order.
  const availability = options.availability ?? detectSyscallMechanisms(ctx.bpf, options.objectPath, probes);
  const order = mechanismOrder(tuning.defaultTypes);
  const plans = planSyscalls(probes, availability, order);

  // 3. Load: only the programs of candidate mechanisms. Kprobe programs load even where they
  // cannot attach; fentry ones fail the whole load where fentry is refused, so they are on only
  // when detection saw fentry work.
  const rules = ctx.targetRules();
  const filtering = rules.allProcessesService === undefined;
  const objectSettings = objectTuning(tuning, filtering);
  const { aggregate } = objectSettings;
  const open = (mechanisms: ReadonlySet<SyscallMechanism>) => {
    const handle = ctx.bpf.open(options.objectPath, { name: options.plugin });
    try {
      applyObjectTuning(handle, objectSettings, options.ringBufferBytes);
      options.configure?.(handle);
      const enabled = new Set<string>();
      for (const plan of plans) {
        for (const mechanism of plan.candidates) {
          if (!mechanisms.has(mechanism)) continue;
          for (const program of syscallPrograms(probeBySyscall.get(plan.syscall)!, mechanism)) enabled.add(program);
        }
      }
      for (const program of handle.programNames()) {
        const tracker = (TARGET_TRACKER_PROGRAMS as readonly string[]).includes(program);
        handle.setAutoload(program, tracker ? filtering : enabled.has(program));
      }
      handle.load();
      return handle;
    } catch (error) {
      handle.close();
      throw error;
    }
  };
  const allMechanisms = new Set<SyscallMechanism>(plans.flatMap((p) => p.candidates));
  let handle: BpfObjectHandle;
  try {
    handle = open(allMechanisms);
  } catch (error) {
    if (!allMechanisms.has('kprobe') && !allMechanisms.has('fentry')) throw error;
    // A verifier that refuses the kprobe/fentry programs must not cost the tracepoints.
    log.warn('loading with kprobe/fentry programs failed; retrying with tracepoints only', {
      error: (error as Error).message,
    });
    for (const plan of plans) {
      for (const mechanism of plan.candidates.filter((m) => m !== 'tracepoint')) {
        plan.skipped.push({ mechanism, reason: `load failed: ${(error as Error).message}` });
      }
      plan.candidates = plan.candidates.filter((m) => m === 'tracepoint');
    }
    handle = open(new Set(['tracepoint']));
  }
  populateTargetMaps(handle, rules);
  const trackerLinks = attachTargetTracker(handle, filtering, log);

  // 4. Attach per syscall: the first candidate that attaches wins; each failure is a reason.
  const attachments = new Map<string, SyscallAttachment>();
  const links: BpfLink[] = [];
  let linksInUse = 0;
  for (const plan of plans) {
    const probe = probeBySyscall.get(plan.syscall)!;
    const attachment: SyscallAttachment = {
      syscall: plan.syscall,
      decisions: plan.skipped.map((s) => `${s.mechanism}: ${s.reason}`),
      kernelMissing: plan.candidates.length === 0,
    };
    let lastErrno: string | undefined;
    for (const mechanism of plan.candidates) {
      const programs = syscallPrograms(probe, mechanism);
      if (linksInUse + programs.length > tuning.maxConcurrent) {
        attachment.decisions.push(`${mechanism}: probes.max_concurrent (${tuning.maxConcurrent}) reached`);
        lastErrno = 'limit';
        break;
      }
      const made: BpfLink[] = [];
      try {
        for (const program of programs) made.push(handle.attachAuto(program));
        links.push(...made);
        linksInUse += made.length;
        attachment.mechanism = mechanism;
        attachment.decisions.push(`${mechanism}: attached ${programs.join(' + ')}`);
        break;
      } catch (error) {
        for (const link of made) link.destroy();
        lastErrno = (error as { code?: string }).code;
        attachment.decisions.push(`${mechanism}: ${(error as Error).message}`);
      }
    }
    if (!attachment.mechanism && plan.candidates.length > 0 && lastErrno !== 'limit')
      attachment.kernelMissing = lastErrno !== undefined && KERNEL_MISSING_ERRNOS.has(lastErrno);
    if (lastErrno === 'limit') attachment.limitReached = true;
    attachments.set(plan.syscall, attachment);
  }
  const used = Object.fromEntries([...attachments].map(([s, a]) => [s, a.mechanism ?? 'none']));
  const fallbacks = [...new Set(plans.flatMap((p) => p.skipped.map((s) => `${s.mechanism}: ${s.reason}`)))];
  log.info(`${options.category} probes: ${describeMechanisms(attachments)}`, { mechanisms: used, fallbacks });

  // 5. Statuses: a request is attached when any syscall that carries it is.
  for (const [request, syscalls] of carriedBy) {
    const carried = syscalls.map((s) => attachments.get(s)!);
    const attached = carried.find((a) => a.mechanism);
    const missingDeps = (syscalls.flatMap((s) => options.requires?.[s] ?? []) as string[]).filter(
      (dep) => !attachments.get(dep)?.mechanism,
    );
    const decisionText = carried.map((a) => `${a.syscall} [${a.decisions.join('; ')}]`).join(' ');
    if (attached && missingDeps.length === 0) {
      ctx.reportStatus({
        ...statusBase(request),
        probeType: attached.mechanism!,
        state: 'attached',
        resolvedPath: request.binaryPath,
        detail: `observed at the syscall boundary: ${decisionText}`,
      });
    } else {
      const reason: ProbeFailureReason = carried.some((a) => a.limitReached)
        ? 'limit-reached'
        : carried.every((a) => a.kernelMissing)
          ? 'kernel-feature-missing'
          : 'attach-error';
      ctx.reportStatus({
        ...statusBase(request),
        state: 'failed',
        reason: attached ? 'kernel-feature-missing' : reason,
        detail: attached
          ? `${request.symbol} is matched through ${missingDeps.join(', ')}, which could not attach`
          : `no mechanism could observe ${syscalls.join('/')}: ${decisionText}`,
      });
    }
  }

  // 6. Records → observations, fanned out to the requests each (service, syscall) carries.
  let fanOut = buildFanOut(rules, carriedBy, probeBySyscall);
  const mechanismById = new Map<number, string>();
  for (const [syscall, a] of attachments)
    if (a.mechanism) mechanismById.set(probeBySyscall.get(syscall)!.id, a.mechanism);
  const sampleRate = objectSettings.perCallSampleRate;
  const clock = createMonotonicClock();
  const header = createEventHeader();
  const observation = (
    request: ProbeRequest,
    probeType: string,
    pid: number,
    comm: string,
    observedAt: string,
    extra: Partial<Observation>,
  ): Observation => ({
    observedAt,
    service: request.service,
    function: request.functionId,
    symbol: request.symbol,
    ...(request.purl ? { purl: request.purl } : {}),
    binaryPath: request.binaryPath,
    ...(request.buildId ? { buildId: request.buildId } : {}),
    nodeHash: request.nodeHash,
    probeType,
    pid,
    comm,
    nodeName: ctx.nodeName,
    hitCount: 1,
    ...extra,
  });

  const unsubscribe = ctx.onTargetsChanged(() => {
    const next = ctx.targetRules();
    populateTargetMaps(handle, next);
    fanOut = buildFanOut(next, carriedBy, probeBySyscall);
  });

  const consumer: RingBufferConsumer = handle.consumeRingBuffer(StellaMaps.events, (batch) => {
    const out: Observation[] = [];
    forEachRecord(batch, (buf, offset, length) => {
      if (length < EVENT_HEADER.size) return;
      decodeEventHeader(buf, offset, header);
      const targets = fanOut.get(header.service * IDS_PER_SERVICE + header.cookie);
      if (!targets) return; // a companion syscall (close, an open for fd tracking) nobody asked for
      const observedAt = new Date(clock(header.tsNs)).toISOString();
      const comm = readCString(buf, offset + EVENT_HEADER.comm, EVENT_HEADER.commLength);
      const probeType = mechanismById.get(header.cookie) ?? 'tracepoint';
      const extra: Partial<Observation> = {
        tid: header.tid,
        cgroupId: header.cgroupId.toString(),
        hitCount: header.hitCount,
        ...(sampleRate !== undefined ? { sampleRate } : {}),
      };
      for (const request of targets) out.push(observation(request, probeType, header.pid, comm, observedAt, extra));
    });
    if (out.length > 0) ctx.emit(out);
  });

  const housekeeping = startHousekeeping({
    handle,
    ctx,
    plugin: options.plugin,
    log,
    aggregationWindowMs: aggregate ? tuning.aggregationWindowMs : 0,
    recordsOf({ cookie, pid, count, lastTsNs }, window, out) {
      const { service, syscallId } = splitSyscallCookie(cookie);
      const targets = fanOut.get(service * IDS_PER_SERVICE + syscallId);
      if (!targets || !probeById.has(syscallId)) return;
      const probeType = mechanismById.get(syscallId) ?? 'tracepoint';
      const observedAt = new Date(clock(lastTsNs)).toISOString();
      const comm = commOf(pid);
      for (const request of targets)
        out.push(observation(request, probeType, pid, comm, observedAt, { hitCount: count, ...window }));
    },
  });

  let stopped = false;
  return {
    attachments,
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      for (const link of [...trackerLinks, ...links]) destroyQuietly(link, log);
      await consumer.stop();
      housekeeping.stop();
      handle.close();
    },
  };
}

/** `connect via tracepoint, sendto via tracepoint, …` grouped by mechanism. */
function describeMechanisms(attachments: ReadonlyMap<string, SyscallAttachment>): string {
  const by = new Map<string, string[]>();
  for (const [syscall, a] of attachments) {
    const key = a.mechanism ?? 'not attached';
    by.set(key, [...(by.get(key) ?? []), syscall]);
  }
  return [...by].map(([mechanism, syscalls]) => `${syscalls.join(', ')} via ${mechanism}`).join('; ');
}

/** (service index, syscall id) → requests; SERVICE_NONE when the object runs unfiltered. */
function buildFanOut(
  rules: TargetRules,
  carriedBy: ReadonlyMap<ProbeRequest, string[]>,
  probeBySyscall: ReadonlyMap<string, SyscallProbe>,
): Map<number, ProbeRequest[]> {
  const fanOut = new Map<number, ProbeRequest[]>();
  const add = (service: number, id: number, request: ProbeRequest) => {
    const key = service * IDS_PER_SERVICE + id;
    const list = fanOut.get(key);
    if (list) list.push(request);
    else fanOut.set(key, [request]);
  };
  for (const [request, syscalls] of carriedBy) {
    const index = rules.services.indexOf(request.service);
    for (const syscall of syscalls) {
      const { id } = probeBySyscall.get(syscall)!;
      if (rules.allProcessesService !== undefined) {
        if (request.service === rules.allProcessesService) add(SERVICE_NONE, id, request);
      } else if (index >= 0) add(index, id, request);
    }
  }
  return fanOut;
}

// SPDX-License-Identifier: Apache-2.0
import { splitSyscallCookie } from './abi.js';
import { aggregateObservedAt } from './aggregates.js';
import { createMonotonicClock, EVENT_HEADER, readCString } from './event.js';
import { SERVICE_NONE } from './layout.js';
import { createIsoClock, createObservationBuilder } from './observation.js';
import { commOf } from './session-common.js';
import { openProbeObject, type ProbeObject, startSessionCore } from './session-core.js';
import { attachSyscalls, describeMechanisms, type SyscallAttachment } from './syscall-attach.js';
import {
  detectSyscallMechanisms,
  mechanismOrder,
  planSyscalls,
  type SyscallMechanism,
  type SyscallMechanismAvailability,
  type SyscallProbe,
  syscallPrograms,
} from './syscall-plan.js';
import { syscallNeeds } from './syscall-requests.js';
import { reportSyscallStatuses } from './syscall-status.js';
import type { BpfObjectHandle } from './types/bpf-api.js';
import type { PluginContext, ProbeSession } from './types/probe-plugin.js';
import type { ProbeRequest } from './types/probe-requests.js';
import type { TargetScope } from './types/targets.js';

export type { SyscallAttachment } from './syscall-attach.js';

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

export interface SyscallSession extends ProbeSession {
  /** Per syscall, the mechanism used and why the better ones were not. */
  readonly attachments: ReadonlyMap<string, SyscallAttachment>;
}

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

  const needs = syscallNeeds(requests, options.probes, options.symbolSyscalls, options.requires);
  for (const request of needs.uncarried) {
    ctx.reportStatus({
      plugin: options.plugin,
      service: request.service,
      functionId: request.functionId,
      nodeHash: request.nodeHash,
      state: 'failed',
      reason: 'symbol-missing',
      detail: `no ${options.category} probe observes ${request.symbol}: known are ${Object.keys(options.symbolSyscalls).join(', ')}`,
    });
  }
  const { carriedBy } = needs;

  // Detect, degrade: per syscall the mechanisms to try, in the operator's order.
  const availability = options.availability ?? detectSyscallMechanisms(ctx.bpf, options.objectPath, needs.probes);
  const plans = planSyscalls(needs.probes, availability, mechanismOrder(tuning.defaultTypes));

  // Load only the programs of candidate mechanisms. Kprobe programs load even where they cannot
  // attach; fentry ones fail the whole load where fentry is refused, so they are on only when
  // detection saw fentry work.
  let targetScope = ctx.targetScope();
  const open = (mechanisms: ReadonlySet<SyscallMechanism>): ProbeObject => {
    const enabled = new Set<string>();
    for (const plan of plans)
      for (const mechanism of plan.candidates)
        if (mechanisms.has(mechanism))
          for (const program of syscallPrograms(probeBySyscall.get(plan.syscall)!, mechanism)) enabled.add(program);
    return openProbeObject(ctx, {
      plugin: options.plugin,
      objectPath: options.objectPath,
      filterTargets: targetScope.allProcessesService === undefined,
      ringBufferBytes: options.ringBufferBytes,
      configure: options.configure,
      autoload: (program) => enabled.has(program),
    });
  };
  const allMechanisms = new Set<SyscallMechanism>(plans.flatMap((p) => p.candidates));
  let object: ProbeObject;
  try {
    object = open(allMechanisms);
  } catch (error) {
    if (!allMechanisms.has('kprobe') && !allMechanisms.has('fentry')) throw error;
    // A verifier that refuses the kprobe/fentry programs must not cost the tracepoints.
    log.warn('loading with kprobe/fentry programs failed; retrying with tracepoints only', {
      error: (error as Error).message,
    });
    for (const plan of plans) {
      for (const mechanism of plan.candidates.filter((m) => m !== 'tracepoint'))
        plan.skipped.push({ mechanism, reason: `load failed: ${(error as Error).message}` });
      plan.candidates = plan.candidates.filter((m) => m === 'tracepoint');
    }
    object = open(new Set(['tracepoint']));
  }

  // Records → observations, fanned out to the requests each (service, syscall) carries.
  let fanOut = buildFanOut(targetScope, carriedBy, probeBySyscall);
  const mechanismById = new Map<number, string>();
  const observationOf = createObservationBuilder(ctx.nodeName);
  const clock = createMonotonicClock();
  const isoTime = createIsoClock(clock);
  const sampleRate = object.settings.perCallSampleRate;
  let lastCgroup = -1n;
  let lastCgroupText = '';
  const core = startSessionCore({
    ctx,
    plugin: options.plugin,
    log,
    object,
    onRecord(buf, offset, header, out) {
      const targets = fanOut.get(header.service * IDS_PER_SERVICE + header.cookie);
      if (!targets) return; // a companion syscall (close, an open for fd tracking) nobody asked for
      if (header.cgroupId !== lastCgroup) {
        lastCgroup = header.cgroupId;
        lastCgroupText = lastCgroup.toString();
      }
      const fields = {
        observedAt: isoTime(header.tsNs),
        probeType: mechanismById.get(header.cookie) ?? 'tracepoint',
        pid: header.pid,
        tid: header.tid,
        comm: readCString(buf, offset + EVENT_HEADER.comm, EVENT_HEADER.commLength),
        cgroupId: lastCgroupText,
        sampleRate,
        hitCount: header.hitCount,
      };
      for (const request of targets) out.push(observationOf(request, fields));
    },
    recordsOf({ cookie, pid, count, lastTsNs }, window, out) {
      const { service, syscallId } = splitSyscallCookie(cookie);
      const targets = fanOut.get(service * IDS_PER_SERVICE + syscallId);
      if (!targets || !probeById.has(syscallId)) return;
      const fields = {
        observedAt: aggregateObservedAt(lastTsNs, clock, window),
        probeType: mechanismById.get(syscallId) ?? 'tracepoint',
        pid,
        comm: commOf(pid),
        hitCount: count,
        ...window,
      };
      for (const request of targets) out.push(observationOf(request, fields));
    },
    onTargetsChanged() {
      targetScope = ctx.targetScope();
      fanOut = buildFanOut(targetScope, carriedBy, probeBySyscall);
    },
  });

  // Attach per syscall: the first candidate that attaches wins; each failure is a reason.
  const { attachments, links } = attachSyscalls(object.handle, plans, probeBySyscall, tuning.maxConcurrent);
  for (const [syscall, a] of attachments)
    if (a.mechanism) mechanismById.set(probeBySyscall.get(syscall)!.id, a.mechanism);
  const used = Object.fromEntries([...attachments].map(([s, a]) => [s, a.mechanism ?? 'none']));
  const fallbacks = [...new Set(plans.flatMap((p) => p.skipped.map((s) => `${s.mechanism}: ${s.reason}`)))];
  log.info(`${options.category} probes: ${describeMechanisms(attachments)}`, { mechanisms: used, fallbacks });
  reportSyscallStatuses(ctx, options.plugin, carriedBy, attachments, options.requires);

  return {
    attachments,
    stop: () => core.stop(links),
  };
}

/** (service index, syscall id) → requests; SERVICE_NONE when the object runs unfiltered. */
function buildFanOut(
  targets: TargetScope,
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
    const index = targets.services.indexOf(request.service);
    for (const syscall of syscalls) {
      const { id } = probeBySyscall.get(syscall)!;
      if (targets.allProcessesService !== undefined) {
        if (request.service === targets.allProcessesService) add(SERVICE_NONE, id, request);
      } else if (index >= 0) add(index, id, request);
    }
  }
  return fanOut;
}

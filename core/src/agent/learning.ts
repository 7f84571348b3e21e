// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's side of issue 17: for each service in `runtime_agent.learning`, every observation of
 * the learning window (from the agent's start) goes into one accumulator over the service's map; at
 * the window's end the map is refined exactly as `stella function-map learn` refines it, written
 * through the safe output writer, and verification switches to it. Memory stays that of one
 * accumulator per service (per-call tallies), whatever the window's length.
 */
import { createHash } from 'node:crypto';
import type { Logger, Observation } from '@stella/sdk';
import type { ResolvedLearningSpec } from '../config/types.js';
import { serializeFunctionMap } from '../function-map/generate.js';
import { functionMapDigest } from '../function-map/hash.js';
import { formatLearnDiff, learnFunctionMap } from '../function-map/learn.js';
import { parseFunctionMap } from '../function-map/parse.js';
import type { FunctionMap } from '../function-map/types.js';
import { writeOutput } from '../output.js';
import { VerificationAccumulator } from '../verify/accumulator.js';
import type { LearningStatus } from '../verify/types.js';

export interface LearningControllerOptions {
  specs: readonly ResolvedLearningSpec[];
  /** The maps as loaded, by service. */
  maps: ReadonlyMap<string, FunctionMap>;
  /** Files the agent reads (its maps): the refined map is never written over one. */
  inputs: readonly string[];
  logger: Logger;
  generator: { name: string; version: string };
  nodeName: string;
  /** Called once a refined map is written: verification uses it from then on. */
  onLearned: (service: string, map: FunctionMap) => void;
  onState: (service: string, status: LearningStatus) => void;
}

interface Learning {
  spec: ResolvedLearningSpec;
  map: FunctionMap;
  accumulator: VerificationAccumulator;
  status: LearningStatus;
  /** Target processes already running at the start, one sentence; undefined when none. */
  partialReason?: string;
  finishing?: Promise<void>;
}

export class LearningController {
  private readonly byService = new Map<string, Learning>();

  constructor(private readonly options: LearningControllerOptions) {}

  /**
   * Opens every window at `nowMs`. `runningAtStart(service)` is the number of the service's target
   * processes already running: their library init happened before the probes attached, so what
   * they did only then is not in the window, and the result is `partial`.
   */
  start(nowMs: number, runningAtStart: (service: string) => number[]): void {
    for (const spec of this.options.specs) {
      const map = this.options.maps.get(spec.service);
      if (!map) continue; // compose refuses this before the agent exists
      const from = new Date(nowMs);
      const to = new Date(nowMs + spec.windowMs);
      const pids = runningAtStart(spec.service);
      const learning: Learning = {
        spec,
        map,
        accumulator: new VerificationAccumulator(map, { from, to }),
        status: { state: 'learning', from: from.toISOString(), to: to.toISOString(), output: spec.output },
      };
      if (pids.length > 0) {
        const shown = pids.slice(0, 5).join(', ') + (pids.length > 5 ? ', …' : '');
        learning.partialReason = `${pids.length} target process(es) (pid ${shown}) were already running when the agent started: calls they made only before the probes attached (library init, start-up) are not in the window`;
      }
      this.byService.set(spec.service, learning);
      this.options.onState(spec.service, learning.status);
      this.options.logger.info('learning the function map', {
        service: spec.service,
        until: learning.status.to,
        output: spec.output,
        ...(learning.partialReason ? { partial: learning.partialReason } : {}),
      });
    }
  }

  /** The pipeline's sink: every accepted batch, while some window is open. */
  add(batch: readonly Observation[]): void {
    for (const learning of this.byService.values()) {
      if (learning.status.state !== 'learning') continue;
      const service = learning.spec.service;
      for (const o of batch) if (o.service === service) learning.accumulator.add(o);
    }
  }

  status(service: string): LearningStatus | undefined {
    return this.byService.get(service)?.status;
  }

  /** Whether `service` is still in its window (its coverage is not judged yet). */
  isLearning(service: string): boolean {
    return this.byService.get(service)?.status.state === 'learning';
  }

  /** Finishes every window that ended by `nowMs`; resolves when their maps are written. */
  async tick(nowMs: number): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const learning of this.byService.values()) {
      if (learning.status.state !== 'learning' || nowMs < Date.parse(learning.status.to)) continue;
      learning.finishing ??= this.finish(learning);
      pending.push(learning.finishing);
    }
    await Promise.all(pending);
  }

  private async finish(learning: Learning): Promise<void> {
    const { spec, map } = learning;
    const log = this.options.logger;
    try {
      const report = learning.accumulator.report();
      const result = learnFunctionMap({
        map,
        report,
        provenance: {
          from: learning.status.from,
          to: learning.status.to,
          observationsDigest: tallyDigest(learning.accumulator),
          observationsInWindow:
            report.observationsRead -
            report.observationsSkipped.malformed -
            report.observationsSkipped.outOfWindow -
            report.observationsSkipped.otherService,
          baseMapDigest: functionMapDigest(map),
          node: this.options.nodeName,
        },
        dropUnobserved: spec.dropUnobserved,
        acceptUnexpected: spec.acceptUnexpected,
        generator: this.options.generator,
      });
      const text = serializeFunctionMap(result.map);
      // Read back as any map the agent loads would be: a refined map that does not parse is a bug.
      const refined = parseFunctionMap(JSON.parse(text), spec.output);
      await writeOutput(spec.output, text, {
        flag: `runtime_agent.learning (${spec.service}) output`,
        inputs: this.options.inputs,
      });
      learning.status = learning.partialReason
        ? { ...learning.status, state: 'partial', reason: learning.partialReason }
        : { ...learning.status, state: 'completed' };
      log.info('learned the function map', {
        service: spec.service,
        state: learning.status.state,
        output: spec.output,
        changes: formatLearnDiff(result, map).trimEnd(),
      });
      this.options.onLearned(spec.service, refined);
    } catch (error) {
      learning.status = { ...learning.status, state: 'failed', reason: (error as Error).message };
      log.error('learning failed: the agent keeps verifying against the map it loaded', {
        service: spec.service,
        error: (error as Error).message,
      });
    }
    this.options.onState(spec.service, learning.status);
  }
}

/**
 * The provenance digest of an agent-learned map: sha256 over the window's per-call tallies in a
 * canonical order (the agent has no files to hash; the tallies are what the refinement read).
 */
function tallyDigest(accumulator: VerificationAccumulator): string {
  const state = accumulator.exportState();
  const canonical = {
    calls: [...state.calls].sort((a, b) => a[0].localeCompare(b[0])),
    unexpected: state.unexpected
      .map(([key, u]) => [key, u.hits, u.firstMs, u.lastMs] as const)
      .sort((a, b) => a[0].localeCompare(b[0])),
    canaries: state.canaries
      .map(([key, c]) => [key, c.hits, c.firstMs, c.lastMs] as const)
      .sort((a, b) => a[0].localeCompare(b[0])),
  };
  return `sha256:${createHash('sha256').update(JSON.stringify(canonical)).digest('hex')}`;
}

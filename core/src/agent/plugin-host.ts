// SPDX-License-Identifier: Apache-2.0
import type {
  BpfApi,
  Logger,
  Observation,
  PluginContext,
  ProbePlugin,
  ProbePluginDetection,
  ProbeRequest,
  ProbeSession,
  ProbeStatus,
  ProbeTuning,
} from '@stella/sdk';
import { openTargetFilter, type TargetFilter, targetScopeOf } from '@stella/sdk/target-filter';
import type { ProbeStatusRegistry } from './status.js';
import type { TargetResolver } from './targets.js';

export interface PluginHostDeps {
  bpf: BpfApi;
  logger: Logger;
  nodeName: string;
  tuning: ProbeTuning;
  targets: TargetResolver;
  statuses: ProbeStatusRegistry;
  emit(observations: Observation[]): void;
  kernelDrops(plugin: string, total: bigint): void;
}

export interface RunningPlugin {
  plugin: ProbePlugin<unknown>;
  detection?: ProbePluginDetection;
  session?: ProbeSession;
  requests: ProbeRequest[];
  error?: string;
}

/**
 * Starts each probe plugin with a narrow context (never the DI container). A plugin that throws
 * in detect or start is logged under its name and marked failed; the others carry on.
 */
export class PluginHost {
  private readonly running: RunningPlugin[] = [];
  private readonly targetListeners = new Set<() => void>();
  /** The node's one set of target maps and its one exec/fork/exit tracker, shared by every plugin. */
  private targetFilter: TargetFilter | undefined;

  constructor(private readonly deps: PluginHostDeps) {}

  /** Called by the agent after each target rescan that changed something. */
  notifyTargetsChanged(): void {
    try {
      this.targetFilter?.update(this.deps.targets.targetRules());
    } catch (error) {
      this.deps.logger.error('updating the target maps failed', { error: (error as Error).message });
    }
    for (const listener of this.targetListeners) {
      try {
        listener();
      } catch (error) {
        this.deps.logger.error('target listener failed', { error: (error as Error).message });
      }
    }
  }

  private contextFor(plugin: ProbePlugin<unknown>): PluginContext {
    const { deps } = this;
    const logger = deps.logger.child({ scope: plugin.name });
    return {
      bpf: deps.bpf,
      logger,
      nodeName: deps.nodeName,
      tuning: deps.tuning,
      targets: () => deps.targets.targets(),
      targetScope: () => targetScopeOf(deps.targets.targetRules()),
      targetMaps: this.targetFilter?.maps,
      onTargetsChanged: (listener) => {
        const wrapped = () => listener(deps.targets.targets());
        this.targetListeners.add(wrapped);
        return () => this.targetListeners.delete(wrapped);
      },
      emit: (observations) => deps.emit(observations),
      reportStatus: (status: ProbeStatus) => {
        deps.statuses.report({ ...status, plugin: plugin.name });
        if (status.state === 'failed')
          logger.warn(`probe ${status.functionId} not attached`, { reason: status.reason, detail: status.detail });
      },
      reportKernelDrops: (name, total) => deps.kernelDrops(name, total),
    };
  }

  async start(plugins: ProbePlugin<unknown>[], requests: ProbeRequest[]): Promise<RunningPlugin[]> {
    const unserved = new Set(requests);
    this.openTargetFilter(plugins, requests);
    for (const plugin of plugins) {
      const mine = requests.filter((r) => plugin.categories.includes(r.category));
      for (const r of mine) unserved.delete(r);
      const entry: RunningPlugin = { plugin, requests: mine };
      this.running.push(entry);
      for (const r of mine) {
        this.deps.statuses.declare({
          plugin: plugin.name,
          service: r.service,
          functionId: r.functionId,
          nodeHash: r.nodeHash,
        });
      }
      if (mine.length === 0) continue;
      const ctx = this.contextFor(plugin);
      try {
        entry.detection = await plugin.detect({ bpf: ctx.bpf, logger: ctx.logger });
        if (!entry.detection.available) {
          entry.error = entry.detection.reason ?? 'not available on this kernel';
          this.failAll(plugin.name, mine, 'kernel-feature-missing', entry.error);
          continue;
        }
        entry.session = await plugin.start(ctx, mine);
        ctx.logger.info('started', { requests: mine.length, mechanisms: entry.detection.mechanisms });
      } catch (error) {
        entry.error = (error as Error).message;
        ctx.logger.error('plugin failed to start; the others carry on', { error: entry.error });
        this.failAll(plugin.name, mine, 'plugin-error', entry.error);
      }
    }
    for (const r of unserved) {
      this.deps.statuses.report({
        plugin: '(none)',
        service: r.service,
        functionId: r.functionId,
        nodeHash: r.nodeHash,
        state: 'failed',
        reason: 'plugin-error',
        detail: `no loaded probe plugin serves category "${r.category}"`,
      });
    }
    return this.running;
  }

  private failAll(plugin: string, requests: ProbeRequest[], reason: ProbeStatus['reason'], detail: string): void {
    for (const r of requests) {
      this.deps.statuses.report({
        plugin,
        service: r.service,
        functionId: r.functionId,
        nodeHash: r.nodeHash,
        state: 'failed',
        reason,
        detail,
      });
    }
  }

  /**
   * Loads the target filter once, before any plugin object (each reuses its maps at load). Without
   * it (no compiled object, or a load failure) filtering plugins fail to start with that reason.
   */
  private openTargetFilter(plugins: ProbePlugin<unknown>[], requests: ProbeRequest[]): void {
    const { bpf, logger, targets } = this.deps;
    const served = plugins.some((p) => requests.some((r) => p.categories.includes(r.category)));
    const rules = targets.targetRules();
    if (this.targetFilter || !served || rules.allProcessesService !== undefined) return;
    if (!bpf.targetFilterObject) {
      logger.error('this BPF API ships no target filter object: filtering plugins cannot start');
      return;
    }
    try {
      this.targetFilter = openTargetFilter(bpf, bpf.targetFilterObject, rules, logger.child({ scope: 'targets' }));
    } catch (error) {
      logger.error('the target filter failed to load', { error: (error as Error).message });
    }
  }

  plugins(): readonly RunningPlugin[] {
    return this.running;
  }

  /** Stops every session (each drains its ring buffer and delivers what it read). */
  async stop(): Promise<void> {
    await Promise.all(
      this.running.map(async (entry) => {
        try {
          await entry.session?.stop();
        } catch (error) {
          this.deps.logger.error(`stopping ${entry.plugin.name} failed`, { error: (error as Error).message });
        }
      }),
    );
    // After the sessions: their objects hold the maps, but the tracker must run until they stop.
    await this.targetFilter?.close();
    this.targetFilter = undefined;
  }
}

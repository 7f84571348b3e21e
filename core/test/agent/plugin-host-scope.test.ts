// SPDX-License-Identifier: Apache-2.0
import type { BpfApi, PluginContext, ProbeRequest, TargetScope } from '@stella/sdk';
import { defineProbePlugin } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { PluginHost } from '../../src/agent/plugin-host.js';
import { ProbeStatusRegistry } from '../../src/agent/status.js';
import { TargetResolver } from '../../src/agent/targets.js';
import { createLogger } from '../../src/logger.js';

const logger = createLogger({ level: 'silent' });

/** A BPF API no plugin here touches: the plugin below only reads its context. */
const noBpf: BpfApi = {
  open: () => {
    throw new Error('not used');
  },
  features: () => ({
    kernelRelease: 'test',
    btf: true,
    uprobes: true,
    kprobes: true,
    syscallTracepoints: true,
    ringbuf: true,
  }),
};

const request = (service: string): ProbeRequest => ({
  service,
  functionId: 'test/call',
  category: 'test',
  symbol: 'call',
  library: 'libtest.so',
  binaryPath: '/nonexistent/libtest.so',
  nodeHash: 'sha256:00',
  probeTypes: ['uprobe'],
});

/** Starts one plugin that keeps its context, against the given target resolver. */
async function contextFor(targets: TargetResolver): Promise<PluginContext> {
  let seen: PluginContext | undefined;
  const plugin = defineProbePlugin({
    name: 'scope-reader',
    categories: ['test'],
    catalogue: [],
    bpfObjects: [],
    detect: async () => ({ available: true }),
    start: async (ctx) => {
      seen = ctx;
      return { stop: async () => {} };
    },
  });
  const host = new PluginHost({
    bpf: noBpf,
    logger,
    nodeName: 'n',
    tuning: { samplingRate: 1, aggregationWindowMs: 0, maxConcurrent: 1, attachTimeoutMs: 1000, defaultTypes: [] },
    targets,
    statuses: new ProbeStatusRegistry(),
    emit: () => {},
    kernelDrops: () => {},
  });
  await host.start([plugin], [request('me')]);
  await host.stop();
  if (!seen) throw new Error('the plugin was not started');
  return seen;
}

describe('what a plugin sees of the target rules', () => {
  it('gets service names and explicit pids, never the rules, and cannot change what the core keeps', async () => {
    const targets = new TargetResolver([{ service: 'me', pids: [process.pid] }], { logger });
    targets.refresh();
    const ctx = await contextFor(targets);

    expect('targetRules' in ctx).toBe(false);
    const scope: TargetScope = ctx.targetScope();
    expect(scope).toEqual({ services: ['me'], explicitPids: [process.pid] });
    expect(Object.keys(scope)).not.toContain('executables');

    // Frozen: writing throws in strict mode (ES modules are strict) and leaves the core's rules as they were.
    expect(() => {
      (scope.services as string[]).push('intruder');
    }).toThrow(TypeError);
    expect(() => {
      (scope.explicitPids as number[])[0] = 1;
    }).toThrow(TypeError);
    expect(() => {
      (scope as { allProcessesService?: string }).allProcessesService = 'everything';
    }).toThrow(TypeError);
    expect(targets.targetRules().services).toEqual(['me']);
    expect(targets.targetRules().pids).toEqual([{ service: 'me', pid: process.pid }]);
    expect(targets.targetRules().allProcessesService).toBeUndefined();
    expect(ctx.targetScope()).toEqual({ services: ['me'], explicitPids: [process.pid] });
  });

  it('has no explicit pids while an executable rule is in force, and names the all-processes service', async () => {
    const byExe = await contextFor(
      new TargetResolver(
        [
          { service: 'me', pids: [process.pid] },
          { service: 'shell', executables: ['/bin/sh'] },
        ],
        { logger },
      ),
    );
    expect(byExe.targetScope().explicitPids).toBeUndefined();
    expect(byExe.targetScope().services).toEqual(['me', 'shell']);

    const everything = await contextFor(new TargetResolver([{ service: 'me', allProcesses: true }], { logger }));
    expect(everything.targetScope()).toEqual({ services: ['me'], allProcessesService: 'me' });
  });
});

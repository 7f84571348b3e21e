// SPDX-License-Identifier: Apache-2.0
import { existsSync } from 'node:fs';
import { createBpf } from '@stella/bpf';
import { isProbePlugin, type ProbePlugin } from '@stella/sdk';
import type { Command } from 'commander';
import { composeAgent } from '../../agent/compose.js';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../logger.js';
import { loadPlugins } from '../../plugins/load.js';

/** `stella plugins list`: loaded plugins, categories, BPF objects, attach support; per-probe status with maps. */
export function register(program: Command): void {
  const plugins = program.command('plugins').description('probe plugins');
  plugins
    .command('list')
    .description(
      'loaded plugins, their categories, BPF objects and attach support here; per-probe status when the config names maps',
    )
    .option('-c, --config <file>', 'configuration file')
    .option('--probe-status', 'attach the configured maps briefly and report every expected call’s status')
    .option('--format <format>', 'table or json', 'table')
    .action(async (opts: { config?: string; probeStatus?: boolean; format: string }) => {
      const loaded = await loadConfig({ configPath: opts.config });
      const logger = createLogger({ level: 'error', format: 'json' });
      const bpf = createBpf();
      const probePlugins = (await loadPlugins(loaded.config, logger)).filter(isProbePlugin) as ProbePlugin<unknown>[];
      const rows = [];
      for (const p of probePlugins) {
        let detection: Awaited<ReturnType<ProbePlugin<unknown>['detect']>>;
        try {
          detection = await p.detect({ bpf, logger });
        } catch (error) {
          detection = { available: false, reason: `detect threw: ${(error as Error).message}` };
        }
        rows.push({
          name: p.name,
          version: p.version,
          categories: p.categories,
          bpfObjects: p.bpfObjects.map((o) => ({ path: o, built: existsSync(o) })),
          available: detection.available,
          reason: detection.reason,
          mechanisms: detection.mechanisms ?? {},
        });
      }
      let probes: unknown[] = [];
      let learning: { service: string; state: string; to: string; output: string }[] = [];
      if (opts.probeStatus && loaded.config.runtimeAgent.functionMaps.length > 0) {
        const composed = await composeAgent({ configPath: opts.config, overrides: { logger } });
        try {
          await composed.agent.start();
          probes = composed.agent.statuses.all();
          learning = composed.agent.learningStatuses();
        } finally {
          await composed.dispose();
        }
      }
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify({ plugins: rows, probes, learning }, null, 2)}\n`);
        return;
      }
      for (const r of rows) {
        process.stdout.write(
          `${r.name}@${r.version ?? '?'}  categories=${r.categories.join(',')}  ${
            r.available
              ? `available (${Object.entries(r.mechanisms)
                  .map(([c, m]) => `${c}:${m}`)
                  .join(', ')})`
              : `UNAVAILABLE: ${r.reason}`
          }\n`,
        );
        for (const o of r.bpfObjects) process.stdout.write(`    ${o.built ? 'object' : 'MISSING'} ${o.path}\n`);
      }
      for (const s of probes as {
        plugin: string;
        functionId: string;
        state: string;
        reason?: string;
        resolvedPath?: string;
      }[])
        process.stdout.write(
          `  ${s.state.padEnd(10)} ${s.functionId.padEnd(40)} ${s.reason ?? ''} ${s.resolvedPath ?? ''}\n`,
        );
      for (const l of learning)
        process.stdout.write(`  learning ${l.service}: ${l.state} until ${l.to}, refined map ${l.output}\n`);
    });
}

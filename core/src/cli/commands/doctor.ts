// SPDX-License-Identifier: Apache-2.0
import { createBpf } from '@stella/bpf';
import { isProbePlugin, type ProbePlugin } from '@stella/sdk';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { formatChecks, runDoctor } from '../../doctor/checks.js';
import { type FunctionMap, readFunctionMap } from '../../function-map/index.js';
import { createLogger } from '../../logger.js';
import { loadPlugins } from '../../plugins/load.js';

/** `stella doctor`: exit 0 when nothing failed, 1 otherwise (warnings do not fail). */
export function register(program: Command): void {
  program
    .command('doctor')
    .description(
      'check this node for probe attachment: kernel, BTF, capabilities, probe types, tracefs, map binaries, trial attach',
    )
    .option('-c, --config <file>', 'configuration file (plugins and function maps to check)')
    .option('--function-map <file...>', 'function maps whose binary paths and build-ids to check')
    .option('--format <format>', 'table or json', 'table')
    .action(async (opts: { config?: string; functionMap?: string[]; format: string }) => {
      const loaded = await loadConfig({ configPath: opts.config });
      const logger = createLogger({ level: 'error', format: 'json' });
      const plugins = (await loadPlugins(loaded.config, logger)).filter(isProbePlugin) as ProbePlugin<unknown>[];
      const maps: FunctionMap[] = [];
      for (const path of [...loaded.config.runtimeAgent.functionMaps, ...(opts.functionMap ?? [])])
        maps.push(await readFunctionMap(path));
      const checks = await runDoctor({ bpf: createBpf(), plugins, maps, logger });
      const failed = checks.filter((c) => c.status === 'fail').length;
      process.stdout.write(
        opts.format === 'json' ? `${JSON.stringify({ checks, failed }, null, 2)}\n` : formatChecks(checks),
      );
      process.exitCode = failed > 0 ? 1 : 0;
    });
}

// SPDX-License-Identifier: Apache-2.0
import type { Command } from 'commander';
import { composeAgent } from '../../agent/compose.js';
import { describeConfig } from '../../config/describe.js';
import { loadConfig } from '../../config/load.js';

/** `stella agent --config F` (also the `stella-runtime-agent` binary). */
export function register(program: Command): void {
  program
    .command('agent')
    .description('run the runtime agent: attach probes per the function maps, record, export, verify continuously')
    .option('-c, --config <file>', 'configuration file (default: cosmiconfig search for "stella")')
    .option('--duration <seconds>', 'stop by itself after this many seconds (smoke tests, demos)', Number)
    .option('--print-config', 'print the resolved configuration (secrets redacted) and exit')
    .action(async (opts: { config?: string; duration?: number; printConfig?: boolean }) => {
      if (opts.printConfig) {
        const { config, source } = await loadConfig({ configPath: opts.config });
        process.stdout.write(`# ${source}\n${JSON.stringify(describeConfig(config), null, 2)}\n`);
        return;
      }
      const composed = await composeAgent({ configPath: opts.config });
      const { agent, logger, telemetry, config } = composed;
      await agent.start();
      // The handlers go in before "ready" is printed: a supervisor (or a test) that signals as soon
      // as it reads "ready" found SIGTERM's default action still in place, and the agent died
      // unflushed (exit by signal) when it was descheduled between the write and the listener.
      let stopped: (signal: string) => void = () => {};
      const stopping = new Promise<void>((resolve) => {
        stopped = (signal: string) => {
          logger.info('stopping: flushing observations and detaching probes', { signal });
          resolve();
        };
      });
      process.once('SIGINT', () => stopped('SIGINT'));
      process.once('SIGTERM', () => stopped('SIGTERM'));
      if (opts.duration !== undefined && opts.duration > 0) setTimeout(() => stopped('duration'), opts.duration * 1000);
      const url = telemetry.prometheusUrl();
      logger.info('ready', {
        metrics: url ?? 'disabled',
        ndjson: config.runtimeAgent.export.outputPath,
        store: config.runtimeAgent.observationStore.type,
      });
      await stopping;
      await composed.dispose();
      logger.info('stopped');
    });
}

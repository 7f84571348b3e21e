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
      // The handlers go in before "ready" is printed: a supervisor or test may stop the agent the
      // moment it reads that line, and a SIGTERM that arrived before process.once() ran took the
      // default action (killed, nothing flushed, probes left to the kernel). Measured under load: 5
      // of 25 agents stopped right after "ready" died that way. A signal during start() is honoured
      // once start() is done.
      let stop: (signal: string) => void = () => {};
      const stopRequested = new Promise<string>((resolve) => {
        stop = resolve;
      });
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      await agent.start();
      const url = telemetry.prometheusUrl();
      logger.info('ready', {
        metrics: url ?? 'disabled',
        ndjson: config.runtimeAgent.export.outputPath,
        store: config.runtimeAgent.observationStore.type,
      });
      // Start-up's object loads (kernel BTF, relocations) freed their memory on the way, but glibc
      // keeps it resident in its arenas: hand it back once, now that the agent settles to idle.
      void composed.bpf.releaseFreedMemory?.().catch(() => {});
      // Signal handlers do not keep Node's event loop alive; with nothing to probe (no maps) nothing
      // else does, and the agent ended right after "ready" with exit 13 (unsettled top-level await).
      const running =
        opts.duration !== undefined && opts.duration > 0
          ? setTimeout(() => stop('duration'), opts.duration * 1000)
          : setInterval(() => {}, 2 ** 31 - 1);
      const signal = await stopRequested;
      clearTimeout(running);
      logger.info('stopping: flushing observations and detaching probes', { signal });
      await composed.dispose();
      logger.info('stopped');
    });
}

// SPDX-License-Identifier: Apache-2.0
import type { Command } from 'commander';
import { runDemo } from '../../demo/demo.js';

/** `stella demo`: the quick start's main job, on the embedded default. */
export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'run the agent on the embedded default (memory store + NDJSON) against a real TLS workload on loopback, then verify',
    )
    .option('--workdir <dir>', 'where the config, certificate, NDJSON and report go', '/var/stella/demo')
    .option('--requests <n>', 'TLS handshakes the workload makes', (v) => Number.parseInt(v, 10), 20)
    .action(async (opts: { workdir: string; requests: number }) => {
      const { report } = await runDemo({ workdir: opts.workdir, requests: opts.requests, out: process.stdout });
      process.exitCode = report.verdict === 'pass' ? 0 : 1;
    });
}

// SPDX-License-Identifier: Apache-2.0
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { composeAgent } from '../agent/compose.js';
import { readFunctionMap } from '../function-map/index.js';
import {
  expandObservationInputs,
  readObservationFiles,
  VerificationAccumulator,
  type VerificationReport,
} from '../verify/index.js';
import { curlArgsFor, freePort, startOpensslServer } from './tls-server.js';

const run = promisify(execFile);

/** The shipped demo map: curl's TLS client handshake through libssl, and a libcrypto digest. */
export const DEMO_FUNCTION_MAP = fileURLToPath(new URL('../../demo/function-map.json', import.meta.url));

export interface DemoOptions {
  workdir: string;
  requests: number;
  out: NodeJS.WritableStream;
}

export interface DemoResult {
  report: VerificationReport;
  reportPath: string;
  observationsDir: string;
  metricsLines: string[];
}

/**
 * The main job on the embedded default, end to end and real: the agent (memory store + NDJSON)
 * attaches uprobes to libssl/libcrypto per the demo map, curl makes `requests` TLS handshakes
 * against `openssl s_server` on loopback, then the NDJSON on disk is verified and the gauges
 * are read back from the agent's own /metrics.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const say = (line = '') => options.out.write(`${line}\n`);
  const workdir = resolve(options.workdir);
  const observationsDir = join(workdir, 'observations');
  await rm(observationsDir, { recursive: true, force: true });
  await mkdir(observationsDir, { recursive: true });
  const metricsPort = await freePort();
  const configPath = join(workdir, 'stella.yaml');
  await writeFile(
    configPath,
    [
      '# Written by `stella demo`: the default configuration plus what the demo needs.',
      'runtime_agent:',
      '  node_name: demo-node',
      `  function_maps: [${JSON.stringify(DEMO_FUNCTION_MAP)}]`,
      '  targets:',
      '    - {service: demo-tls, executables: [/usr/bin/curl]}',
      '  observation_store: {type: memory, retention_hours: 72, max_batch_size: 1000}',
      '  probes: {max_concurrent: 256, attach_timeout_ms: 5000, default_types: [uprobe, kprobe], sampling_rate: 1.0}',
      `  export: {format: ndjson, flush_interval_ms: 1000, output_path: ${JSON.stringify(`${observationsDir}/`)}, aggregation_window_ms: 0}`,
      `  telemetry: {prometheus: {enabled: true, host: 127.0.0.1, port: ${metricsPort}}, verify_interval_ms: 1000}`,
      '',
    ].join('\n'),
  );

  say(`• TLS server: openssl s_server on 127.0.0.1 (throwaway certificate in ${workdir})`);
  const server = await startOpensslServer(workdir);
  const composed = await composeAgent({ configPath });
  try {
    await composed.agent.start();
    const health = composed.agent.statuses.health('demo-tls');
    say(`• agent: ${health.attached} probes attached, ${health.failed} failed; config ${configPath}`);
    say(`• workload: ${options.requests} × curl https://localhost:${server.port}/`);
    for (let i = 0; i < options.requests; i++) {
      await run('curl', curlArgsFor(server));
    }
    // One flush interval for the NDJSON exporter and the window index, then one verifier pass.
    await sleep(1500);
    composed.agent.verifyNow();
    const url = composed.telemetry.prometheusUrl();
    const metricsText = url ? await (await fetch(url)).text() : '';
    const metricsLines = metricsText
      .split('\n')
      .filter((l) =>
        /^stella_(observation_rate|unexpected_symbols_count|probe_attach_failure_rate|observation_buffer_full)\{/.test(
          l,
        ),
      );
    await composed.dispose();

    const map = await readFunctionMap(DEMO_FUNCTION_MAP);
    const files = await expandObservationInputs([observationsDir]);
    const to = new Date();
    const accumulator = new VerificationAccumulator(map, { from: new Date(to.getTime() - 3600_000), to });
    await readObservationFiles(files, accumulator);
    const report = accumulator.report({ probeHealth: health });
    const reportPath = join(workdir, 'report.json');
    await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);

    say();
    say('Verification report (from the NDJSON on disk):');
    say(`  verdict              ${report.verdict}`);
    say(`  observation_rate     ${report.observationRate} (minimum ${report.minObservationRate})`);
    say(`  unexpected symbols   ${report.unexpectedSymbolsCount}`);
    for (const path of report.paths) {
      say(
        `  path ${path.pathId.padEnd(28)} ${path.observed ? 'observed' : 'MISSING '} hits=${path.hitCount}${path.optional ? ' (optional)' : ''}`,
      );
    }
    for (const u of report.unexpectedSymbols) say(`  unexpected ${u.function} in ${u.binaryPath} hits=${u.hitCount}`);
    say(`  full report          ${reportPath}`);
    say();
    say(`NDJSON observations: ${observationsDir}/ (${(await readdir(observationsDir)).join(', ')})`);
    say();
    say(`/metrics (${url ?? 'disabled'}):`);
    for (const line of metricsLines) say(`  ${line}`);
    return { report, reportPath, observationsDir, metricsLines };
  } finally {
    await composed.dispose();
    await server.stop();
  }
}

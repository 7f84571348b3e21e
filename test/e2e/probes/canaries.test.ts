// SPDX-License-Identifier: Apache-2.0
/**
 * Canaries with the real agent (real uprobes on libssl): a python process that loads libssl and
 * builds its SSL context but never makes a handshake calls SSL_CTX_new_ex once, so the missing
 * handshake path reads "not exercised"; the same map against a process whose libssl is another
 * copy (another build-id, loaded through LD_LIBRARY_PATH) shows no canary, so the path reads "not
 * observable", with the probe status's reason (build-id-mismatch). The canary count is checked
 * against bpftrace on the same function and pid; canaries never count in the rate.
 */
import { join } from 'node:path';
import { readElfSymbols } from '@stella/sdk';
import { interruptBpftrace } from '@stella/sdk/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VerificationAccumulator } from '../../../core/src/verify/accumulator.js';
import { formatReport } from '../../../core/src/verify/format.js';
import { LIBSSL, LIBSSL_PURL } from '../../support/maps.js';
import {
  canBpf,
  copyWithBuildId,
  drive,
  functionMap,
  hits,
  startAgent,
  stopDriven,
  tempDir,
  until,
  uprobeRefusal,
} from './support.js';

const PYTHON = '/usr/bin/python3';
const CLIENT = join(import.meta.dirname, '../agent/fixtures/tls_client.py');
const CA = '/etc/ssl/certs/ca-certificates.crt';
const HANDSHAKE = 'tls/SSL_do_handshake';
const CANARY = 'canary/SSL_CTX_new_ex';

if (!canBpf) console.warn('[skip] canaries e2e: needs root for BPF (CAP_BPF/CAP_PERFMON)');

describe.skipIf(!canBpf || uprobeRefusal !== undefined)('canaries: not exercised or not observable', () => {
  const buildId = readElfSymbols(LIBSSL).buildId;
  const call = { function: HANDSHAKE, library: 'libssl.so.3', binaryPath: LIBSSL, purl: LIBSSL_PURL, buildId };
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('stella-canaries-');
  });
  afterEach(stopDriven);
  afterAll(async () => {
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true, force: true });
  });

  it('a process that links libssl but makes no handshake: the canary fires once (as bpftrace counts), the handshake path is not exercised', async () => {
    const agent = await startAgent({
      service: 'idle-tls',
      calls: [call],
      targets: [`{service: idle-tls, executables: [${PYTHON}]}`],
    });
    const bpftrace = drive('bpftrace', [
      '-e',
      `uprobe:${LIBSSL}:SSL_CTX_new_ex { @calls[pid] = count(); }\nBEGIN { printf("armed\\n"); }`,
    ]);
    await bpftrace.line('armed');
    // Port 9 is never dialled: the client waits for a line on stdin that never comes.
    const client = drive(PYTHON, [CLIENT, '9', CA, '1']);
    await client.line('ready');
    let report = agent.composed.agent.verifyNow()[0]!;
    await until(
      () => {
        report = agent.composed.agent.verifyNow()[0]!;
        // The verdict can come from the live canary before the record reaches the window: wait for both.
        return report.paths[0]?.visibility?.verdict === 'not-exercised' && report.canaries.length > 0;
      },
      10_000,
      'the canary in the report',
    );
    const metricsless = report;
    client.process.kill('SIGKILL');
    await client.exited;
    await interruptBpftrace(bpftrace.process);
    await bpftrace.exited;
    const observations = await agent.stop();

    const bpftraceCount = Number(new RegExp(`@calls\\[${client.pid}\\]: (\\d+)`).exec(bpftrace.output())?.[1] ?? 0);
    expect(bpftraceCount).toBeGreaterThan(0);
    expect(hits(observations, CANARY, client.pid)).toBe(bpftraceCount);
    expect(hits(observations, HANDSHAKE)).toBe(0);

    expect(metricsless.paths[0]).toMatchObject({ pathId: 'tls-SSL_do_handshake', observed: false });
    expect(metricsless.paths[0]?.visibility?.reason).toBe(
      `the canary of ${LIBSSL} (1 process) fired: the probes see the library, the path did not run`,
    );
    expect(metricsless.observationRate).toBe(0);
    expect(metricsless.unexpectedSymbols.map((u) => u.function)).not.toContain(CANARY);
    expect(metricsless.canaries).toMatchObject([{ function: CANARY, binaryPath: LIBSSL, processes: 1 }]);

    // Offline, from the NDJSON the agent wrote: the same verdict, from the canary record alone.
    const offline = new VerificationAccumulator(functionMap('idle-tls', [call]) as never, {
      from: new Date(Date.now() - 600_000),
      to: new Date(Date.now() + 1000),
    });
    for (const o of observations) offline.add(o);
    const table = formatReport(offline.report(), 'table');
    expect(table).toMatch(/MISSING\s+tls-SSL_do_handshake\s+tls\s+0\s+-\s+not exercised/);
  });

  it('the same map against a process whose libssl is another copy (another build-id): no canary, not observable, with the probe status reason', async () => {
    const libdir = join(dir, 'lib');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(libdir, { recursive: true });
    const otherId = `${buildId!.slice(0, -2)}${buildId!.endsWith('00') ? '11' : '00'}`;
    await copyWithBuildId(LIBSSL, join(libdir, 'libssl.so.3'), otherId);
    const agent = await startAgent({
      service: 'copied-tls',
      calls: [call],
      targets: [`{service: copied-tls, executables: [${PYTHON}]}`],
    });
    const client = drive(PYTHON, [CLIENT, '9', CA, '1'], { LD_LIBRARY_PATH: libdir });
    await client.line('ready');
    await until(
      () =>
        agent.status(CANARY)?.points.some((p) => p.reason === 'build-id-mismatch') === true &&
        agent.status(HANDSHAKE)?.points.some((p) => p.reason === 'build-id-mismatch') === true,
      10_000,
      'the other copy refused',
    );
    const [report] = agent.composed.agent.verifyNow();
    const live = agent
      .statuses()
      .filter((s) => !s.functionId.startsWith('canary/') && (s.state === 'attached' || s.state === 'observed'));
    const markdown = formatReport(report!, 'markdown');
    client.process.kill('SIGKILL');
    await client.exited;
    const observations = await agent.stop();

    expect(hits(observations, CANARY)).toBe(0);
    expect(report!.paths[0]?.visibility?.verdict).toBe('not-observable');
    expect(report!.paths[0]?.visibility?.reason).toContain(
      `no target process showed the canary of ${LIBSSL} (probe build-id-mismatch: `,
    );
    expect(report!.paths[0]?.visibility?.reason).toContain(join(libdir, 'libssl.so.3'));
    expect(markdown).toContain('**not observable**: no target process showed the canary of');
    // The canary is a status row of its own, but never one of the probe-health counts.
    expect(agent.composed.agent.statuses.all().some((s) => s.functionId === CANARY)).toBe(true);
    expect(report!.probeHealth?.attached).toBe(live.length);
  });
});

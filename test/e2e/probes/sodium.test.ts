// SPDX-License-Identifier: Apache-2.0
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ProbeStatus, readElfSymbols } from '@stella/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../core/src/demo/tls-server.js';
import { find, scrape } from '../../support/prometheus.js';
import {
  canBpf,
  copyWithBuildId,
  type Driven,
  drive,
  hits,
  LIBDIR,
  startAgent,
  stopDriven,
  tempDir,
  until,
} from './support.js';

const SODIUM = `${LIBDIR}/libsodium.so.23`;
const PURL = 'pkg:deb/debian/libsodium23@1.0.18-1?arch=amd64';
const PYTHON = '/usr/bin/python3';
const CLIENT = join(import.meta.dirname, 'fixtures/sodium_client.py');
const generichash = {
  function: 'crypto/crypto_generichash',
  library: 'libsodium.so.23',
  binaryPath: SODIUM,
  purl: PURL,
};

describe.skipIf(!canBpf)('libsodium through the auth/crypto uprobe session', () => {
  /** A copy of libsodium in its own directory, its build-id, and another one made of `byte`. */
  const sodiumCopy = async (name: string, byte: string) => {
    const lib = join(dir, name, 'libsodium.so.23');
    await mkdir(join(dir, name));
    await copyFile(SODIUM, lib);
    const buildId = readElfSymbols(SODIUM).buildId!;
    return { lib, buildId, rebuiltId: byte.repeat(buildId.length / 2) };
  };
  /** A ctypes client that has loaded `lib` and waits for `go` to make `calls` calls. */
  /** The client makes its calls, then exits. */
  const callAndExit = async (client: Driven) => {
    client.send('go');
    await client.line('done');
    client.send('exit');
    await client.exited;
  };
  const loadedClient = async (lib: string, calls: number) => {
    const client = drive(PYTHON, [CLIENT, 'ctypes', lib, String(calls)]);
    await client.line('ready');
    client.send('load');
    await client.line('loaded');
    return client;
  };
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('stella-sodium-');
  });
  afterAll(async () => {
    await stopDriven();
    await rm(dir, { recursive: true, force: true });
  });

  it('python3-nacl: exact crypto_sign count for a process targeted by pid (per-pid attach)', async () => {
    const client = drive(PYTHON, [CLIENT, 'nacl', '-', '40']);
    await client.line('ready');
    const agent = await startAgent({
      service: 'nacl',
      calls: [{ ...generichash, function: 'crypto/crypto_sign' }],
      targets: [`{service: nacl, pids: [${client.pid}]}`],
    });
    client.send('load');
    await client.line('loaded');
    // PyNaCl's extension (and libsodium with it) arrived by dlopen after the agent started.
    const latency = await until(() => agent.status('crypto/crypto_sign')?.state === 'attached', 1000, 'attach');
    client.send('go');
    await client.line('done');
    const pidPoint = (p: ProbeStatus) => p.attachPoint?.endsWith(`@pid${client.pid}`) ?? false;
    const released: ProbeStatus[] = [];
    agent.composed.agent.statuses.onReport((s) => {
      if (s.functionId === 'crypto/crypto_sign' && s.state === 'detached' && pidPoint(s)) released.push(s);
    });
    client.send('exit');
    await client.exited;
    // Its per-pid link is released when the process leaves and that point is reported detached. With
    // no target left nothing can match, so no global link replaces it (it would make every process
    // that maps libsodium trap for nothing; before, the same pass attached one just ahead of the
    // release): the call reads resolvable, ready for the next target.
    await until(() => released.length > 0, 8000, 'the per-pid release');
    const call = agent.status('crypto/crypto_sign');
    const observations = await agent.stop();
    expect(released[0]).toMatchObject({
      detail: expect.stringMatching(new RegExp(`^released: process ${client.pid} left the targets`)),
    });
    expect(call?.points.some(pidPoint)).toBe(false);
    expect(call?.points.filter((p) => p.attachPoint?.endsWith('@all'))).toEqual([]);
    expect(call?.state).toBe('resolvable');
    expect(hits(observations, 'crypto/crypto_sign', client.pid)).toBe(40);
    console.log(`[nacl] attached ${latency} ms after the dlopen finished`);
  });

  it('a library loaded by dlopen after the agent started is attached within a second (dlopen uretprobe), exact count', async () => {
    const client = drive(PYTHON, [CLIENT, 'ctypes', 'libsodium.so.23', '250']);
    await client.line('ready');
    const agent = await startAgent({
      service: 'late-load',
      calls: [generichash],
      targets: ['{service: late-load, executables: [/usr/bin/python3]}'],
    });
    const loadedAt = Date.now();
    client.send('load');
    await client.line('loaded');
    // Host-wide links exist from the start (global attach); wait for the process-specific rescan instead.
    await until(() => agent.status('crypto/crypto_generichash')?.state === 'attached', 1000, 'attach');
    console.log(`[dlopen] attached; ${Date.now() - loadedAt} ms after "load"`);
    await callAndExit(client);
    const observations = await agent.stop();
    expect(hits(observations, 'crypto/crypto_generichash', client.pid)).toBe(250);
  });

  it('a process in its own mount namespace is reached through /proc/PID/root (bind-mounted copy of the library)', async () => {
    const copy = join(dir, 'libsodium-ns-copy.so.23');
    await copyFile(SODIUM, copy);
    const client = drive('unshare', [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mount --bind ${copy} ${SODIUM} && exec ${PYTHON} ${CLIENT} ctypes ${SODIUM} 30`,
    ]);
    await client.line('ready');
    const agent = await startAgent({
      service: 'mntns',
      calls: [generichash],
      targets: [`{service: mntns, pids: [${client.pid}]}`],
      probes: '{max_concurrent: 256, attach_timeout_ms: 5000, sampling_rate: 1.0}',
    });
    client.send('load');
    await client.line('loaded');
    await until(
      () => agent.statuses().some((s) => s.functionId === 'crypto/crypto_generichash' && s.state === 'attached'),
      5000,
      'attach in the namespace',
    );
    await callAndExit(client);
    const observations = await agent.stop();
    // The calls run from the copy's inode, which only /proc/PID/root/… reaches: the host file's probe never fires.
    expect(hits(observations, 'crypto/crypto_generichash', client.pid)).toBe(30);
  });

  it('in-kernel aggregation keeps exact counts (1 record per window, not per call)', async () => {
    const client = drive(PYTHON, [CLIENT, 'ctypes', 'libsodium.so.23', '5000']);
    await client.line('ready');
    const agent = await startAgent({
      service: 'agg',
      calls: [generichash],
      targets: [`{service: agg, pids: [${client.pid}]}`],
      aggregationWindowMs: 300,
    });
    client.send('load');
    await client.line('loaded');
    await until(() => agent.status('crypto/crypto_generichash')?.state === 'attached', 5000, 'attach');
    await callAndExit(client);
    const observations = await agent.stop();
    const records = observations.filter((o) => o.function === 'crypto/crypto_generichash');
    expect(hits(observations, 'crypto/crypto_generichash', client.pid)).toBe(5000);
    expect(records.length).toBeLessThan(20);
    expect(records.every((o) => o.windowStart && o.windowEnd && o.sampleRate === undefined)).toBe(true);
  });

  it('1 % sampling in the kernel: about 1 % of per-call records, each marked with sampleRate', async () => {
    const client = drive(PYTHON, [CLIENT, 'ctypes', 'libsodium.so.23', '20000']);
    await client.line('ready');
    const agent = await startAgent({
      service: 'sampled',
      calls: [generichash],
      targets: [`{service: sampled, pids: [${client.pid}]}`],
      probes: '{max_concurrent: 256, attach_timeout_ms: 5000, sampling_rate: 0.01}',
    });
    client.send('load');
    await client.line('loaded');
    await until(() => agent.status('crypto/crypto_generichash')?.state === 'attached', 5000, 'attach');
    await callAndExit(client);
    const observations = (await agent.stop()).filter((o) => o.function === 'crypto/crypto_generichash');
    // Binomial(20000, 0.01): mean 200, sd ≈ 14; ±6 sd.
    expect(observations.length).toBeGreaterThan(115);
    expect(observations.length).toBeLessThan(285);
    expect(observations.every((o) => o.sampleRate === 0.01 && o.hitCount === 1)).toBe(true);
  });

  it('build-id mismatch against the map is reported and not attached', async () => {
    const agent = await startAgent({
      service: 'buildid',
      calls: [{ ...generichash, buildId: 'deadbeef'.repeat(5) }],
      targets: ['{service: buildid, executables: [/usr/bin/python3]}'],
    });
    const status = agent.status('crypto/crypto_generichash');
    await agent.stop();
    expect(status).toMatchObject({ state: 'failed', reason: 'build-id-mismatch' });
    expect(status?.detail).toContain(readElfSymbols(SODIUM).buildId!);
  });

  it('a library replaced on disk (new inode, as after an upgrade) is re-attached and reported; both builds counted', async () => {
    const lib = join(dir, 'libsodium.so.23');
    await copyFile(SODIUM, lib);
    const first = drive(PYTHON, [CLIENT, 'ctypes', lib, '7']);
    await first.line('ready');
    const agent = await startAgent({
      service: 'upgrade',
      calls: [{ ...generichash, binaryPath: lib }],
      targets: ['{service: upgrade, executables: [/usr/bin/python3]}'],
    });
    first.send('load');
    await first.line('loaded');
    await until(() => agent.status('crypto/crypto_generichash')?.state === 'attached', 5000, 'attach');
    // The "upgrade": a new file renamed over the old one, as dpkg does; the first process keeps the old inode.
    await copyFile(SODIUM, `${lib}.new`);
    await rename(`${lib}.new`, lib);
    const second = await loadedClient(lib, 11);
    await until(
      () => /replaced on disk/.test(agent.status('crypto/crypto_generichash')?.detail ?? ''),
      8000,
      're-attach report',
    );
    for (const c of [first, second]) {
      c.send('go');
      await c.line('done');
      c.send('exit');
      await c.exited;
    }
    const observations = await agent.stop();
    expect(hits(observations, 'crypto/crypto_generichash', first.pid)).toBe(7);
    expect(hits(observations, 'crypto/crypto_generichash', second.pid)).toBe(11);
  });

  it('a library rewritten in place (same inode, as `cp` over it does) is read again: its new build-id matches, calls counted', async () => {
    const { lib, buildId, rebuiltId } = await sodiumCopy('inplace', 'cd');
    const fn = 'crypto/crypto_generichash';
    // The map is for the rebuilt library; the file on disk is still the old build.
    const agent = await startAgent({
      service: 'inplace',
      calls: [{ ...generichash, binaryPath: lib, buildId: rebuiltId }],
      targets: ['{service: inplace, executables: [/usr/bin/python3]}'],
    });
    await until(() => agent.status(fn)?.reason === 'build-id-mismatch', 5000, 'the old build refused');
    const inode = (await stat(lib)).ino;
    await copyWithBuildId(SODIUM, `${lib}.rebuilt`, rebuiltId);
    await copyFile(`${lib}.rebuilt`, lib); // O_TRUNC on the same inode
    expect((await stat(lib)).ino).toBe(inode);
    const client = await loadedClient(lib, 9);
    await until(() => agent.status(fn)?.state === 'attached', 5000, 'attach to the rewritten file');
    await callAndExit(client);
    const detail = agent.status(fn)?.detail ?? '';
    const observations = await agent.stop();
    expect(detail).toMatch(
      new RegExp(`was rewritten in place \\(inode ${inode} → ${inode}, build-id ${buildId} → ${rebuiltId}\\)`),
    );
    expect(hits(observations, fn, client.pid)).toBe(9);
  });

  it('an upgrade to another build (other build-id): once the old copy’s last process exits, the call reads failed build-id-mismatch in statuses, probe health and the failure-rate gauge', async () => {
    const { lib, buildId, rebuiltId } = await sodiumCopy('rebuilt', 'ab');
    const fn = 'crypto/crypto_generichash';
    const first = drive(PYTHON, [CLIENT, 'ctypes', lib, '7']);
    await first.line('ready');
    const agent = await startAgent({
      service: 'rebuild',
      calls: [{ ...generichash, binaryPath: lib, buildId }],
      targets: ['{service: rebuild, executables: [/usr/bin/python3]}'],
      metricsPort: await freePort(),
    });
    first.send('load');
    await first.line('loaded');
    await until(() => agent.status(fn)?.state === 'attached', 5000, 'attach');
    // The upgrade: another build renamed over the old file, as dpkg does; `first` keeps the old inode.
    await copyWithBuildId(SODIUM, `${lib}.new`, rebuiltId);
    await rename(`${lib}.new`, lib);
    const second = await loadedClient(lib, 11);
    await until(
      () => agent.status(fn)?.points.some((p) => p.reason === 'build-id-mismatch') ?? false,
      8000,
      'the new build reported',
    );
    // While `first` maps the old copy, its link lives: still attached.
    const during = agent.status(fn);
    for (const c of [first, second]) {
      c.send('go');
      await c.line('done');
    }
    first.send('exit');
    await first.exited;
    await until(() => agent.status(fn)?.state === 'failed', 8000, 'the release of the old copy');
    const after = agent.status(fn);
    const [report] = agent.composed.agent.verifyNow();
    const metrics = await scrape(agent.composed.telemetry.prometheusUrl()!);
    second.send('exit');
    await second.exited;
    const observations = await agent.stop();

    expect(during?.state).toBe('attached');
    expect(after).toMatchObject({ state: 'failed', reason: 'build-id-mismatch', observed: true });
    expect(after?.detail).toContain(rebuiltId);
    expect(after?.points.filter((p) => p.state === 'attached')).toEqual([]);
    expect(report?.probeHealth).toMatchObject({ attached: 0 });
    expect(report?.probeHealth?.failureRate).toBeGreaterThan(0.05);
    // The gauge the function-map-probe-failures alert reads (> 0.05).
    const [rate] = find(metrics, 'stella_probe_attach_failure_rate', { service: 'rebuild' });
    expect(rate?.value).toBeGreaterThan(0.05);
    expect(hits(observations, fn, first.pid)).toBe(7);
    expect(hits(observations, fn, second.pid)).toBe(0); // the other build was never attached
  });
});

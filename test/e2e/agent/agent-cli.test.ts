// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStella, startStella } from '../../support/cli.js';

describe('stella agent: configuration and start-up errors', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints the resolved configuration with defaults and environment overrides, never the password', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-print-'));
    const cfg = join(dir, 'agent.yaml');
    await writeFile(
      cfg,
      'runtime_agent:\n  observation_store: {type: postgres, postgres: {url: "postgres://stella:hunter2@db:5432/obs"}}\n',
    );
    const r = await runStella(['agent', '--config', cfg, '--print-config'], {
      env: { STELLA_SAMPLING_RATE: '0.25' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`# ${cfg}`);
    const printed = JSON.parse(r.stdout.slice(r.stdout.indexOf('\n') + 1)) as {
      runtimeAgent: { probes: { samplingRate: number; maxConcurrent: number }; buffer: { maxBytes: number } };
    };
    expect(printed.runtimeAgent.probes.samplingRate).toBe(0.25);
    expect(printed.runtimeAgent.probes.maxConcurrent).toBe(256);
    expect(printed.runtimeAgent.buffer.maxBytes).toBe(64 * 1024 * 1024);
    expect(r.stdout).toContain('postgres://stella:***@db:5432/obs');
    expect(r.stdout + r.stderr).not.toContain('hunter2');
  });

  it('a taken metrics port ends the agent with exit 3 and one sentence naming the setting', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      dir ??= await mkdtemp(join(tmpdir(), 'stella-print-'));
      const cfg = join(dir, 'port.yaml');
      await writeFile(
        cfg,
        `runtime_agent:\n  telemetry: {prometheus: {enabled: true, port: ${port}}}\n  export: {output_path: ${JSON.stringify(join(dir, 'out'))}}\n`,
      );
      const r = await runStella(['agent', '--config', cfg, '--duration', '1']);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(
        `stella: failed to listen for Prometheus on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port} (runtime_agent.telemetry.prometheus.host/port in ${cfg})`,
      );
      expect(r.stderr).not.toContain('internal error');
    } finally {
      taken.close();
    }
  });

  it('stops cleanly on a SIGTERM sent the moment it prints ready', async () => {
    // "ready" used to be printed before the signal handlers were installed: a SIGTERM sent on
    // reading it could take the default action (killed, nothing flushed). Each start is a new
    // chance for that race, so several.
    dir ??= await mkdtemp(join(tmpdir(), 'stella-print-'));
    const cfg = join(dir, 'ready.yaml');
    await writeFile(
      cfg,
      `runtime_agent:\n  telemetry: {prometheus: {enabled: false}}\n  export: {output_path: ${JSON.stringify(join(dir, 'ready-out'))}}\n`,
    );
    for (let i = 0; i < 6; i++) {
      const agent = startStella(['agent', '--config', cfg]);
      await agent.waitFor(/\bready metrics=/);
      agent.child.kill('SIGTERM');
      expect(await agent.exited, `start ${i}: ${agent.stderr()}`).toBe(0);
      expect(agent.stderr()).toMatch(/stopping: flushing observations and detaching probes signal=SIGTERM/);
    }
  }, 60_000);
});

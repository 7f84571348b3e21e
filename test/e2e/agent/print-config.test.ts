// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStella } from '../../support/cli.js';

describe('stella agent --print-config', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints the resolved runbook configuration with defaults and environment overrides, never the password', async () => {
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
});

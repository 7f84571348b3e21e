// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStella } from '../../support/cli.js';

const canBpf = process.getuid?.() === 0;
if (!canBpf) console.warn('[skip] demo e2e: needs root for BPF (CAP_BPF/CAP_PERFMON)');

describe.skipIf(!canBpf)('stella demo: the quick start main job', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('claims short-lived curl processes by executable in the kernel, verifies 1.0 and serves the gauges on /metrics', async () => {
    const workdir = await mkdtemp(join(tmpdir(), 'stella-demo-'));
    dirs.push(workdir);
    const { code, stdout, stderr } = await runStella(['demo', '--workdir', workdir, '--requests', '20']);
    expect(stderr).not.toMatch(/\berror\b/);
    expect(code).toBe(0);
    expect(stdout).toMatch(/verdict\s+pass/);
    expect(stdout).toMatch(/observation_rate\s+1 \(minimum 0\.95\)/);
    expect(stdout).toMatch(/path tls-client-handshake\s+observed/);
    expect(stdout).toMatch(/^ {2}stella_observation_rate\{service="demo-tls",tag="all"[^}]*\} 1$/m);
    expect(stdout).toMatch(/^ {2}stella_unexpected_symbols_count\{service="demo-tls"[^}]*\} 0$/m);
    const files = await readdir(join(workdir, 'observations'));
    expect(files.some((f) => /\.ndjson(\.gz)?$/.test(f))).toBe(true);
  });
});

// SPDX-License-Identifier: Apache-2.0
/** The agent's container: parts are found by token, and a caller's registration replaces the built-in part. */
import 'reflect-metadata';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BpfApi, Observation, ProbePlugin } from '@stella/sdk';
import { container } from 'tsyringe';
import { afterEach, describe, expect, it } from 'vitest';
import { composeAgent } from '../../src/agent/compose.js';
import { type Clock, type ObservationExporter, TOKENS } from '../../src/agent/tokens.js';
import { NdjsonExporter } from '../../src/export/ndjson.js';
import { createLogger } from '../../src/logger.js';

const DEMO_MAP = fileURLToPath(new URL('../../demo/function-map.json', import.meta.url));
const PINNED = Date.parse('2026-01-15T11:00:00.000Z');

/** Records what the agent hands it; nothing is written anywhere. */
class MemoryExporter implements ObservationExporter {
  readonly batches: Observation[][] = [];
  closed = false;
  write(batch: Observation[]): void {
    this.batches.push(batch);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
  }
  stats() {
    return { bufferedBytes: 0 };
  }
}

/** A kernel no test here may reach: composing must not touch it before `start()`. */
const untouchableBpf = new Proxy({} as BpfApi, {
  get(_target, prop) {
    if (prop === 'then') return undefined; // not a promise (checked when it is awaited)
    throw new Error(`the kernel was used (${String(prop)}) before start()`);
  },
});

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function writeConfig(): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'stella-compose-'));
  const path = join(dir, 'stella.yaml');
  await writeFile(
    path,
    [
      'runtime_agent:',
      '  node_name: compose-test',
      `  function_maps: [${JSON.stringify(DEMO_MAP)}]`,
      '  targets: [{service: demo-tls, executables: [/usr/bin/curl]}]',
      '  observation_store: {type: memory}',
      `  export: {output_path: ${JSON.stringify(join(dir, 'out'))}}`,
      '  telemetry: {prometheus: {enabled: false}}',
      '  log: {level: error}',
      '',
    ].join('\n'),
  );
  return path;
}

describe('composeAgent', () => {
  it('uses the parts a test registers in its own container: exporter, clock, kernel, an extra probe plugin', async () => {
    const configPath = await writeConfig();
    const parts = container.createChildContainer();
    const exporter = new MemoryExporter();
    const clock: Clock = { now: () => PINNED };
    const extra = { kind: 'probe', name: 'test-probes', catalogue: [] } as unknown as ProbePlugin<unknown>;
    parts.register(TOKENS.Exporter, { useValue: exporter });
    parts.register(TOKENS.Clock, { useValue: clock });
    parts.register(TOKENS.Bpf, { useValue: untouchableBpf });
    parts.register(TOKENS.ProbePlugin, { useValue: extra });

    const composed = await composeAgent({ configPath, container: parts });
    expect(composed.container.resolve(TOKENS.Exporter)).toBe(exporter);
    expect(composed.container.resolveAll(TOKENS.ProbePlugin)).toContain(extra);
    // The built-in probe plugins registered themselves beside it.
    expect(composed.container.resolveAll<ProbePlugin<unknown>>(TOKENS.ProbePlugin).length).toBeGreaterThan(1);
    // The verifier reads the pinned clock.
    const [report] = composed.agent.verifyNow();
    expect(report!.generatedAt).toBe(new Date(PINNED).toISOString());
    await composed.dispose();
    expect(exporter.closed).toBe(true);
    // Nothing leaked into the process-wide container.
    expect(container.isRegistered(TOKENS.Exporter, true)).toBe(false);
  });

  it('builds the built-in parts when nothing is registered', async () => {
    const configPath = await writeConfig();
    const composed = await composeAgent({
      configPath,
      overrides: { bpf: untouchableBpf, logger: createLogger({ level: 'silent' }) },
    });
    expect(composed.container.resolve(TOKENS.Exporter)).toBeInstanceOf(NdjsonExporter);
    expect(composed.container.resolve<Clock>(TOKENS.Clock).now()).toBeGreaterThan(PINNED);
    await composed.dispose();
  });
});

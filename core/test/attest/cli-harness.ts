// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI entry in-process (the same top-level catch and exit codes as the binary). */
export async function runCli(...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  // The callback is honoured: safe output waits for it to learn that stdout took the bytes.
  process.stdout.write = ((chunk: string | Uint8Array, callback?: unknown) => {
    stdout += chunk.toString();
    if (typeof callback === 'function') queueMicrotask(() => (callback as () => void)());
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'stella', ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    process.exitCode = undefined;
  }
}

export async function withTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'stella-attest-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export const FUNCTION_MAP = {
  _type: 'https://stella.ops/predicates/function-map/v1',
  subject: { purl: 'pkg:oci/checkout@sha256:abc', digest: { sha256: 'a'.repeat(64) } },
  // A valid map (bundle create checks it), with no paths: these tests are about packing and signing.
  predicate: {
    schemaVersion: '1.0.0',
    service: 'checkout',
    coverage: { minObservationRate: 0.95, windowSeconds: 1800 },
    expectedPaths: [],
  },
};

export const REPORT = {
  schemaVersion: '1.0.0',
  functionMap: { service: 'checkout', buildId: 'ci-42', digest: `sha256:${'b'.repeat(64)}` },
  window: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T00:30:00.000Z' },
  verdict: 'pass',
  observationRate: 1,
  minObservationRate: 0.95,
  unexpectedSymbolsCount: 0,
};

// SPDX-License-Identifier: Apache-2.0
/**
 * Aggregated counts stay exact while the agent drains them: a python3 child hashes in a tight loop
 * (one EVP_DigestUpdate per `update()`) on one CPU while the session reads `stella_agg` every
 * 20 ms on the other. The sum of the emitted counts must equal bpftrace's count on the same pid
 * (an entry probe), with our probe placed on the emulated `je` after the entry's `test`.
 */
import { createBpf } from '@stella/bpf';
import { bpftraceCounts, bpfUnavailableReason, countsFor, ScriptWorkload, testContext } from '@stella/sdk/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { cryptoProbes } from '../src/index.js';
import { LIBCRYPTO, libcryptoRequest } from './algorithm-support.js';

const SERVICE = 'hashing-svc';

/** ~2 s of update() calls; prints how many it made. */
const HASH_LOOP = `
import hashlib, sys, time
print('ready', flush=True)
sys.stdin.readline()
h = hashlib.sha256()
n = 0
end = time.monotonic() + 2
while time.monotonic() < end:
    for _ in range(1000): h.update(b'x')
    n += 1000
print('done', flush=True)
sys.stdin.readline()
`;

const workloads: ScriptWorkload[] = [];
afterAll(() => {
  for (const w of workloads) if (w.child.exitCode === null) w.child.kill();
});

describe.skipIf(bpfUnavailableReason())('aggregated counts under a concurrent drain', () => {
  it('equal bpftrace on the same pid while a tight loop calls the probed function', async () => {
    const hasher = new ScriptWorkload(HASH_LOOP);
    workloads.push(hasher);
    await hasher.ready();
    const reference = await bpftraceCounts({ update: `uprobe:${LIBCRYPTO}:EVP_DigestUpdate` }, hasher.pid);
    const t = testContext(createBpf(), SERVICE, [hasher.pid], {
      aggregationWindowMs: 20,
      // A hot function: presence mode by default; this test is about exact counts.
      countModes: { 'crypto/EVP_DigestUpdate': 'count' },
    });
    const session = await cryptoProbes().start(t.ctx, [libcryptoRequest(SERVICE, 'EVP_DigestUpdate')]);
    await hasher.go();
    await session.stop();
    const expected = await reference.stop();
    await hasher.exit();

    expect(expected.update).toBeGreaterThan(10_000);
    const windows = t.observations.filter((o) => o.windowStart !== undefined);
    expect(windows.length).toBeGreaterThan(20); // drained many times while the loop ran
    expect(countsFor(t.observations, hasher.pid)).toEqual({ 'crypto/EVP_DigestUpdate': expected.update });
    // Counted exactly past the entry: `test` is single-stepped, the `je` 3 bytes on is emulated.
    const attached = t.statuses.find((s) => s.state === 'attached');
    expect(attached?.detail).toMatch(/^(uprobe_multi|perf-event uprobe) at entry\+3, je, emulated/);
  });
});

// SPDX-License-Identifier: Apache-2.0
/**
 * The digest behind each EVP_DigestInit_ex call, read at the call: Python's hashlib (through
 * libcrypto) makes N SHA-256 and M SHA-512 digests and the observations say exactly N and M, per
 * call and aggregated, equal to bpftrace's count of the same calls by the NID at `*type`. The probe
 * sits past the entry (`mov %rdx,%rcx; xor %edx,%edx` skipped: they leave %rsi, the EVP_MD, intact).
 */

import { fileURLToPath } from 'node:url';
import { createBpf } from '@stella/bpf';
import { startUprobeCallSession } from '@stella/sdk';
import { bpfUnavailableReason, ScriptWorkload, testContext } from '@stella/sdk/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { cryptoProbes } from '../src/index.js';
import { bpftraceByPointedInt, callsByAlgorithm, LIBCRYPTO, libcryptoRequest } from './algorithm-support.js';

const SERVICE = 'hashing-svc';
const CRYPTO_OBJECT = fileURLToPath(new URL('../bpf/tls_calls.bpf.o', import.meta.url));
const N = 300;
const M = 200;
const NID_SHA256 = 672;
const NID_SHA512 = 674;

/** Imports hashlib first (its import makes one digest of each kind), then digests on `go`. */
const DIGESTS = `
import hashlib, sys
print('ready', flush=True)
sys.stdin.readline()
for _ in range(${N}): hashlib.sha256(b'x').digest()
for _ in range(${M}): hashlib.sha512(b'y').digest()
print('done', flush=True)
sys.stdin.readline()
`;

const workloads: ScriptWorkload[] = [];
afterAll(() => {
  for (const w of workloads) if (w.child.exitCode === null) w.child.kill();
});

describe.skipIf(bpfUnavailableReason())('algorithms read at the call: hashlib digests', () => {
  it.each([
    ['without aggregation (hot: counted in the kernel, no record per call)', 0],
    ['aggregated', 50],
  ])('%s: N SHA-256 and M SHA-512 digests are exactly N and M, as bpftrace counts them', async (_, windowMs) => {
    const workload = new ScriptWorkload(DIGESTS);
    workloads.push(workload);
    await workload.ready();
    const reference = await bpftraceByPointedInt(
      { init: { probe: `uprobe:${LIBCRYPTO}:EVP_DigestInit_ex`, arg: 1 } },
      workload.pid,
    );
    const t = testContext(createBpf(), SERVICE, [workload.pid], { aggregationWindowMs: windowMs });
    const session = await cryptoProbes().start(t.ctx, [libcryptoRequest(SERVICE, 'EVP_DigestInit_ex')]);
    await workload.go();
    await session.stop();
    const expected = await reference.stop();
    await workload.exit();

    expect(expected.init?.[NID_SHA256]).toBe(N);
    expect(expected.init?.[NID_SHA512]).toBe(M);
    expect(callsByAlgorithm(t.observations, workload.pid)).toEqual({ 'SHA-256': N, 'SHA-512': M });
    const attached = t.statuses.find((s) => s.state === 'attached');
    expect(attached?.detail).toMatch(/at entry\+5, jmp, emulated/);
  });
});

describe.skipIf(bpfUnavailableReason())('placement keeps a probe that reads an argument where the argument is', () => {
  it('stays at the entry when the skipped instructions write the register read', async () => {
    const workload = new ScriptWorkload(DIGESTS);
    workloads.push(workload);
    await workload.ready();
    const t = testContext(createBpf(), SERVICE, [workload.pid]);
    // EVP_DigestInit_ex begins `mov %rdx,%rcx; xor %edx,%edx; jmp`: moving to the `jmp` would read
    // %rcx (argument 4) after the `mov` wrote it. Argument 4 here is a pointer: read through it.
    const session = await startUprobeCallSession(t.ctx, [libcryptoRequest(SERVICE, 'EVP_DigestInit_ex')], {
      plugin: 'algorithm-placement',
      objectPath: CRYPTO_OBJECT,
      algorithms: [{ read: { argument: 4, field: 0 }, nameOf: (v) => `value ${v}` }],
    });
    await workload.go();
    await session.stop();
    await workload.exit();

    const attached = t.statuses.find((s) => s.state === 'attached');
    expect(attached?.detail).toMatch(
      / at entry: entry\+5, jmp, emulated skips a write of %rcx, the argument read(;|$)/,
    );
    // hashlib passes no ENGINE: argument 4 is NULL at the entry, so every call says unknown.
    expect(callsByAlgorithm(t.observations, workload.pid)).toEqual({ unknown: N + M });
  });
});

// SPDX-License-Identifier: Apache-2.0
/**
 * Algorithms read at the call in real workloads, per probed function equal to bpftrace's count of
 * the same calls by the NID behind the same argument (a NULL EVP_CIPHER, the "keep the context's
 * cipher" calls, is `unknown` on both sides):
 * - `openssl enc -aes-256-cbc` and `-chacha20` show AES-256-CBC and ChaCha20;
 * - a TLS 1.3 handshake (Python's ssl, client and server in one process over memory BIOs, an ECDSA
 *   P-256 certificate) shows its key exchange (X25519, at EVP_PKEY_derive_set_peer), its signature
 *   (ECDSA, at EVP_DigestSignInit_ex and EVP_DigestVerifyInit_ex), its record cipher and its hash.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBpf } from '@stella/bpf';
import type { Observation } from '@stella/sdk';
import { bpfUnavailableReason, ScriptWorkload, testContext, writeSelfSignedCertificate } from '@stella/sdk/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  OPENSSL_CIPHERS,
  OPENSSL_DIGESTS,
  OPENSSL_KEY_AGREEMENT_KEYS,
  OPENSSL_SIGNATURE_KEYS,
} from '../src/algorithms.js';
import { cryptoProbes } from '../src/index.js';
import { bpftraceByPointedInt, callsByAlgorithm, LIBCRYPTO, libcryptoRequest } from './algorithm-support.js';

const SERVICE = 'crypto-svc';
const dir = mkdtempSync(join(tmpdir(), 'stella-algorithms-'));
const children: { kill(): void; exitCode: number | null }[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill();
});

/** bpftrace's NID counts of one function, named as the probes name them. */
function named(counts: Record<number, number> | undefined, table: Readonly<Record<number, string>>) {
  const out: Record<string, number> = {};
  for (const [nid, n] of Object.entries(counts ?? {})) {
    const name = Number(nid) === -1 || Number(nid) === 0 ? 'unknown' : (table[Number(nid)] ?? `openssl-nid:${nid}`);
    out[name] = (out[name] ?? 0) + n;
  }
  return out;
}

const CIPHER_INITS = ['EVP_CipherInit_ex', 'EVP_EncryptInit_ex', 'EVP_DecryptInit_ex', 'EVP_CipherInit_ex2'];

/** A shell that waits for a line, then becomes `command` (same pid: the probes' target from the start). */
function waitingCommand(command: string) {
  const child = spawn('sh', ['-c', `read go; exec ${command}`], { stdio: ['pipe', 'ignore', 'inherit'] });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const run = () => {
    child.stdin.end('go\n');
    return exited;
  };
  return { pid: child.pid!, run };
}

async function observeEnc(cipherFlag: string) {
  const input = join(dir, 'plain.txt');
  writeFileSync(input, 'attack at dawn\n'.repeat(1000));
  const enc = waitingCommand(
    `openssl enc ${cipherFlag} -pbkdf2 -pass pass:stella -in ${input} -out ${join(dir, `out${cipherFlag}`)}`,
  );
  const reference = await bpftraceByPointedInt(
    Object.fromEntries(
      CIPHER_INITS.map((f) => [f, { probe: `uprobe:${LIBCRYPTO}:${f}`, arg: 1, whenNullFirstMemberOf: 0 }]),
    ),
    enc.pid,
  );
  const t = testContext(createBpf(), SERVICE, [enc.pid]);
  // Global: `openssl` maps libcrypto only after the exec, and the kernel follows the pid.
  const session = await cryptoProbes({ attachScope: 'global' }).start(
    t.ctx,
    CIPHER_INITS.map((f) => libcryptoRequest(SERVICE, f)),
  );
  expect(await enc.run()).toBe(0);
  await session.stop();
  const expected = await reference.stop();
  return { observations: t.observations, pid: enc.pid, expected };
}

function expectSameCalls(
  observations: Observation[],
  pid: number,
  expected: Record<string, Record<number, number>>,
  tables: Record<string, Readonly<Record<number, string>>>,
) {
  for (const [fn, table] of Object.entries(tables)) {
    expect(callsByAlgorithm(observations, pid, `crypto/${fn}`), fn).toEqual(named(expected[fn], table));
  }
}

describe.skipIf(bpfUnavailableReason())('algorithms read at the call: openssl enc and a TLS 1.3 handshake', () => {
  it.each([
    ['-aes-256-cbc', 'AES-256-CBC'],
    ['-chacha20', 'ChaCha20'],
  ])('openssl enc %s shows %s', async (flag, algorithm) => {
    const { observations, pid, expected } = await observeEnc(flag);
    const calls = callsByAlgorithm(observations, pid);
    console.info(
      `openssl enc ${flag}: calls by algorithm ${JSON.stringify(calls)}; bpftrace ${JSON.stringify(expected)}`,
    );
    expect(calls[algorithm]).toBeGreaterThan(0);
    expectSameCalls(observations, pid, expected, Object.fromEntries(CIPHER_INITS.map((f) => [f, OPENSSL_CIPHERS])));
  });

  it('a TLS 1.3 handshake shows X25519, ECDSA, its record cipher and its hash', async () => {
    const { cert, key } = writeSelfSignedCertificate(dir);
    const rounds = 5;
    const handshakes = new ScriptWorkload(TLS_HANDSHAKES, [cert, key, String(rounds)]);
    children.push(handshakes.child);
    await handshakes.ready();
    const probes = {
      EVP_DigestSignInit_ex: { arg: 5, table: OPENSSL_SIGNATURE_KEYS },
      EVP_DigestVerifyInit_ex: { arg: 5, table: OPENSSL_SIGNATURE_KEYS },
      EVP_PKEY_derive_set_peer: { arg: 1, table: OPENSSL_KEY_AGREEMENT_KEYS },
      EVP_CipherInit_ex: { arg: 1, table: OPENSSL_CIPHERS, whenNullFirstMemberOf: 0 },
      EVP_DigestInit_ex: { arg: 1, table: OPENSSL_DIGESTS },
    };
    const reference = await bpftraceByPointedInt(
      Object.fromEntries(
        Object.entries(probes).map(([f, p]) => [
          f,
          {
            probe: `uprobe:${LIBCRYPTO}:${f}`,
            arg: p.arg,
            whenNullFirstMemberOf: 'whenNullFirstMemberOf' in p ? p.whenNullFirstMemberOf : undefined,
          },
        ]),
      ),
      handshakes.pid,
    );
    const t = testContext(createBpf(), SERVICE, [handshakes.pid]);
    const session = await cryptoProbes().start(
      t.ctx,
      Object.keys(probes).map((f) => libcryptoRequest(SERVICE, f)),
    );
    await handshakes.go();
    await session.stop();
    const expected = await reference.stop();
    await handshakes.exit();

    const pid = handshakes.pid;
    console.info(
      `${rounds} TLS 1.3 handshakes: calls by algorithm ${JSON.stringify(callsByAlgorithm(t.observations, pid))}`,
    );
    expectSameCalls(
      t.observations,
      pid,
      expected,
      Object.fromEntries(Object.entries(probes).map(([f, p]) => [f, p.table])),
    );
    // Both sides derive with the peer's X25519 key share; the server signs, the client verifies.
    expect(callsByAlgorithm(t.observations, pid, 'crypto/EVP_PKEY_derive_set_peer')).toEqual({ X25519: 2 * rounds });
    expect(callsByAlgorithm(t.observations, pid, 'crypto/EVP_DigestVerifyInit_ex').ECDSA).toBeGreaterThanOrEqual(
      rounds,
    );
    expect(callsByAlgorithm(t.observations, pid, 'crypto/EVP_DigestSignInit_ex').ECDSA).toBeGreaterThanOrEqual(rounds);
    // TLS_AES_256_GCM_SHA384, OpenSSL's first TLS 1.3 suite: its record cipher and transcript hash.
    expect(callsByAlgorithm(t.observations, pid, 'crypto/EVP_CipherInit_ex')['AES-256-GCM']).toBeGreaterThan(0);
    expect(callsByAlgorithm(t.observations, pid, 'crypto/EVP_DigestInit_ex')['SHA-384']).toBeGreaterThan(0);
  });
});

/** `rounds` TLS 1.3 handshakes between a client and a server in this process, over memory BIOs. */
const TLS_HANDSHAKES = `
import ssl, sys
cert, key, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); server_ctx.load_cert_chain(cert, key)
client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); client_ctx.load_verify_locations(cert)
for ctx in (server_ctx, client_ctx): ctx.minimum_version = ssl.TLSVersion.TLSv1_3
def handshake():
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname='localhost')
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = [False, False]
    while not all(done):
        for i, (end, out, peer_in) in enumerate(((client, c_out, s_in), (server, s_out, c_in))):
            if not done[i]:
                try:
                    end.do_handshake(); done[i] = True
                except ssl.SSLWantReadError:
                    pass
            data = out.read()
            if data: peer_in.write(data)
    assert client.version() == 'TLSv1.3', client.version()
print('ready', flush=True)
sys.stdin.readline()
for _ in range(rounds): handshake()
print('done', flush=True)
sys.stdin.readline()
`;

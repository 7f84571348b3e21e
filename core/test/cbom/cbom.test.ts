// SPDX-License-Identifier: Apache-2.0
/**
 * `stella cbom`'s document and summary from NDJSON records as the agent writes them: one
 * cryptographic-asset per algorithm with its CycloneDX properties and counts, libraries providing
 * them, `unknown` counted but not a component, the window and the map's service applied, lines that
 * are not records skipped and counted; the document valid against the CycloneDX 1.6 schema shipped
 * by @cyclonedx/cyclonedx-library.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { algorithmProfile, buildCbom, cbomSummary, tallyAlgorithms } from '../../src/cbom/index.js';

const LIBCRYPTO = '/usr/lib/x86_64-linux-gnu/libcrypto.so.3';
const PURL = 'pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64';
const TOOL = { name: 'stella', version: '0.1.0' };
type Json = Record<string, unknown>;

function record(
  service: string,
  symbol: string,
  algorithm: string | undefined,
  hitCount: number,
  at: string,
  node = 'n1',
) {
  return JSON.stringify({
    observedAt: at,
    service,
    function: `crypto/${symbol}`,
    symbol,
    purl: PURL,
    binaryPath: LIBCRYPTO,
    nodeHash: `sha256:${symbol}`,
    probeType: 'uprobe',
    pid: 7,
    comm: 'svc',
    nodeName: node,
    ...(algorithm !== undefined ? { algorithm } : {}),
    hitCount,
  });
}

let dir: string;
let files: string[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stella-cbom-'));
  const a = [
    record('web', 'EVP_DigestInit_ex', 'SHA-256', 300, '2026-03-01T10:00:00.000Z'),
    record('web', 'EVP_DigestInit_ex', 'SHA-512', 200, '2026-03-01T10:00:01.000Z'),
    record('web', 'EVP_DigestSignInit_ex', 'ECDSA', 4, '2026-03-01T10:00:02.000Z'),
    record('web', 'EVP_PKEY_derive_set_peer', 'X25519', 2, '2026-03-01T10:00:02.000Z'),
    record('web', 'EVP_PKEY_keygen', 'unknown', 2, '2026-03-01T10:00:02.000Z'),
    record('web', 'EVP_DigestUpdate', undefined, 900, '2026-03-01T10:00:02.000Z'),
    '{"observedAt":"2026-03-01T10:00:03.000Z","algorithm":"AES-256-GCM"}',
    'not json',
  ];
  const b = [
    record('batch', 'EVP_CipherInit_ex', 'AES-256-GCM', 10, '2026-03-01T10:30:00.000Z', 'n2'),
    record('batch', 'EVP_DigestInit_ex', 'SHA-256', 5, '2026-03-01T12:00:00.000Z', 'n2'),
  ];
  files = [join(dir, 'a.ndjson'), join(dir, 'b.ndjson.gz')];
  await writeFile(files[0]!, `${a.join('\n')}\n`);
  await writeFile(files[1]!, gzipSync(`${b.join('\n')}\n`));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const component = (bom: Json, name: string) =>
  (bom.components as Json[]).find((c) => c.name === name && c.type === 'cryptographic-asset');
const values = (c: Json | undefined, name: string) =>
  ((c?.properties as { name: string; value: string }[]) ?? []).filter((p) => p.name === name).map((p) => p.value);

describe('stella cbom document', () => {
  it('has one cryptographic-asset per algorithm with its calls, and is valid CycloneDX 1.6', async () => {
    const tally = await tallyAlgorithms(files);
    expect(tally.read).toBe(10);
    // `not json` names no algorithm: skipped unparsed, like EVP_DigestUpdate's record.
    expect(tally.malformed).toBe(1);
    expect(tally.withoutAlgorithm).toBe(2);
    const bom = buildCbom(tally, { tool: TOOL });
    const errors = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(JSON.stringify(bom));
    expect(errors).toBeNull();

    const names = (bom.components as Json[]).filter((c) => c.type === 'cryptographic-asset').map((c) => c.name);
    expect(names).toEqual(['SHA-256', 'SHA-512', 'AES-256-GCM', 'ECDSA', 'X25519']);
    const sha256 = component(bom, 'SHA-256');
    expect(values(sha256, 'stella:calls')).toEqual(['305']);
    expect(values(sha256, 'stella:service')).toEqual(['batch', 'web']);
    expect(values(sha256, 'stella:use')).toEqual([
      `service=batch library=${LIBCRYPTO} function=crypto/EVP_DigestInit_ex calls=5 nodes=n2`,
      `service=web library=${LIBCRYPTO} function=crypto/EVP_DigestInit_ex calls=300 nodes=n1`,
    ]);
    expect(sha256?.cryptoProperties).toEqual({
      assetType: 'algorithm',
      algorithmProperties: {
        primitive: 'hash',
        parameterSetIdentifier: '256',
        executionEnvironment: 'software-plain-ram',
        cryptoFunctions: ['digest'],
        classicalSecurityLevel: 128,
        nistQuantumSecurityLevel: 2,
      },
    });
    expect(component(bom, 'AES-256-GCM')?.cryptoProperties).toMatchObject({
      algorithmProperties: { primitive: 'ae', mode: 'gcm', parameterSetIdentifier: '256', nistQuantumSecurityLevel: 5 },
    });
    expect(values(component(bom, 'X25519'), 'stella:quantumVulnerable')).toEqual(['true']);
    expect(component(bom, 'unknown')).toBeUndefined();
    const metadata = (bom.metadata as Json).properties as { name: string; value: string }[];
    expect(metadata).toContainEqual({ name: 'stella:calls.unknownAlgorithm', value: '2' });
    // The library provides every algorithm it ran.
    expect(bom.dependencies).toEqual([
      {
        ref: PURL,
        provides: ['AES-256-GCM', 'ECDSA', 'SHA-256', 'SHA-512', 'X25519'].map((n) => `crypto/algorithm/${n}`),
      },
    ]);
  });

  it('summarises the quantum-vulnerable algorithms first, with where they ran', async () => {
    const summary = cbomSummary(await tallyAlgorithms(files));
    expect(summary).toBe(
      [
        'CBOM: 5 algorithm(s) in 521 call(s) of 2 service(s)',
        'Quantum-vulnerable algorithms (broken by Shor; plan their migration):',
        '  ECDSA (ECDSA): 4 call(s)',
        `    service web: 4 in ${LIBCRYPTO} (EVP_DigestSignInit_ex)`,
        '  X25519 (ECDH): 2 call(s)',
        `    service web: 2 in ${LIBCRYPTO} (EVP_PKEY_derive_set_peer)`,
        'Other algorithms: SHA-256 305, SHA-512 200, AES-256-GCM 10',
        "Algorithm not readable at the call: 2 call(s) of EVP_PKEY_keygen (recorded as unknown, not in the CBOM's components)",
        '',
      ].join('\n'),
    );
  });

  it('keeps the window and the service it is given', async () => {
    const window = { from: new Date('2026-03-01T10:00:00.000Z'), to: new Date('2026-03-01T11:00:00.000Z') };
    const tally = await tallyAlgorithms(files, { window, service: 'batch' });
    expect([...tally.algorithms.keys()]).toEqual(['AES-256-GCM']);
    expect(tally.outside).toBe(6); // web's five with an algorithm, batch's SHA-256 after the window
  });

  it('knows the properties of every name the probes record', () => {
    expect(algorithmProfile('SHA-512/256')).toMatchObject({ primitive: 'hash', classicalSecurityLevel: 128 });
    expect(algorithmProfile('AES-128-CBC')).toMatchObject({
      primitive: 'block-cipher',
      mode: 'cbc',
      nistQuantumSecurityLevel: 1,
    });
    expect(algorithmProfile('ChaCha20')).toMatchObject({ primitive: 'stream-cipher', nistQuantumSecurityLevel: 5 });
    expect(algorithmProfile('HMAC-SHA-256')).toMatchObject({ primitive: 'mac', parameterSetIdentifier: '256' });
    expect(algorithmProfile('RSA').quantumVulnerable).toBe('RSA');
    expect(algorithmProfile('FFDH').quantumVulnerable).toBe('FFDH');
    expect(algorithmProfile('openssl-nid:4242')).toEqual({ primitive: 'unknown', cryptoFunctions: [] });
  });
});

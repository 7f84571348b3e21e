// SPDX-License-Identifier: Apache-2.0
/**
 * The air-gap sequence of docs/ATTESTATION.md, run as a user would: the built `stella` binary
 * as a subprocess, every step inside a fresh network namespace with no interface up
 * (`unshare -n`), so a network call cannot succeed, only fail the step.
 *
 *   connected side: keygen, function-map generate, bundle create --sign-key
 *   carry:          copy the .tgz and the public key to another directory
 *   air-gapped:     bundle verify --key, function-map verify --bundle --offline,
 *                   attest sign (the report), attest verify
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { c as createTar, x as extractTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const STELLA = join(ROOT, 'core/bin/stella.js');
const SBOM = join(ROOT, 'test/e2e/airgap/fixtures/app.cdx.json');

let work: string;
const at = (...parts: string[]) => join(work, ...parts);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `stella …` with no network at all; cwd is the given side of the air gap. */
function stella(cwd: string, ...args: string[]): Run {
  const result = spawnSync('unshare', ['-n', process.execPath, STELLA, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TMPDIR: at('tmp') },
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  // The CLI under test is the built one (core/bin/stella.js → core/dist), brought up to date by
  // test/support/global-setup.ts.
  work = mkdtempSync(join(tmpdir(), 'stella-airgap-'));
  for (const d of ['connected', 'connected/observations/node-1', 'airgapped', 'tmp'])
    mkdirSync(at(d), { recursive: true });
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('air-gap sequence', () => {
  it('runs in a namespace where the network is unreachable', () => {
    const probe = spawnSync(
      'unshare',
      [
        '-n',
        process.execPath,
        '-e',
        "require('node:net').connect(443, '1.1.1.1').on('error', (e) => { console.log(e.code); process.exit(0); }).on('connect', () => process.exit(3))",
      ],
      { encoding: 'utf8' },
    );
    expect(probe.error, 'unshare -n is needed (run as root or with CAP_SYS_ADMIN)').toBeUndefined();
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout.trim()).toBe('ENETUNREACH');
  });

  it('generate → bundle → carry → verify offline → sign the report → verify the signature', () => {
    const connected = at('connected');
    const airgapped = at('airgapped');

    // 1. Bundle generation (connected side).
    const keygen = stella(connected, 'attest', 'keygen', '--type', 'ecdsa-p256', '--name', 'ci');
    expect(keygen.status, keygen.stderr).toBe(0);
    // biome-ignore format: one flag a line reads better
    const generate = stella(connected, 'function-map', 'generate', '--sbom', SBOM, '--service', 'checkout', '--output', 'fm.json');
    expect(generate.status, generate.stderr).toBe(0);
    const map = JSON.parse(readFileSync(at('connected/fm.json'), 'utf8'));
    const calls = map.predicate.expectedPaths.flatMap(
      (path: { expectedCalls: Record<string, unknown>[] }) => path.expectedCalls,
    );
    expect(calls.length).toBeGreaterThan(0);
    // The agent's export: one NDJSON record per expected call, five minutes ago.
    const observedAt = new Date(Date.now() - 5 * 60_000).toISOString();
    const records = calls.map((call: Record<string, unknown>, i: number) =>
      JSON.stringify({
        observedAt,
        service: 'checkout',
        function: call.function,
        symbol: call.symbol,
        purl: call.purl,
        binaryPath: call.binaryPath,
        nodeHash: call.nodeHash,
        probeType: 'uprobe',
        pid: 4242,
        comm: 'checkout',
        nodeName: 'node-1',
        hitCount: 1 + i,
      }),
    );
    writeFileSync(at('connected/observations/node-1/observations.ndjson'), `${records.join('\n')}\n`);
    // biome-ignore format: one flag a line reads better
    const bundle = stella(connected, 'bundle', 'create', '--function-map', 'fm.json', '--observations', 'observations', '--sign-key', 'ci.key', '--output', 'linkage-bundle.tgz');
    expect(bundle.status, bundle.stderr).toBe(0);

    // 2. Transfer: only the bundle and the public key cross.
    copyFileSync(at('connected/linkage-bundle.tgz'), at('airgapped/linkage-bundle.tgz'));
    copyFileSync(at('connected/ci.pub'), at('airgapped/ci.pub'));

    // 3. Offline verification (air-gapped side).
    const checked = stella(airgapped, 'bundle', 'verify', '--bundle', 'linkage-bundle.tgz', '--key', 'ci.pub');
    expect(checked.status, checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/^verified linkage-bundle\.tgz: 2 files match the manifest, signature verified/);
    // biome-ignore format: one flag a line reads better
    const verify = stella(airgapped, 'function-map', 'verify', '--bundle', 'linkage-bundle.tgz', '--key', 'ci.pub', '--offline', '--from', '1h', '--format', 'json', '--output', 'report.json');
    expect(verify.status, `${verify.stdout}${verify.stderr}`).toBe(0);
    const report = JSON.parse(readFileSync(at('airgapped/report.json'), 'utf8'));
    expect(report.verdict).toBe('pass');
    expect(report.observationRate).toBe(1);
    expect(report.functionMap.service).toBe('checkout');

    // 4. Result export: sign the report, verify the signature.
    const auditor = stella(airgapped, 'attest', 'keygen', '--name', 'auditor');
    expect(auditor.status, auditor.stderr).toBe(0);
    // biome-ignore format: one flag a line reads better
    const signed = stella(airgapped, 'attest', 'sign', '--input', 'report.json', '--output', 'report.dsse.json', '--key', 'auditor.key');
    expect(signed.status, signed.stderr).toBe(0);
    expect(signed.stdout).toContain('signed report.json as application/vnd.in-toto+json');
    const valid = stella(airgapped, 'attest', 'verify', '--input', 'report.dsse.json', '--key', 'auditor.pub');
    expect(valid.status, valid.stderr).toBe(0);
    expect(valid.stdout).toContain('predicate type https://stella.ops/predicates/linkage-verification/v1');

    // An altered report no longer verifies; the wrong key is refused.
    const envelope = JSON.parse(readFileSync(at('airgapped/report.dsse.json'), 'utf8'));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    statement.predicate.verdict = 'fail';
    envelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    writeFileSync(at('airgapped/altered.dsse.json'), JSON.stringify(envelope));
    const altered = stella(airgapped, 'attest', 'verify', '--input', 'altered.dsse.json', '--key', 'auditor.pub');
    expect(altered.status).toBe(1);
    expect(altered.stderr).toContain('stella: signature verification failed for altered.dsse.json:');
    const wrongKey = stella(airgapped, 'attest', 'verify', '--input', 'report.dsse.json', '--key', 'ci.pub');
    expect(wrongKey.status).toBe(1);
  }, 180_000); // a dozen CLI start-ups; slow when the suite shares 2 CPUs

  it('function-map verify refuses a bundle whose observations were altered in transit', async () => {
    const unpacked = at('tampered');
    mkdirSync(unpacked, { recursive: true });
    await extractTar({ file: at('connected/linkage-bundle.tgz'), cwd: unpacked });
    appendFileSync(join(unpacked, 'observations/node-1/observations.ndjson'), '{"forged":true}\n');
    await createTar({ gzip: true, file: at('airgapped/tampered.tgz'), cwd: unpacked, portable: true }, [
      'manifest.json',
      'manifest.dsse.json',
      'function-map.json',
      'observations/node-1/observations.ndjson',
    ]);
    // biome-ignore format: one flag a line reads better
    const result = stella(at('airgapped'), 'function-map', 'verify', '--bundle', 'tampered.tgz', '--offline', '--from', '1h', '--format', 'json');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('stella: bundle tampered.tgz failed integrity verification: 1 problem');
    expect(result.stderr).toContain('  - observations/node-1/observations.ndjson: modified (manifest sha256');
  });
});

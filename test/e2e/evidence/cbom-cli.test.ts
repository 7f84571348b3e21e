// SPDX-License-Identifier: Apache-2.0
/**
 * `stella cbom` as users run it: the built CLI as a subprocess on records as the agent writes them.
 * A good run writes a schema-valid CycloneDX 1.6 CBOM and prints the summary first; bad input is
 * one sentence on stderr, exit 2, and nothing written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../../core/bin/stella.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'stella-cbom-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stella = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, 'cbom', ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const record = (symbol: string, algorithm: string, hitCount: number) =>
  JSON.stringify({
    observedAt: '2026-03-01T10:00:00.000Z',
    service: 'web',
    function: `crypto/${symbol}`,
    symbol,
    purl: 'pkg:deb/debian/libssl3@3.0.15',
    binaryPath: '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
    nodeHash: `sha256:${symbol}`,
    probeType: 'uprobe',
    pid: 1,
    comm: 'web',
    nodeName: 'n1',
    algorithm,
    hitCount,
  });
const observations = join(dir, 'obs.ndjson');
writeFileSync(
  observations,
  `${[record('EVP_DigestInit_ex', 'SHA-256', 300), record('EVP_DigestSignInit_ex', 'RSA', 3)].join('\n')}\n`,
);

describe('stella cbom', () => {
  it('writes a valid CycloneDX 1.6 CBOM and prints the quantum-vulnerable algorithms first', async () => {
    const r = stella('--observations', observations, '--output', 'cbom.cdx.json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').slice(0, 4)).toEqual([
      'CBOM: 2 algorithm(s) in 303 call(s) of 1 service(s)',
      'Quantum-vulnerable algorithms (broken by Shor; plan their migration):',
      '  RSA (RSA): 3 call(s)',
      '    service web: 3 in /usr/lib/x86_64-linux-gnu/libcrypto.so.3 (EVP_DigestSignInit_ex)',
    ]);
    const text = readFileSync(join(dir, 'cbom.cdx.json'), 'utf8');
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text)).toBeNull();
  });

  it.each([
    [['--observations', 'missing.ndjson'], 'stella: --observations missing.ndjson: no such file or directory\n'],
    [
      ['--observations', observations, '--from', '2026-03-02', '--to', '2026-03-01'],
      'stella: --from 2026-03-02T00:00:00.000Z is not before --to 2026-03-01T00:00:00.000Z: the window is empty\n',
    ],
    [['--observations', observations, '--function-map', 'nope.json'], undefined],
  ])('refuses bad input %j in one sentence, exit 2, nothing written', (args, sentence) => {
    const output = join(dir, 'refused.cdx.json');
    const r = stella(...args, '--output', output);
    expect(r.code).toBe(2);
    if (sentence) expect(r.stderr).toBe(sentence);
    else expect(r.stderr).toMatch(/^stella: [^\n]*nope\.json[^\n]*\n$/);
    expect(existsSync(output)).toBe(false);
  });

  it('refuses to overwrite an input', () => {
    const before = readFileSync(observations, 'utf8');
    const r = stella('--observations', observations, '--output', observations);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `stella: --output ${observations} is also an input (${observations}); write the output elsewhere\n`,
    );
    expect(readFileSync(observations, 'utf8')).toBe(before);
  });
});

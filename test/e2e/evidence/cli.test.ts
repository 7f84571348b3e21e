// SPDX-License-Identifier: Apache-2.0
/**
 * `stella sbom annotate` and `stella function-map learn` as users run them: the built CLI as a
 * subprocess, a map generated from syft's SBOM of a Debian 12 host, and two nodes' agent exports
 * (records in the agent's shape, files named as its exporter names them).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SBOM = join(REPO, 'test/e2e/function-map/fixtures/debian12-syft.cdx.json');
const LIBSSL3 = 'pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64&distro=debian-12';
const FROM = '2026-03-01T10:00:00Z';
const TO = '2026-03-01T11:00:00Z';

let work: string;
const at = (...parts: string[]) => join(work, ...parts);

function stella(...args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO, 'core/bin/stella.js'), ...args], {
    cwd: work,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Call {
  function: string;
  symbol: string;
  purl: string;
  binaryPath: string;
  nodeHash: string;
}
let calls: Map<string, Call>;
const callOf = (fn: string, library: string) => calls.get(`${fn}@${library}`)!;

function line(c: Partial<Call> & { function: string; binaryPath: string }, observedAt: string, node: string, hits = 1) {
  return JSON.stringify({
    observedAt,
    service: 'web',
    function: c.function,
    symbol: c.symbol ?? c.function.split('/')[1],
    ...(c.purl ? { purl: c.purl } : {}),
    binaryPath: c.binaryPath,
    ...(c.nodeHash ? { nodeHash: c.nodeHash } : {}),
    probeType: c.function.startsWith('net/') ? 'tracepoint' : 'uprobe',
    pid: 4242,
    tid: 4242,
    comm: 'curl',
    nodeName: node,
    hitCount: hits,
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'stella-evidence-'));
  const generate = stella(
    'function-map',
    'generate',
    '--sbom',
    SBOM,
    '--service',
    'web',
    '--hot-functions',
    'tls/*',
    '--hot-functions',
    'crypto/*',
    '--output',
    'map.json',
  );
  expect(generate.code, generate.stderr).toBe(0);
  const map = JSON.parse(readFileSync(at('map.json'), 'utf8'));
  calls = new Map();
  for (const p of map.predicate.expectedPaths)
    for (const c of p.expectedCalls) calls.set(`${c.function}@${c.library}`, c);
  // curl's TLS handshakes and digests through libssl3 on two nodes; a connect(2) the map does not declare.
  mkdirSync(at('obs'));
  writeFileSync(
    at('obs/observations-node-a-20260301T100000000Z-0000-11.ndjson'),
    `${[
      line(callOf('tls/SSL_do_handshake', 'libssl.so.3'), '2026-03-01T10:05:00.000Z', 'node-a', 3),
      line(callOf('crypto/EVP_DigestInit_ex', 'libcrypto.so.3'), '2026-03-01T10:05:00.001Z', 'node-a', 12),
      line(callOf('crypto/EVP_PKEY_derive', 'libcrypto.so.3'), '2026-03-01T10:05:00.002Z', 'node-a', 3),
    ].join('\n')}\n`,
  );
  writeFileSync(
    at('obs/observations-node-b-20260301T100000000Z-0000-12.ndjson'),
    `${[
      line(callOf('tls/SSL_do_handshake', 'libssl.so.3'), '2026-03-01T10:40:00.000Z', 'node-b', 2),
      line(
        { function: 'net/connect', binaryPath: '/usr/lib/x86_64-linux-gnu/libc.so.6' },
        '2026-03-01T10:40:00.000Z',
        'node-b',
        2,
      ),
      line(callOf('tls/SSL_do_handshake', 'libssl.so.3'), '2026-03-01T09:40:00.000Z', 'node-b', 50), // before the window
    ].join('\n')}\n`,
  );
}, 120_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const property = (c: { properties?: { name: string; value: string }[] }, name: string) =>
  c.properties?.find((p) => p.name === name)?.value;

describe('stella sbom annotate', () => {
  it('references the signed report by its DSSE envelope digest and marks exactly libssl3 observed', async () => {
    const verify = stella(
      'function-map',
      'verify',
      '--function-map',
      'map.json',
      '--offline',
      '--observations',
      'obs',
      '--from',
      FROM,
      '--to',
      TO,
      '--output',
      'report.json',
    );
    expect(verify.code).toBe(1); // a generated map over a few calls fails: that is what learn is for
    expect(stella('attest', 'keygen', '--name', 'auditor').code).toBe(0);
    const sign = stella(
      'attest',
      'sign',
      '--input',
      'report.json',
      '--output',
      'report.dsse.json',
      '--key',
      'auditor.key',
    );
    expect(sign.code, sign.stderr).toBe(0);

    const r = stella(
      'sbom',
      'annotate',
      '--sbom',
      SBOM,
      '--function-map',
      'map.json',
      '--observations',
      'obs',
      '--report',
      'report.dsse.json',
      '--key',
      'auditor.pub',
      '--report-url',
      'https://ci.example/web/report.dsse.json',
      '--output',
      'out/web.cdx.json',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'stella: wrote out/web.cdx.json: 1 of 5 mapped component(s) observed in 2026-03-01T10:00:00.000Z/2026-03-01T11:00:00.000Z (6 record(s) read from 2 file(s), 2 node(s))',
    );
    const text = readFileSync(at('out/web.cdx.json'), 'utf8');
    expect(await new Validation.JsonValidator(Spec.Version.v1dot6).validate(text)).toBeNull();
    const bom = JSON.parse(text);
    const reference = bom.externalReferences.find((e: { type: string }) => e.type === 'runtime-analysis-report');
    expect(reference.url).toBe('https://ci.example/web/report.dsse.json');
    expect(reference.hashes).toEqual([{ alg: 'SHA-256', content: sha256(at('report.dsse.json')) }]);
    expect(reference.comment).toMatch(
      /DSSE envelope \(application\/vnd\.in-toto\+json, signature verified with key [0-9a-f]{64}\)/,
    );
    expect(reference.comment).toContain('verdict fail');
    const annotated = bom.components.filter((c: object) => property(c, 'stella:runtime:observed') !== undefined);
    expect(
      annotated
        .filter((c: object) => property(c, 'stella:runtime:observed') === 'true')
        .map((c: { purl: string }) => c.purl),
    ).toEqual([LIBSSL3]);
    const libssl3 = annotated.find((c: { purl: string }) => c.purl === LIBSSL3);
    expect(property(libssl3, 'stella:runtime:hitCount')).toBe('20');
    expect(property(libssl3, 'stella:runtime:nodeCount')).toBe('2');
    expect(libssl3.evidence.occurrences.map((o: { symbol: string }) => o.symbol)).toEqual([
      'EVP_DigestInit_ex',
      'EVP_PKEY_derive',
      'SSL_do_handshake',
    ]);
    // The input's untouched components are byte-for-byte what the generator wrote.
    const input = JSON.parse(readFileSync(SBOM, 'utf8'));
    expect(bom.components.length).toBe(input.components.length);
    expect(
      JSON.stringify(bom.components.filter((c: object) => property(c, 'stella:runtime:observed') === undefined)),
    ).toBe(
      JSON.stringify(
        input.components.filter((c: { purl?: string }) => !annotated.some((a: { purl: string }) => a.purl === c.purl)),
      ),
    );
  });

  it('takes the window, map, observations and report from a bundle', () => {
    mkdirSync(at('bundle-obs'));
    for (const f of readdirSync(at('obs'))) writeFileSync(at('bundle-obs', f), readFileSync(at('obs', f)));
    const bundle = stella(
      'bundle',
      'create',
      '--function-map',
      'map.json',
      '--observations',
      'bundle-obs',
      '--report',
      'report.json',
      '--output',
      'linkage.tgz',
    );
    expect(bundle.code, bundle.stderr).toBe(0);
    const r = stella('sbom', 'annotate', '--sbom', SBOM, '--bundle', 'linkage.tgz', '--output', 'bundle.cdx.json');
    expect(r.code, r.stderr).toBe(0);
    const bom = JSON.parse(readFileSync(at('bundle.cdx.json'), 'utf8'));
    expect(bom.properties).toContainEqual({
      name: 'stella:runtime:window',
      value: '2026-03-01T10:00:00.000Z/2026-03-01T11:00:00.000Z',
    });
    const reference = bom.externalReferences.find((e: { type: string }) => e.type === 'runtime-analysis-report');
    expect(reference.hashes[0].content).toBe(sha256(at('report.json')));
  });

  it('refuses bad input in one sentence naming the file or field, exit 2, nothing written', () => {
    writeFileSync(at('broken.cdx.json'), '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": {}}');
    const cases: [string[], RegExp][] = [
      [['--sbom', 'missing.cdx.json'], /^stella: cannot read SBOM missing\.cdx\.json: no such file\n$/],
      [['--sbom', 'broken.cdx.json'], /^stella: SBOM broken\.cdx\.json: field "components" must be an array\n$/],
      [['--sbom', 'map.json'], /^stella: SBOM map\.json: "bomFormat" is undefined; expected "CycloneDX"\n$/],
      [
        ['--sbom', SBOM, '--report', 'map.json'],
        /^stella: report map\.json: fields "verdict" and "observationRate" are missing/,
      ],
      [['--sbom', SBOM, '--from', 'yesterday'], /^stella: --from "yesterday"/],
    ];
    for (const [flags, message] of cases) {
      const r = stella(
        'sbom',
        'annotate',
        '--function-map',
        'map.json',
        '--observations',
        'obs',
        ...flags,
        '--output',
        'bad.cdx.json',
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    }
    // A report made against another map.
    const other = JSON.parse(readFileSync(at('report.json'), 'utf8'));
    other.functionMap.digest = `sha256:${'0'.repeat(64)}`;
    writeFileSync(at('other-report.json'), JSON.stringify(other));
    const r = stella(
      'sbom',
      'annotate',
      '--sbom',
      SBOM,
      '--function-map',
      'map.json',
      '--observations',
      'obs',
      '--report',
      'other-report.json',
      '--output',
      'bad.cdx.json',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^stella: report other-report\.json: field "functionMap\.digest" is sha256:0{64}, but the function map map\.json has digest sha256:[0-9a-f]{64}: the report was made against another map\n$/,
    );
    expect(readdirSync(work).filter((f) => f.includes('bad.cdx.json'))).toEqual([]);
  });

  it('--help names every flag', () => {
    const r = stella('sbom', 'annotate', '--help');
    expect(r.code).toBe(0);
    for (const flag of [
      '--sbom',
      '--function-map',
      '--observations',
      '--from',
      '--to',
      '--bundle',
      '--key',
      '--report',
      '--report-url',
      '--output',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });
});

describe('stella function-map learn', () => {
  it('learns a map under which the same observations verify pass, and says how it was made', () => {
    const r = stella(
      'function-map',
      'learn',
      '--function-map',
      'map.json',
      '--observations',
      'obs',
      '--from',
      FROM,
      '--to',
      TO,
      '--output',
      'learned.json',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'stella: learned from 5 record(s) of web in 2026-03-01T10:00:00.000Z/2026-03-01T11:00:00.000Z (2 file(s)):',
    );
    expect(r.stderr).toContain('  = tls-handshake:libssl.so.3: stays required, observed (5 hits)');
    expect(r.stderr).toContain('  ~ crypto-cipher:libcrypto.so.3: required → optional, never observed (0 hits)');
    expect(r.stderr).toContain(
      '  ? net/connect in /usr/lib/x86_64-linux-gnu/libc.so.6: observed but undeclared (2 hits), not added',
    );
    expect(r.stderr).toContain('required paths 22 → 3: 3 observed and kept');
    const learned = JSON.parse(readFileSync(at('learned.json'), 'utf8'));
    const files = readdirSync(at('obs')).sort();
    const digest = createHash('sha256');
    for (const f of files) digest.update(readFileSync(at('obs', f)));
    expect(learned.predicate.generatedFrom.learning).toEqual({
      from: '2026-03-01T10:00:00.000Z',
      to: '2026-03-01T11:00:00.000Z',
      observationsDigest: `sha256:${digest.digest('hex')}`,
      observationsInWindow: 5,
      baseMapDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(learned.predicate.generatedFrom.sbomRef).toBe(SBOM);

    const verify = stella(
      'function-map',
      'verify',
      '--function-map',
      'learned.json',
      '--offline',
      '--observations',
      'obs',
      '--from',
      FROM,
      '--to',
      TO,
      '--format',
      'json',
    );
    expect(verify.code, verify.stderr).toBe(0);
    const report = JSON.parse(verify.stdout);
    expect(report.verdict).toBe('pass');
    expect(report.observationRate).toBe(1);
    expect(report.unexpectedSymbolsCount).toBe(1);
    // A learned map is signed like any map.
    expect(
      stella('attest', 'sign', '--input', 'learned.json', '--output', 'learned.dsse.json', '--key', 'auditor.key').code,
    ).toBe(0);
  });

  it('--accept-unexpected and --drop-unobserved', () => {
    const r = stella(
      'function-map',
      'learn',
      '--function-map',
      'map.json',
      '--observations',
      'obs',
      '--from',
      FROM,
      '--to',
      TO,
      '--accept-unexpected',
      '--drop-unobserved',
      '--output',
      'strict.json',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('  + net/connect:libc.so.6: added as required, observed but undeclared (2 hits)');
    expect(r.stderr).toContain('  - crypto-cipher:libcrypto.so.3: dropped, never observed (0 hits)');
    const map = JSON.parse(readFileSync(at('strict.json'), 'utf8'));
    expect(
      map.predicate.expectedPaths
        .filter((p: { optional: boolean }) => !p.optional)
        .map((p: { pathId: string }) => p.pathId)
        .sort(),
    ).toEqual([
      'crypto-digest:libcrypto.so.3',
      'crypto-kex:libcrypto.so.3',
      'net/connect:libc.so.6',
      'tls-handshake:libssl.so.3',
    ]);
    const verify = stella(
      'function-map',
      'verify',
      '--function-map',
      'strict.json',
      '--offline',
      '--observations',
      'obs',
      '--from',
      FROM,
      '--to',
      TO,
      '--format',
      'json',
    );
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout).unexpectedSymbolsCount).toBe(0);
  });

  it('refuses bad input in one sentence, exit 2, nothing written', () => {
    const cases: [string[], RegExp][] = [
      [['--function-map', 'missing.json', '--observations', 'obs'], /^stella: .*missing\.json/],
      [
        ['--function-map', 'map.json', '--observations', 'nowhere'],
        /^stella: --observations nowhere: no such file or directory\n$/,
      ],
      [
        [
          '--function-map',
          'map.json',
          '--observations',
          'obs',
          '--from',
          '2020-01-01T00:00:00Z',
          '--to',
          '2020-01-02T00:00:00Z',
        ],
        /^stella: --observations: no record of service "web" in 2020-01-01T00:00:00\.000Z\/2020-01-02T00:00:00\.000Z \(6 read: 6 outside the window/,
      ],
      [
        ['--function-map', 'map.json', '--observations', '-'],
        /^stella: --observations -: learning records a digest of its inputs/,
      ],
    ];
    for (const [flags, message] of cases) {
      const r = stella('function-map', 'learn', ...flags, '--output', 'bad.json');
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    }
    expect(readdirSync(work).filter((f) => f.includes('bad.json'))).toEqual([]);
    const help = stella('function-map', 'learn', '--help');
    expect(help.code).toBe(0);
    for (const flag of [
      '--function-map',
      '--observations',
      '--from',
      '--to',
      '--drop-unobserved',
      '--accept-unexpected',
      '--output',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});

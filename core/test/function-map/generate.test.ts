// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CatalogueEntry } from '@stella/sdk';
import { describe, expect, it } from 'vitest';
import { catalogue as authCatalogue } from '../../../plugins/probes-auth/src/catalogue.js';
import { catalogue as cryptoCatalogue } from '../../../plugins/probes-crypto/src/catalogue.js';
import { catalogue as fileCatalogue } from '../../../plugins/probes-file/src/catalogue.js';
import { catalogue as netCatalogue } from '../../../plugins/probes-net/src/catalogue.js';
import { type GenerateOptions, generateFunctionMap, serializeFunctionMap } from '../../src/function-map/generate.js';
import { nodeHash, pathHash } from '../../src/function-map/hash.js';
import { parseFunctionMap } from '../../src/function-map/parse.js';
import { parseSbom, readSbom } from '../../src/function-map/sbom.js';
import { parseStaticAnalysis } from '../../src/function-map/static-analysis.js';

const FIXTURES = new URL('../../../test/e2e/function-map/fixtures/', import.meta.url).pathname;
const GOLDEN = new URL('./fixtures/golden/', import.meta.url).pathname;
const CATALOGUE: CatalogueEntry[] = [...cryptoCatalogue, ...authCatalogue, ...netCatalogue, ...fileCatalogue];
const NOW = new Date('2026-01-15T12:00:00.000Z');
const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

async function gen(fixture: string, extra: Partial<GenerateOptions> = {}) {
  const sbom = await readSbom(join(FIXTURES, fixture));
  return generateFunctionMap({
    sbom,
    sbomRef: fixture,
    service: 'checkout',
    catalogue: CATALOGUE,
    generator: { name: 'stella', version: '0.1.0' },
    now: NOW,
    ...extra,
  });
}

/** Golden maps: set UPDATE_GOLDEN=1 to rewrite them after a deliberate change. */
async function expectGolden(name: string, text: string) {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') await writeFile(file, text);
  expect(text).toBe(await readFile(file, 'utf8'));
}

describe('generate from real SBOM shapes (golden maps)', () => {
  it.each([
    ['trivy-debian.cdx.json', 'trivy-debian.map.json'],
    ['cdxgen-debian.cdx.json', 'cdxgen-debian.map.json'],
    ['alpine-syft.cdx.json', 'alpine-syft.map.json'],
    ['rpm-trivy.cdx.json', 'rpm-trivy.map.json'],
    ['generic-nested-1.2.cdx.json', 'generic-nested.map.json'],
    ['generic-evidence-1.7.cdx.json', 'generic-evidence.map.json'],
  ])('%s', async (fixture, golden) => {
    const { map, warnings } = await gen(fixture, {
      buildId: 'ci-42',
      hotFunctions: ['crypto/*', 'tls/*', 'auth/*', 'net/*'],
    });
    expect(warnings).toEqual([]);
    expect(parseFunctionMap(JSON.parse(serializeFunctionMap(map)), golden)).toEqual(map);
    await expectGolden(golden, serializeFunctionMap(map));
  });

  it('is byte-identical for the same inputs apart from generatedAt', async () => {
    const a = serializeFunctionMap((await gen('trivy-debian.cdx.json', { now: new Date('2026-01-01T00:00:00Z') })).map);
    const b = serializeFunctionMap((await gen('trivy-debian.cdx.json', { now: new Date('2026-02-02T00:00:00Z') })).map);
    expect(a).not.toBe(b);
    const strip = (s: string) => s.replace(/"generatedAt": "[^"]+"/, '');
    expect(strip(a)).toBe(strip(b));
  });

  it('trivy: subject is the image digest; paths and hashes per docs/FUNCTION-MAP.md', async () => {
    const { map } = await gen('trivy-debian.cdx.json');
    expect(map.subject.digest.sha256).toBe('5f0a3b6c1e2d4f8a9b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a');
    const hs = map.predicate.expectedPaths.find((p) => p.pathId === 'tls-handshake:libssl.so.3')!;
    expect(hs.optional).toBe(false);
    expect(hs.expectedCalls.map((c) => c.symbol)).toEqual([
      'SSL_do_handshake',
      'SSL_connect',
      'SSL_accept',
      'SSL_set_connect_state',
      'SSL_set_accept_state',
    ]);
    expect(hs.expectedCalls.every((c) => c.optional && c.binaryPath === SSL)).toBe(true);
    const c0 = hs.expectedCalls[0]!;
    expect(c0.nodeHash).toBe(nodeHash('pkg:deb/debian/libssl3', 'SSL_do_handshake'));
    expect(hs.pathHash).toBe(pathHash([hs.entrypoint!.nodeHash, ...hs.expectedCalls.map((c) => c.nodeHash)]));
    expect(hs.entrypoint).toEqual({
      symbol: 'main',
      purl: map.subject.purl,
      nodeHash: nodeHash(map.subject.purl, 'main'),
    });
    const pam = map.predicate.expectedPaths.find((p) => p.pathId === 'auth/pam_authenticate:libpam.so.0')!;
    expect(pam).toMatchObject({ priority: 'auth', optional: false, tags: ['auth'] });
    const connect = map.predicate.expectedPaths.find((p) => p.pathId === 'net-outbound:libc.so.6')!;
    expect(connect.expectedCalls[0]!.probeTypes).toEqual(['kprobe', 'tracepoint']);
  });

  it('cdxgen purls without namespace and with a subpath still match', async () => {
    const { map } = await gen('cdxgen-debian.cdx.json', { hotFunctions: ['tls/SSL_connect'] });
    expect(
      map.predicate.expectedPaths.map((p) => [p.pathId, p.expectedCalls[0]!.binaryPath, p.expectedCalls[0]!.nodeHash]),
    ).toEqual([
      ['tls-handshake:libssl.so.3', SSL, nodeHash('pkg:deb/libssl3', 'SSL_connect')],
      ['tls-handshake:node', '/usr/bin/node', nodeHash('pkg:deb/nodejs', 'SSL_connect')],
    ]);
  });

  it('--optional-below and --tag-min-rate', async () => {
    const { map, warnings } = await gen('trivy-debian.cdx.json', {
      optionalBelow: 'auth',
      tagMinRates: { crypto: 0.99, ldap: 1 },
    });
    const byPriority = (prio: string) => map.predicate.expectedPaths.filter((p) => p.priority === prio);
    expect(byPriority('net').every((p) => p.optional)).toBe(true);
    expect(byPriority('general').every((p) => p.optional)).toBe(true);
    expect(byPriority('auth').some((p) => !p.optional)).toBe(true);
    expect(map.predicate.coverage.perTag).toEqual({ crypto: 0.99, ldap: 1 });
    expect(warnings).toEqual(['--tag-min-rate ldap: no path carries tag "ldap"']);
  });

  it('warns about a --hot-functions glob that matches nothing', async () => {
    const { map, warnings } = await gen('trivy-debian.cdx.json', { hotFunctions: ['crypt/*', 'tls/SSL_connect'] });
    expect(warnings).toEqual([
      '--hot-functions crypt/* matches no function of the catalogues (function ids look like crypto/EVP_DigestInit_ex, tls/SSL_connect)',
    ]);
    expect(map.predicate.hotFunctions).toEqual(['crypt/*', 'tls/SSL_connect']);
  });

  it('an SBOM with no recognised component gives an empty map and a warning naming what was seen', async () => {
    const { map, warnings } = await gen('npm-only.cdx.json');
    expect(map.predicate.expectedPaths).toEqual([]);
    expect(warnings).toEqual([
      'no component of npm-only.cdx.json matched a catalogue entry, so the map has no expected paths; saw 2 component(s) with a purl (npm: 2) and 1 without a usable purl, e.g. pkg:npm/express@4.21.2, pkg:npm/jsonwebtoken@9.0.2',
    ]);
    expect(map.subject.purl).toBe('pkg:npm/web@1.0.0');
  });
});

describe('SBOM refusals', () => {
  it('refuses XML, SPDX, other formats and unsupported versions with one sentence', async () => {
    await expect(readSbom(join(FIXTURES, 'sbom.cdx.xml'))).rejects.toThrow(
      `SBOM ${FIXTURES}sbom.cdx.xml is XML; only CycloneDX JSON (1.2–1.7) is read: convert it (cyclonedx convert --input-file ${FIXTURES}sbom.cdx.xml --output-format json) or have the generator write JSON (syft -o cyclonedx-json, trivy --format cyclonedx)`,
    );
    await expect(readSbom(join(FIXTURES, 'spdx.json'))).rejects.toThrow(
      `SBOM ${FIXTURES}spdx.json is SPDX (SPDX-2.3); expected CycloneDX JSON 1.2–1.7 (syft -o cyclonedx-json)`,
    );
    expect(() => parseSbom('{"bomFormat":"CycloneDX","specVersion":"1.1"}', 'old.json')).toThrow(
      'SBOM old.json: "specVersion" "1.1" is not supported; expected 1.2 to 1.7',
    );
    expect(() => parseSbom('{"bomFormat":"SWID"}', 'x.json')).toThrow(
      'SBOM x.json: "bomFormat" is "SWID"; expected "CycloneDX"',
    );
    await expect(readSbom('/nonexistent/sbom.json')).rejects.toThrow(
      'cannot read SBOM /nonexistent/sbom.json: no such file',
    );
  });
});

describe('--rootfs', () => {
  const realSsl = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
  const buildIdOf = (file: string) =>
    /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', file], { encoding: 'utf8' }))![1]!;

  it('on this Debian 12 machine with its own SBOM, TLS and crypto calls point at the real libraries with build-ids', async () => {
    const { map } = await gen('debian12-syft.cdx.json', { rootfs: '/', hotFunctions: ['tls/*', 'crypto/*'] });
    const ssl = map.predicate.expectedPaths.find((p) => p.pathId === 'tls-handshake:libssl.so.3')!;
    expect(ssl.expectedCalls[0]!.binaryPath).toBe(realSsl);
    expect(ssl.expectedCalls[0]!.buildId).toBe(buildIdOf(realSsl));
    const crypto = map.predicate.expectedPaths.find((p) => p.pathId === 'crypto-digest:libcrypto.so.3')!;
    expect(crypto.expectedCalls[0]!.binaryPath).toBe('/usr/lib/x86_64-linux-gnu/libcrypto.so.3');
    expect(crypto.expectedCalls[0]!.buildId).toBe(buildIdOf('/usr/lib/x86_64-linux-gnu/libcrypto.so.3'));
    const node = map.predicate.expectedPaths.find((p) => p.pathId === 'tls-handshake:node')!;
    expect(node.expectedCalls[0]).toMatchObject({ binaryPath: '/usr/bin/node', buildId: buildIdOf('/usr/bin/node') });
  });

  it('resolves through dpkg lists and the apk database in a rootfs, and drops absent symbols with a warning', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rootfs-'));
    await mkdir(join(root, 'var/lib/dpkg/info'), { recursive: true });
    await mkdir(join(root, 'opt/ssl'), { recursive: true });
    await copyFile(realSsl, join(root, 'opt/ssl/libssl.so.3'));
    // The package list points somewhere unusual, so only dpkg can find it.
    await writeFile(join(root, 'var/lib/dpkg/info/libssl3:amd64.list'), '/.\n/opt\n/opt/ssl\n/opt/ssl/libssl.so.3\n');
    const catalogue: CatalogueEntry[] = [
      {
        name: 'test OpenSSL',
        match: { purlType: 'deb', name: 'libssl3' },
        libraries: [
          {
            library: 'libssl.so.3',
            functions: [
              { symbol: 'SSL_connect', category: 'tls' },
              { symbol: 'SSL_no_such_function', category: 'tls' },
            ],
          },
          { library: 'libcrypto.so.3', functions: [{ symbol: 'EVP_DigestInit_ex', category: 'crypto' }] },
        ],
      },
    ];
    const { map, warnings } = await gen('trivy-debian.cdx.json', { rootfs: root, catalogue });
    expect(map.predicate.expectedPaths.map((p) => p.pathId)).toEqual(['tls/SSL_connect:libssl.so.3']);
    expect(map.predicate.expectedPaths[0]!.expectedCalls[0]).toMatchObject({
      binaryPath: '/opt/ssl/libssl.so.3',
      buildId: buildIdOf(realSsl),
    });
    expect(warnings).toEqual([
      '1 symbol(s) of test OpenSSL are not exported by /opt/ssl/libssl.so.3 and were dropped: SSL_no_such_function',
      `libcrypto.so.3 of pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12.8 (test OpenSSL) was not found under ${root}; its 1 function(s) are left out`,
    ]);

    const alpine = await mkdtemp(join(tmpdir(), 'rootfs-apk-'));
    await mkdir(join(alpine, 'lib/apk/db'), { recursive: true });
    await mkdir(join(alpine, 'usr/lib'), { recursive: true });
    await copyFile(realSsl, join(alpine, 'usr/lib/libssl.so.3'));
    await writeFile(
      join(alpine, 'lib/apk/db/installed'),
      'C:Q1abc=\nP:libssl3\nV:3.1.4-r5\nF:usr/lib\nR:libssl.so.3\nZ:Q1def=\n\nP:musl\nV:1.2.4\n\n',
    );
    const apk = await gen('alpine-syft.cdx.json', { rootfs: alpine, hotFunctions: ['tls/SSL_connect'] });
    expect(apk.map.predicate.expectedPaths[0]!.expectedCalls[0]).toMatchObject({
      binaryPath: '/usr/lib/libssl.so.3',
      buildId: buildIdOf(realSsl),
    });
  });
});

describe('--static-analysis', () => {
  it('turns single calls into multi-call paths from named entrypoints', async () => {
    const staticAnalysis = parseStaticAnalysis(
      {
        schema: 'stella.static-analysis/v1',
        entrypoints: [
          {
            symbol: 'handleLogin',
            purl: 'pkg:npm/checkout@1.4.0',
            chains: [['auth/pam_authenticate', 'auth/pam_acct_mgmt']],
          },
        ],
      },
      'sa.json',
    );
    const { map } = await gen('trivy-debian.cdx.json', {
      staticAnalysis,
      staticAnalysisRef: 'sa.json',
      hotFunctions: ['auth/*'],
    });
    const ids = map.predicate.expectedPaths.map((p) => p.pathId);
    expect(ids).toContain('handleLogin#0');
    expect(ids).not.toContain('auth/pam_authenticate:libpam.so.0');
    const chain = map.predicate.expectedPaths.find((p) => p.pathId === 'handleLogin#0')!;
    const entry = nodeHash('pkg:npm/checkout@1.4.0', 'handleLogin');
    expect(chain.entrypoint).toEqual({ symbol: 'handleLogin', purl: 'pkg:npm/checkout@1.4.0', nodeHash: entry });
    expect(chain.pathHash).toBe(pathHash([entry, ...chain.expectedCalls.map((c) => c.nodeHash)]));
    expect(chain.expectedCalls.map((c) => c.function)).toEqual(['auth/pam_authenticate', 'auth/pam_acct_mgmt']);
    expect(map.predicate.generatedFrom?.staticAnalysisRef).toBe('sa.json');
  });

  it('an ambiguous function id must name its library; bad files name every problem', async () => {
    const sa = parseStaticAnalysis(
      { schema: 'stella.static-analysis/v1', entrypoints: [{ symbol: 'fetch', chains: [['tls/SSL_connect']] }] },
      'sa.json',
    );
    await expect(gen('cdxgen-debian.cdx.json', { staticAnalysis: sa, staticAnalysisRef: 'sa.json' })).rejects.toThrow(
      'static analysis sa.json: fetch chain 0: tls/SSL_connect is carried by /usr/lib/x86_64-linux-gnu/libssl.so.3 and /usr/bin/node; write tls/SSL_connect@<library> to choose',
    );
    const ok = parseStaticAnalysis(
      { schema: 'stella.static-analysis/v1', entrypoints: [{ symbol: 'fetch', chains: [['tls/SSL_connect@node']] }] },
      'sa.json',
    );
    const { map } = await gen('cdxgen-debian.cdx.json', { staticAnalysis: ok });
    expect(map.predicate.expectedPaths.find((p) => p.pathId === 'fetch#0')!.expectedCalls[0]!.binaryPath).toBe(
      '/usr/bin/node',
    );
    expect(() =>
      parseStaticAnalysis({ schema: 'x', entrypoints: [{ chains: [['SSL_connect']], extra: 1 }] }, 'bad.json'),
    ).toThrow(
      [
        'invalid static analysis bad.json: 4 problems',
        '  - $.schema: must be "stella.static-analysis/v1"',
        '  - $.entrypoints[0].extra: unknown field',
        '  - $.entrypoints[0].symbol: must be a non-empty string',
        '  - $.entrypoints[0].chains[0][0]: must be a function id "category/symbol" or "category/symbol@library"',
      ].join('\n'),
    );
  });
});

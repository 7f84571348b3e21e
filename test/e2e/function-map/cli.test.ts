// SPDX-License-Identifier: Apache-2.0
/**
 * The real CLI as a subprocess: `node core/bin/stella.js` runs the compiled `core/dist`. Build first
 * (`npm run build:ts`); the suite builds once itself when the compiled command is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const BIN = join(REPO, 'core/bin/stella.js');

function stella(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `stella function-map verify --function-map <map> --offline --observations <observations> ...more`. */
function verifyOffline(map: string, observations: string, ...more: string[]) {
  return stella('function-map', 'verify', '--function-map', map, '--offline', '--observations', observations, ...more);
}

interface MapCall {
  function: string;
  symbol: string;
  binaryPath: string;
  nodeHash: string;
  optional: boolean;
}
interface MapPath {
  pathId: string;
  optional: boolean;
  expectedCalls: MapCall[];
}

function agentLine(c: MapCall, at: Date, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    observedAt: at.toISOString(),
    service: 'demo',
    function: c.function,
    symbol: c.symbol,
    binaryPath: c.binaryPath,
    nodeHash: c.nodeHash,
    probeType: 'uprobe',
    pid: 4242,
    tid: 4242,
    comm: 'node',
    nodeName: 'ci-node',
    hitCount: 1,
    ...extra,
  });
}

let dir: string;
let mapFile: string;
let paths: MapPath[];

beforeAll(async () => {
  if (!existsSync(join(REPO, 'core/dist/cli/commands/function-map.js'))) {
    execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'], {
      cwd: REPO,
    });
  }
  dir = await mkdtemp(join(tmpdir(), 'e2e-fm-'));
  mapFile = join(dir, 'fm.json');
  const r = stella(
    'function-map',
    'generate',
    '--sbom',
    join(FIXTURES, 'debian12-syft.cdx.json'),
    '--service',
    'demo',
    '--hot-functions',
    'tls/*',
    '--hot-functions',
    'crypto/*',
    '--min-rate',
    '0.95',
    '--window',
    '1800',
    '--build-id',
    'ci-7',
    '--rootfs',
    '/',
    '--output',
    mapFile,
  );
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/stella: wrote .*fm\.json: \d+ expected path\(s\), \d+ required/);
  paths = JSON.parse(await readFile(mapFile, 'utf8')).predicate.expectedPaths;
}, 180_000);

describe('stella function-map generate (Debian 12 SBOM of this machine, --rootfs /)', () => {
  it('points TLS and crypto calls at the real libssl/libcrypto with their build-ids', async () => {
    const map = JSON.parse(await readFile(mapFile, 'utf8'));
    expect(map.predicate.buildId).toBe('ci-7');
    const hs = paths.find((p) => p.pathId === 'tls-handshake:libssl.so.3')!;
    const readBuildId = (f: string) =>
      /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', f], { encoding: 'utf8' }))![1];
    expect(hs.expectedCalls[0]).toMatchObject({
      binaryPath: '/usr/lib/x86_64-linux-gnu/libssl.so.3',
      buildId: readBuildId('/usr/lib/x86_64-linux-gnu/libssl.so.3'),
    });
    const digest = paths.find((p) => p.pathId === 'crypto-digest:libcrypto.so.3')!;
    expect(digest.expectedCalls[0]).toMatchObject({
      binaryPath: '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
      buildId: readBuildId('/usr/lib/x86_64-linux-gnu/libcrypto.so.3'),
    });
    expect(paths.some((p) => p.pathId === 'tls-handshake:node')).toBe(true);
  });

  it('refuses XML with exit 2, and warns (exit 0) on an SBOM with nothing recognised', () => {
    const xml = stella(
      'function-map',
      'generate',
      '--sbom',
      join(FIXTURES, 'sbom.cdx.xml'),
      '--service',
      's',
      '--output',
      join(dir, 'x.json'),
    );
    expect(xml.code).toBe(2);
    expect(xml.stderr).toMatch(/^stella: SBOM .*sbom\.cdx\.xml is XML; only CycloneDX JSON \(1\.2–1\.7\) is read/);
    const npm = stella(
      'function-map',
      'generate',
      '--sbom',
      join(FIXTURES, 'npm-only.cdx.json'),
      '--service',
      's',
      '--output',
      join(dir, 'n.json'),
    );
    expect(npm.code).toBe(0);
    expect(npm.stderr).toContain('stella: warning: no component of');
    const bad = stella(
      'function-map',
      'generate',
      '--sbom',
      join(FIXTURES, 'npm-only.cdx.json'),
      '--service',
      's',
      '--min-rate',
      '95',
      '--output',
      '-',
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('stella: --min-rate "95" is not a rate: expected a number from 0 to 1, e.g. 0.95\n');
  });

  it('takes catalogues from the configured probe plugins, so a third-party plugin extends generation', async () => {
    const plugin = join(dir, 'app-plugin.mjs');
    await writeFile(
      plugin,
      `export default {
  kind: 'probe', name: 'app-probes', categories: ['app'], bpfObjects: [], options: {},
  catalogue: [{ name: 'My app', match: { purlType: 'generic', name: 'myapp' },
    libraries: [{ library: 'libmyapp.so.1', functions: [{ symbol: 'app_authorize', category: 'app' }] }] }],
  detect: async () => ({ available: false, reason: 'catalogue only' }),
  start: async () => ({ stop: async () => {} }),
};
`,
    );
    const cfg = join(dir, 'app.yaml');
    await writeFile(cfg, `plugins: [${JSON.stringify(plugin)}]\n`);
    const sbom = join(dir, 'app.cdx.json');
    await writeFile(
      sbom,
      JSON.stringify({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        version: 1,
        components: [{ type: 'library', name: 'myapp', version: '1.0.0', purl: 'pkg:generic/myapp@1.0.0' }],
      }),
    );
    const out = join(dir, 'app-map.json');
    const r = stella('function-map', 'generate', '--sbom', sbom, '--service', 'app', '--config', cfg, '--output', out);
    expect(r.code, r.stderr).toBe(0);
    const map = JSON.parse(await readFile(out, 'utf8')) as {
      predicate: { expectedPaths: { expectedCalls: MapCall[] }[] };
    };
    const calls = map.predicate.expectedPaths.flatMap((p) => p.expectedCalls.map((c) => c.function));
    expect(calls).toEqual(['app/app_authorize']);
  });
});

describe('stella function-map verify --offline', () => {
  const now = new Date();
  const recent = new Date(now.getTime() - 5 * 60_000);

  it('all required paths observed (node handshake through SSL_set_connect_state only) → exit 0, default window', async () => {
    const lines: string[] = [];
    for (const p of paths.filter((q) => !q.optional)) {
      // Any one call of an any-of path proves it; node's TLS shows up as SSL_set_connect_state.
      const c = p.expectedCalls.find((k) => k.symbol === 'SSL_set_connect_state') ?? p.expectedCalls[0]!;
      lines.push(agentLine(c, recent));
    }
    lines.push('{"observedAt": "garbage');
    const obsDir = join(dir, 'all');
    await import('node:fs/promises').then((fs) => fs.mkdir(obsDir, { recursive: true }));
    await writeFile(join(obsDir, 'node-a.ndjson'), lines.join('\n') + '\n');
    const r = verifyOffline(mapFile, obsDir);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.verdict).toBe('pass');
    expect(report.observationRate).toBe(1);
    expect(report.observationsSkipped.malformed).toBe(1);
    expect(report.observationsSkipped.malformedSamples[0].location).toBe(
      `${join(obsDir, 'node-a.ndjson')}:${lines.length}`,
    );

    // The same lines gzipped on standard input (`cat seg.ndjson.gz | stella … --observations -`) and
    // plain through a pipe (`--observations <(kubectl exec … cat …)`): the same verdict and counts.
    const text = await readFile(join(obsDir, 'node-a.ndjson'), 'utf8');
    const piped = spawnSync(
      'bash',
      [
        '-c',
        `exec "$0" "$1" function-map verify --function-map "$2" --offline --observations - /dev/fd/3 3< <(cat "$3")`,
        process.execPath,
        BIN,
        mapFile,
        join(obsDir, 'node-a.ndjson'),
      ],
      { cwd: REPO, encoding: 'utf8', input: gzipSync(text) }, // gzip on stdin is recognised by its magic
    );
    expect(piped.status, piped.stderr).toBe(0);
    const both = JSON.parse(piped.stdout);
    expect(both.observationsRead).toBe(2 * report.observationsRead);
    expect(both.observationsSkipped.malformed).toBe(2);
    expect(both.observationsSkipped.malformedSamples.map((m: { location: string }) => m.location)).toEqual([
      `-:${lines.length}`,
      `/dev/fd/3:${lines.length}`,
    ]);
  });

  it('partly observed → exit 1 with the reason; table, markdown and junit reports', async () => {
    const one = paths.find((p) => p.pathId === 'tls-handshake:libssl.so.3')!.expectedCalls[1]!;
    const file = join(dir, 'part.ndjson');
    await writeFile(
      file,
      agentLine(one, new Date('2026-01-15T11:30:00Z')) +
        '\n' +
        agentLine(
          { ...one, function: 'crypto/RC4', symbol: 'RC4', nodeHash: `sha256:${'e'.repeat(64)}` },
          new Date('2026-01-15T11:31:00Z'),
        ) +
        '\n',
    );
    const window = ['--from', '2026-01-15T11:00:00Z', '--to', '2026-01-15T12:00:00Z'];
    const required = paths.filter((p) => !p.optional).length;
    const json = verifyOffline(mapFile, file, ...window, '--output', join(dir, 'r.json'));
    expect(json.code).toBe(1);
    const rate = Math.round((1 / required) * 10000) / 100;
    expect(json.stderr).toContain(
      `stella: verification failed for demo: observation rate ${rate}% (1/${required} required paths) is below the minimum 95%\n`,
    );
    const report = JSON.parse(await readFile(join(dir, 'r.json'), 'utf8'));
    expect(report.unexpectedSymbols.map((u: { function: string }) => u.function)).toEqual(['crypto/RC4']);

    const table = verifyOffline(mapFile, file, ...window, '--format', 'table');
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^FAIL demo: 1\/\d+ required paths observed/);
    expect(table.stdout).toContain('UNEXPECTED SYMBOLS');
    const md = verifyOffline(mapFile, file, ...window, '--format', 'markdown');
    expect(md.stdout).toMatch(/^## Runtime linkage: demo — ❌ fail/);
    const junit = verifyOffline(mapFile, file, ...window, '--format', 'junit');
    expect(junit.stdout).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="stella function-map verify demo" tests="\d+" failures="\d+"/,
    );
    expect(junit.stdout).toContain('<testcase classname="paths" name="tls-handshake:libssl.so.3"/>');
  });

  it('bad input exits 2 with one sentence', async () => {
    const missing = verifyOffline(join(dir, 'none.json'), mapFile);
    expect(missing).toMatchObject({
      code: 2,
      stderr: `stella: cannot read function map ${join(dir, 'none.json')}: no such file\n`,
    });
    const badFrom = verifyOffline(mapFile, mapFile, '--from', 'yesterday');
    expect(badFrom.stderr).toBe(
      'stella: --from "yesterday" is not a time: expected ISO-8601 (2024-05-01T12:00:00Z) or a duration before now (1h, 30m, 2d)\n',
    );
    expect(badFrom.code).toBe(2);
    const fmt = verifyOffline(mapFile, mapFile, '--format', 'pdf');
    expect(fmt).toMatchObject({
      code: 2,
      stderr: 'stella: --format "pdf" is not a report format: expected one of json, table, markdown, junit\n',
    });
    const offline = stella('function-map', 'verify', '--function-map', mapFile, '--offline');
    expect(offline).toMatchObject({
      code: 2,
      stderr: 'stella: --offline needs --observations <files, directories or globs>\n',
    });
    const badMap = join(dir, 'bad-map.json');
    await writeFile(
      badMap,
      JSON.stringify({
        _type: 'stella.ops/functionMap@v1',
        subject: { purl: 'pkg:generic/x', digest: { sha256: 'a'.repeat(64) } },
        predicate: {
          schema_version: '1.0.0',
          service: 'x',
          coverage: { min_observation_rate: 2, window_seconds: 60 },
          expected_paths: [],
        },
      }),
    );
    const invalid = stella('function-map', 'verify', '--function-map', badMap, '--offline', '--observations', mapFile);
    expect(invalid).toMatchObject({
      code: 2,
      stderr: `stella: invalid function map ${badMap}: 1 problem\n  - $.predicate.coverage.min_observation_rate: must be <= 1\n`,
    });
  });

  it("without --offline and with the memory store, it reads the agent's NDJSON export on this node", async () => {
    const exportDir = join(dir, 'agent-export');
    await import('node:fs/promises').then((fs) => fs.mkdir(exportDir, { recursive: true }));
    const lines = paths.filter((p) => !p.optional).map((p) => agentLine(p.expectedCalls[0]!, recent));
    // The live segment a running agent is still appending to, with a half-written last line.
    await writeFile(join(exportDir, '.observations-n-1.ndjson.partial'), `${lines.join('\n')}\n{"observedAt":"20`);
    const cfg = join(dir, 'stella.yaml');
    await writeFile(
      cfg,
      `runtime_agent:\n  observation_store: {type: memory}\n  export: {output_path: ${JSON.stringify(exportDir)}}\n`,
    );
    const r = stella('function-map', 'verify', '--function-map', mapFile, '--config', cfg, '--from', '1h');
    expect(r.stderr).toContain(
      `the memory store lives inside the agent; reading its NDJSON export ${exportDir} instead`,
    );
    expect(r.code).toBe(0);
    const missing = join(dir, 'stella-missing.yaml');
    await writeFile(missing, `runtime_agent:\n  export: {output_path: ${JSON.stringify(join(dir, 'nowhere'))}}\n`);
    const m = stella('function-map', 'verify', '--function-map', mapFile, '--config', missing);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain(
      `runtime_agent.observation_store.type is "memory" and its NDJSON export ${join(dir, 'nowhere')}`,
    );
  });

  it('--bundle reads the map and observations from an air-gap bundle', async () => {
    const obsDir = join(dir, 'bundle-obs');
    await import('node:fs/promises').then((fs) => fs.mkdir(obsDir, { recursive: true }));
    const lines = paths.filter((p) => !p.optional).map((p) => agentLine(p.expectedCalls[0]!, recent));
    await writeFile(join(obsDir, 'a.ndjson'), lines.join('\n') + '\n');
    const tgz = join(dir, 'linkage-bundle.tgz');
    const created = stella('bundle', 'create', '--function-map', mapFile, '--observations', obsDir, '--output', tgz);
    expect(created.code, created.stderr).toBe(0);
    const r = stella('function-map', 'verify', '--bundle', tgz, '--format', 'table');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS demo: \d+\/\d+ required paths observed \(100%/);
  });
});

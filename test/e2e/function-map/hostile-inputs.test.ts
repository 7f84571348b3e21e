// SPDX-License-Identifier: Apache-2.0
/**
 * The crashes, hangs and silent answers of issue #13, each through the real CLI: every one is now
 * exit 2 with one sentence naming the flag, file or field (or a documented count), never exit 70,
 * a stack trace, a hang, or a verdict drawn from nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(REPO, 'core/bin/stella.js');
const SBOM = join(REPO, 'test/e2e/function-map/fixtures/debian12-syft.cdx.json');
const dir = mkdtempSync(join(tmpdir(), 'hostile-inputs-'));
const at = (name: string) => join(dir, name);

function stella(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2, and stderr is exactly one `stella: …` sentence. */
function badInput(r: ReturnType<typeof stella>, sentence: string) {
  expect(r.stderr).toBe(`stella: ${sentence}\n`);
  expect(r.code).toBe(2);
}

const sbom = (components: unknown) => JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components });
let map: {
  predicate: { coverage: Record<string, unknown>; expectedPaths: { expectedCalls: Record<string, unknown>[] }[] };
};

beforeAll(() => {
  expect(
    stella(['function-map', 'generate', '--sbom', SBOM, '--service', 'demo', '--output', at('map.json')]).code,
  ).toBe(0);
  map = JSON.parse(readFileSync(at('map.json'), 'utf8'));
  mkdirSync(at('obs'));
  mkdirSync(at('empty'));
  const first = map.predicate.expectedPaths[0]!.expectedCalls[0]!;
  const line = (hitCount: string) =>
    `{"observedAt":"${new Date().toISOString()}","service":"demo","function":"${first.function}","binaryPath":"${first.binaryPath}","nodeHash":"${first.nodeHash}","pid":1,"hitCount":${hitCount}}`;
  writeFileSync(at('obs/a.ndjson'), `${line('1e400')}\n${line('1')}\n`);
});

describe('generate', () => {
  it('--hot-functions "" is bad input', () => {
    badInput(
      stella(['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--hot-functions', '', '--output', '-']),
      '--hot-functions is empty: expected a function id glob such as "crypto/*" or "tls/SSL_*"',
    );
  });

  it('--window 1e20 is bad input (the map schema allows at most 100 years)', () => {
    badInput(
      stella(['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--window', '1e20', '--output', '-']),
      '--window "1e20" is not a number of seconds: expected a whole number from 1 to 3153600000 (100 years), e.g. 1800',
    );
  });

  it.each([
    ['an object', { a: 1 }, 'SBOM sbom.json: field "components" must be an array'],
    ['a list with null', [null], 'SBOM sbom.json: components[0] is null; expected a component object'],
    [
      'a nested number',
      [{ purl: 'pkg:generic/a@1', components: [7] }],
      'SBOM sbom.json: components[0].components[0] is a number; expected a component object',
    ],
  ])('components that are %s name the field', (_name, components, sentence) => {
    writeFileSync(at('sbom.json'), sbom(components));
    badInput(stella(['function-map', 'generate', '--sbom', 'sbom.json', '--service', 'd', '--output', '-']), sentence);
  });

  it('components nested 6000 deep are read (no stack overflow)', () => {
    const deep = `${'{"purl":"pkg:generic/x@1","components":['.repeat(6000)}{"purl":"pkg:generic/y@1"}${']}'.repeat(6000)}`;
    writeFileSync(at('deep.json'), `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[${deep}]}`);
    const r = stella([
      'function-map',
      'generate',
      '--sbom',
      'deep.json',
      '--service',
      'd',
      '--output',
      at('deep-map.json'),
    ]);
    expect(r.stderr).toContain('no component of deep.json matched a catalogue entry');
    expect(r.code).toBe(0);
  });

  it('many components repeating one warning print 20 lines and a count', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ purl: `pkg:deb/debian/libssl3@3.0.${i}?arch=amd64` }));
    writeFileSync(at('many.json'), sbom(many));
    const r = stella([
      'function-map',
      'generate',
      '--sbom',
      'many.json',
      '--service',
      'd',
      '--output',
      at('many-map.json'),
    ]);
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l.includes('is already mapped through'))).toHaveLength(20);
    expect(lines).toContain('stella: warning: 98 more warning(s) like these were left out');
  });
});

describe('verify', () => {
  const verify = (...args: string[]) => stella(['function-map', 'verify', '--offline', ...args]);

  it('a map window of 1e20 seconds is refused by the map schema, not a RangeError', () => {
    writeFileSync(
      at('big.json'),
      JSON.stringify({
        ...map,
        predicate: { ...map.predicate, coverage: { ...map.predicate.coverage, windowSeconds: 1e20 } },
      }),
    );
    const r = verify('--function-map', 'big.json', '--observations', 'obs');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('$.predicate.coverage.windowSeconds');
    expect(r.stderr).not.toContain('internal error');
  });

  it('a map with no paths is bad input, not a pass', () => {
    writeFileSync(at('none.json'), JSON.stringify({ ...map, predicate: { ...map.predicate, expectedPaths: [] } }));
    badInput(
      verify('--function-map', 'none.json', '--observations', 'obs'),
      'function map none.json has no expected paths, so there is nothing to verify (did generate match no SBOM component?)',
    );
  });

  it('an empty observations directory says nothing was found', () => {
    badInput(
      verify('--function-map', 'map.json', '--observations', 'empty'),
      '--observations empty: no observation files (*.ndjson, *.jsonl, *.json, optionally .gz) in this directory',
    );
  });

  it('hitCount 1e400 is counted malformed, not reported as null', () => {
    const r = verify('--function-map', 'map.json', '--observations', 'obs', '--format', 'json');
    const report = JSON.parse(r.stdout);
    expect(report.observationsSkipped.malformed).toBe(1);
    expect(report.observationsSkipped.malformedSamples[0].reason).toBe('hitCount is not a number from 1 to 2^53');
    expect(r.stdout).not.toContain('null,\n      "hitCount"');
  });
});

describe('bundle create and config loading', () => {
  it('a function map that is not JSON, and a report that is not a report, are refused', () => {
    writeFileSync(at('not-json.json'), 'not json');
    const r = stella([
      'bundle',
      'create',
      '--function-map',
      'not-json.json',
      '--observations',
      'obs',
      '--output',
      at('b.tgz'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^stella: .*not-json\.json/);
    writeFileSync(at('report.json'), '{"hello":1}');
    badInput(
      stella([
        'bundle',
        'create',
        '--function-map',
        'map.json',
        '--observations',
        'obs',
        '--report',
        'report.json',
        '--output',
        at('b.tgz'),
      ]),
      'report report.json is not a verification report: expected a JSON object with "verdict" pass or fail',
    );
  });

  it('a stella.config.ts that never settles times out with a sentence (exit 2, not 13)', () => {
    writeFileSync(at('stella.config.mjs'), 'export default await new Promise(() => {});\n');
    const r = stella(
      ['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--config', 'stella.config.mjs', '--output', '-'],
      {
        STELLA_CONFIG_TIMEOUT_MS: '1500',
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did not finish loading within 1.5 s (a promise in it never settles?)');
  });
});

// SPDX-License-Identifier: Apache-2.0
/** `stella sbom annotate` as users run it: the built CLI as a subprocess (workload.ts says on what). */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBSSL3, SBOM, setUpWorkload, WINDOW, type Workload } from './workload.js';

let w: Workload;
const at = (...parts: string[]) => join(w.dir, ...parts);
beforeAll(() => {
  w = setUpWorkload();
  // A generated map over a few calls fails: the report says so, and is signed as an auditor would.
  expect(
    w.stella('function-map verify --function-map map.json --offline --observations obs --output report.json', ...WINDOW)
      .code,
  ).toBe(1);
  expect(w.stella('attest sign --input report.json --output report.dsse.json --key auditor.key').code).toBe(0);
}, 120_000);
afterAll(() => {
  if (w) rmSync(w.dir, { recursive: true, force: true });
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
type Component = {
  purl?: string;
  properties?: { name: string; value: string }[];
  evidence?: { occurrences: { symbol: string }[] };
};
const property = (c: Component, name: string) => c.properties?.find((p) => p.name === name)?.value;

describe('stella sbom annotate', () => {
  it('references the signed report by its DSSE envelope digest and marks exactly libssl3 observed', async () => {
    const r = w.stella(
      'sbom annotate --function-map map.json --observations obs --report report.dsse.json --key auditor.pub',
      ...['--report-url', 'https://ci.example/web/report.dsse.json', '--output', 'out/web.cdx.json', '--sbom', SBOM],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      'stella: wrote out/web.cdx.json: 1 of 5 mapped component(s) observed in 2026-03-01T10:00:00.000Z/2026-03-01T11:00:00.000Z (6 record(s) read from 2 file(s) of 2 node(s), 2 with records in the window)\n',
    );
    const text = readFileSync(at('out/web.cdx.json'), 'utf8');
    expect(await new Validation.JsonValidator(Spec.Version.v1dot6).validate(text)).toBeNull();
    const bom = JSON.parse(text);
    const reference = bom.externalReferences.find((e: { type: string }) => e.type === 'runtime-analysis-report');
    expect(reference.url).toBe('https://ci.example/web/report.dsse.json');
    expect(reference.hashes).toEqual([{ alg: 'SHA-256', content: sha256(at('report.dsse.json')) }]);
    expect(reference.comment).toMatch(
      /DSSE envelope \(application\/vnd\.in-toto\+json, signature verified with key [0-9a-f]{64}\) of the verification report: verdict fail/,
    );
    const components = bom.components as Component[];
    const annotated = components.filter((c) => property(c, 'stella:runtime:observed') !== undefined);
    expect(annotated.filter((c) => property(c, 'stella:runtime:observed') === 'true').map((c) => c.purl)).toEqual([
      LIBSSL3,
    ]);
    const libssl3 = annotated.find((c) => c.purl === LIBSSL3)!;
    expect(property(libssl3, 'stella:runtime:hitCount')).toBe('20'); // 3 + 12 + 3 + 2: the 50 before the window are out
    expect(property(libssl3, 'stella:runtime:nodeCount')).toBe('2');
    expect(libssl3.evidence!.occurrences.map((o) => o.symbol)).toEqual([
      'EVP_DigestInit_ex',
      'EVP_PKEY_derive',
      'SSL_do_handshake',
    ]);
    // The components the map does not name are byte for byte what syft wrote.
    const input = JSON.parse(readFileSync(SBOM, 'utf8')).components as Component[];
    const untouched = (list: Component[]) => list.filter((c) => !annotated.some((a) => a.purl === c.purl));
    expect(components.length).toBe(input.length);
    expect(JSON.stringify(untouched(components))).toBe(JSON.stringify(untouched(input)));
  });

  it('takes the map, observations, report and window from a bundle', () => {
    mkdirSync(at('bundle-obs'));
    for (const f of readdirSync(at('obs'))) writeFileSync(at('bundle-obs', f), readFileSync(at('obs', f)));
    const bundle = w.stella(
      'bundle create --function-map map.json --observations bundle-obs --report report.json --output linkage.tgz',
    );
    expect(bundle.code, bundle.stderr).toBe(0);
    const r = w.stella('sbom annotate --bundle linkage.tgz --output bundle.cdx.json --sbom', SBOM);
    expect(r.code, r.stderr).toBe(0);
    const bom = JSON.parse(readFileSync(at('bundle.cdx.json'), 'utf8'));
    expect(bom.properties).toContainEqual({
      name: 'stella:runtime:window',
      value: '2026-03-01T10:00:00.000Z/2026-03-01T11:00:00.000Z',
    });
    const reference = bom.externalReferences.find((e: { type: string }) => e.type === 'runtime-analysis-report');
    expect(reference).toMatchObject({
      url: 'report.json',
      hashes: [{ alg: 'SHA-256', content: sha256(at('report.json')) }],
    });
  });

  it('refuses bad input in one sentence naming the file or field, exit 2, nothing written', () => {
    writeFileSync(at('broken.cdx.json'), '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": {}}');
    const other = JSON.parse(readFileSync(at('report.json'), 'utf8'));
    other.functionMap.digest = `sha256:${'0'.repeat(64)}`;
    writeFileSync(at('other-report.json'), JSON.stringify(other));
    const cases: [string, RegExp][] = [
      ['--sbom missing.cdx.json', /^stella: cannot read SBOM missing\.cdx\.json: no such file\n$/],
      ['--sbom broken.cdx.json', /^stella: SBOM broken\.cdx\.json: field "components" must be an array\n$/],
      ['--sbom map.json', /^stella: SBOM map\.json: "bomFormat" is undefined; expected "CycloneDX"\n$/],
      [
        `--sbom ${SBOM} --report map.json`,
        /^stella: report map\.json: fields "verdict" and "observationRate" are missing/,
      ],
      [
        `--sbom ${SBOM} --report report.json --key auditor.pub`,
        /^stella: report report\.json is not signed \(not a DSSE envelope\) but --key was given\n$/,
      ],
      [`--sbom ${SBOM} --from yesterday`, /^stella: --from "yesterday"/],
      [
        `--sbom ${SBOM} --report other-report.json`,
        /^stella: report other-report\.json: field "functionMap\.digest" is sha256:0{64}, but the function map map\.json has digest sha256:[0-9a-f]{64}: the report was made against another map\n$/,
      ],
    ];
    for (const [flags, message] of cases) {
      const r = w.stella(`sbom annotate --function-map map.json --observations obs ${flags} --output bad.cdx.json`);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    }
    expect(readdirSync(w.dir).filter((f) => f.includes('bad.cdx.json'))).toEqual([]);
  });

  it('--help names every flag', () => {
    const r = w.stella('sbom annotate --help');
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

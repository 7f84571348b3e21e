// SPDX-License-Identifier: Apache-2.0
/**
 * `annotateSbom` on the real generator SBOMs (syft, trivy, cdxgen, nested 1.2, 1.7) and the golden
 * maps generated from them: observations read by the verifier's reader from agent-named NDJSON
 * files, the output checked against the CycloneDX JSON schema shipped by @cyclonedx/cyclonedx-library.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionMapDigest } from '../../src/function-map/hash.js';
import { parseFunctionMap } from '../../src/function-map/parse.js';
import type { ExpectedCall, FunctionMap } from '../../src/function-map/types.js';
import {
  annotateSbom,
  nodeOfFile,
  raiseSpecVersion,
  readSbomDocument,
  serializeSbomDocument,
  tallyObservations,
  UNNAMED_NODE,
} from '../../src/sbom/index.js';

const SBOMS = new URL('../../../test/e2e/function-map/fixtures/', import.meta.url).pathname;
const MAPS = new URL('../function-map/fixtures/golden/', import.meta.url).pathname;
const WINDOW = { from: new Date('2026-03-01T10:00:00.000Z'), to: new Date('2026-03-01T11:00:00.000Z') };
const TOOL = { name: 'stella', version: '0.1.0' };

type Json = Record<string, unknown>;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stella-annotate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function distinctCalls(map: FunctionMap): ExpectedCall[] {
  const seen = new Map<string, ExpectedCall>();
  for (const p of map.predicate.expectedPaths) for (const c of p.expectedCalls) seen.set(c.nodeHash, c);
  return [...seen.values()];
}

/** A record as the agent writes it (docs/FUNCTION-MAP.md "The contract"), for a call of the map. */
function record(c: ExpectedCall, service: string, at: string, node: string, hitCount = 1): string {
  return JSON.stringify({
    observedAt: at,
    service,
    function: c.function,
    symbol: c.symbol,
    purl: c.purl,
    binaryPath: c.binaryPath,
    nodeHash: c.nodeHash,
    probeType: 'uprobe',
    pid: 4242,
    tid: 4243,
    comm: 'checkout',
    nodeName: node,
    hitCount,
  });
}

/** Each node's records in a file named as the agent's exporter names its segments. */
async function writeNodeFiles(sub: string, byNode: Record<string, string[]>): Promise<string> {
  const out = join(dir, sub);
  await mkdir(out, { recursive: true });
  for (const [node, lines] of Object.entries(byNode)) {
    await writeFile(join(out, `observations-${node}-20260301T100000000Z-0000-77.ndjson`), `${lines.join('\n')}\n`);
  }
  return out;
}

/**
 * Every field of the input is in the output, with the same value and its keys first in the same
 * order; arrays keep their elements in front. Allowed changes: `version` + 1, `specVersion` and
 * `$schema` raised to 1.6, a 1.5-style `evidence.identity` object becoming the first array entry.
 */
function expectKept(input: unknown, output: unknown, where: string): void {
  if (Array.isArray(input)) {
    expect(Array.isArray(output), where).toBe(true);
    for (const [i, v] of input.entries()) expectKept(v, (output as unknown[])[i], `${where}[${i}]`);
    return;
  }
  if (input !== null && typeof input === 'object') {
    const o = output as Json;
    const keys = Object.keys(input);
    expect(Object.keys(o).slice(0, keys.length), `${where}: key order`).toEqual(keys);
    for (const k of keys) {
      const v = (input as Json)[k];
      if (k === 'identity' && !Array.isArray(v) && Array.isArray(o[k])) expectKept(v, (o[k] as unknown[])[0], where);
      else expectKept(v, o[k], `${where}.${k}`);
    }
    return;
  }
  expect(output, where).toEqual(input);
}

const property = (c: Json, name: string) =>
  (c.properties as { name: string; value: string }[] | undefined)?.find((p) => p.name === name)?.value;

function* allComponents(list: unknown): Generator<Json> {
  for (const c of (list as Json[] | undefined) ?? []) {
    yield c;
    yield* allComponents(c.components);
  }
}

describe.each([
  ['alpine-syft.cdx.json', 'alpine-syft.map.json'],
  ['trivy-debian.cdx.json', 'trivy-debian.map.json'],
  ['cdxgen-debian.cdx.json', 'cdxgen-debian.map.json'],
  ['rpm-trivy.cdx.json', 'rpm-trivy.map.json'],
  ['generic-nested-1.2.cdx.json', 'generic-nested.map.json'],
  ['generic-evidence-1.7.cdx.json', 'generic-evidence.map.json'],
])('sbom annotate %s', (sbomFile, mapFile) => {
  let input: Json;
  let doc: Awaited<ReturnType<typeof readSbomDocument>>;
  let map: FunctionMap;
  let purls: string[];
  let summary: ReturnType<typeof annotateSbom>;
  let observations: string;
  let tally: Awaited<ReturnType<typeof tallyObservations>>;

  beforeAll(async () => {
    input = JSON.parse(await readFile(join(SBOMS, sbomFile), 'utf8'));
    map = parseFunctionMap(JSON.parse(await readFile(join(MAPS, mapFile), 'utf8')), mapFile);
    const service = map.predicate.service;
    const calls = distinctCalls(map);
    purls = [...new Set(calls.map((c) => c.purl))].sort();
    // The first component's calls seen on two nodes; the second's only through a call the map does
    // not declare; the rest (if any) never; plus noise the window and the service filter must drop.
    const first = calls.filter((c) => c.purl === purls[0]);
    const undeclared: ExpectedCall = {
      ...first[0]!,
      function: 'crypto/EVP_Q_digest',
      symbol: 'EVP_Q_digest',
      purl: purls[1] ?? purls[0]!,
      nodeHash: 'sha256:' + 'e'.repeat(64),
    };
    observations = await writeNodeFiles(sbomFile, {
      'node-a': first.map((c, i) => record(c, service, `2026-03-01T10:0${i % 10}:00.000Z`, 'node-a', i + 1)),
      'node-b': [
        record(first[0]!, service, '2026-03-01T10:59:59.999Z', 'node-b', 3),
        record(undeclared, service, '2026-03-01T10:30:00.000Z', 'node-b', 2),
        // Undeclared, with neither purl nor nodeHash (as syscall probes write): owned by its file.
        record(
          {
            ...first[0]!,
            function: 'crypto/EVP_MD_fetch',
            symbol: 'EVP_MD_fetch',
            purl: undefined!,
            nodeHash: undefined!,
          },
          service,
          '2026-03-01T10:31:00.000Z',
          'node-b',
          4,
        ),
        record(first[0]!, service, '2026-03-01T11:00:00.000Z', 'node-b', 100), // `to` is exclusive
        record(first[0]!, 'another-service', '2026-03-01T10:30:00.000Z', 'node-b', 100),
      ],
      // A node whose only record is from before the window: read, but no node of the evidence.
      'node-c': [record(first[0]!, service, '2026-03-01T09:59:59.999Z', 'node-c', 100)],
    });
    tally = await tallyObservations(map, WINDOW, [observations]);
    doc = await readSbomDocument(join(SBOMS, sbomFile));
    raiseSpecVersion(doc.bom);
    summary = annotateSbom(doc.bom, { map, mapDigest: functionMapDigest(map), tally, window: WINDOW, tool: TOOL });
  });

  it('validates against the CycloneDX JSON schema of its spec version (1.6, or 1.7 kept)', async () => {
    const version = doc.bom.specVersion as Spec.Version;
    expect(['1.6', '1.7']).toContain(version);
    const errors = await new Validation.JsonValidator(version).validate(serializeSbomDocument(doc));
    expect(errors).toBeNull();
  });

  it('keeps every field of the input, in its key order', () => {
    const expected = structuredClone(input);
    expected.version = (input.version as number) + 1;
    expected.specVersion = doc.bom.specVersion;
    if (expected.$schema !== undefined) {
      expect(doc.bom.$schema).toBe(`http://cyclonedx.org/schema/bom-${doc.bom.specVersion}.schema.json`);
      expected.$schema = doc.bom.$schema;
    }
    expectKept(expected, doc.bom, '$');
  });

  it('marks exactly the components whose calls were observed, and never anything unreachable', () => {
    const observed = purls.length > 1 ? [purls[0], purls[1]] : [purls[0]];
    expect(summary.observed.sort()).toEqual(observed.sort());
    expect(summary.notObserved.sort()).toEqual(purls.filter((p) => !observed.includes(p)));
    for (const c of allComponents(doc.bom.components)) {
      const purl = c.purl as string | undefined;
      const value = property(c, 'stella:runtime:observed');
      if (purl !== undefined && observed.includes(purl)) expect(value, purl).toBe('true');
      else if (purl !== undefined && purls.includes(purl)) expect(value, purl).toBe('false');
      else expect(value, purl ?? String(c.name)).toBeUndefined();
      // No field or property of ours names a reachability verdict: that is the user's call.
      expect(JSON.stringify(c)).not.toMatch(/"[^"]*reachab[^"]*":|"name":"[^"]*reachab/i);
    }
  });

  it('counts hits, first/last seen and nodes with the window applied', () => {
    const first = [...allComponents(doc.bom.components)].find((c) => c.purl === purls[0])!;
    const calls = distinctCalls(map).filter((c) => c.purl === purls[0]);
    const hits = (calls.length * (calls.length + 1)) / 2 + 3 + 4 + (purls.length > 1 ? 0 : 2);
    expect(property(first, 'stella:runtime:hitCount')).toBe(String(hits));
    expect(property(first, 'stella:runtime:nodeCount')).toBe('2');
    expect(tally.nodes).toEqual(['node-a', 'node-b', 'node-c']);
    expect(property(doc.bom, 'stella:runtime:nodeCount')).toBe('2');
    expect(property(first, 'stella:runtime:undeclaredFunctions')).toBe(purls.length > 1 ? '1' : '2');
    expect(property(first, 'stella:runtime:firstSeen')).toBe('2026-03-01T10:00:00.000Z');
    expect(property(first, 'stella:runtime:lastSeen')).toBe('2026-03-01T10:59:59.999Z');
    expect(property(first, 'stella:runtime:window')).toBe('2026-03-01T10:00:00.000Z/2026-03-01T11:00:00.000Z');
    const evidence = first.evidence as { identity: Json[]; occurrences: Json[] };
    const ours = evidence.identity.at(-1)!;
    expect(ours).toMatchObject({ field: 'purl', methods: [{ technique: 'instrumentation', confidence: 1 }] });
    const occurrences = evidence.occurrences.filter((o) => String(o.additionalContext).startsWith('stella'));
    expect(occurrences.map((o) => o.symbol).sort()).toEqual(
      [...calls.map((c) => c.symbol), 'EVP_MD_fetch', ...(purls.length > 1 ? [] : ['EVP_Q_digest'])].sort(),
    );
    expect(occurrences.every((o) => calls.some((c) => c.binaryPath === o.location))).toBe(true);
  });

  it('says why an unobserved mapped component was not observed', () => {
    for (const c of allComponents(doc.bom.components)) {
      if (property(c, 'stella:runtime:observed') !== 'false') continue;
      expect(property(c, 'stella:runtime:hitCount')).toBe('0');
      expect(property(c, 'stella:runtime:notObservedReason')).toMatch(
        /none of its \d+ mapped function\(s\) was called/,
      );
      expect(c.evidence === undefined || !JSON.stringify(c.evidence).includes('instrumentation')).toBe(true);
    }
  });

  it('annotating the annotated SBOM again replaces its evidence instead of adding to it', async () => {
    const once = structuredClone(doc.bom);
    const tally = await tallyObservations(map, WINDOW, [observations]);
    annotateSbom(doc.bom, { map, mapDigest: functionMapDigest(map), tally, window: WINDOW, tool: TOOL });
    expect({ ...doc.bom, version: 0 }).toEqual({ ...once, version: 0 });
    expect(doc.bom.version).toBe((once.version as number) + 1);
  });
});

describe('inputs', () => {
  it('tells nodes apart by the agent exporter file names only', () => {
    expect(nodeOfFile('/x/observations-ip-10-0-0-7.ec2-20260301T100000000Z-0003-991.ndjson.gz')).toBe(
      'ip-10-0-0-7.ec2',
    );
    expect(nodeOfFile('.observations-n1-20260301T100000000Z-0000-1.ndjson.partial')).toBe('n1');
    expect(nodeOfFile('/bundle/observations/node-1/2026-01-01.ndjson')).toBe(UNNAMED_NODE);
  });

  it('writes single-line input back as a single line, indented input with its indent', async () => {
    const flat = join(dir, 'flat.cdx.json');
    await writeFile(flat, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 1, components: [] }));
    const doc = await readSbomDocument(flat);
    expect(serializeSbomDocument(doc)).toBe(await readFile(flat, 'utf8'));
    const tabbed = join(dir, 'tabbed.cdx.json');
    await writeFile(
      tabbed,
      `${JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 3 }, null, '\t')}\n`,
    );
    expect(serializeSbomDocument(await readSbomDocument(tabbed))).toBe(await readFile(tabbed, 'utf8'));
  });
});

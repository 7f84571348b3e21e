// SPDX-License-Identifier: Apache-2.0
/**
 * The CycloneDX 1.6 CBOM of what ran: one `cryptographic-asset` component per algorithm the probes
 * read at the call (`cryptoProperties.assetType: algorithm`), one `library` component per library
 * that ran one, `dependencies[].provides` from each library to its algorithms (1.6's way of
 * saying a component implements an algorithm), and `stella:` properties for what the spec has no
 * field for: calls, services, functions, nodes, first and last seen. Calls whose algorithm could
 * not be read (`unknown`) get no component: they are counted in the metadata and the summary.
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { type AlgorithmProfile, algorithmProfile } from './algorithm-properties.js';
import { type AlgorithmTally, type AlgorithmUse, type CbomTally, UNKNOWN } from './tally.js';

const PREFIX = 'stella:';

interface Property {
  name: string;
  value: string;
}
type Json = Record<string, unknown>;

export interface CbomOptions {
  tool: { name: string; version: string };
  window?: { from: Date; to: Date };
  service?: string;
  functionMapDigest?: string;
  now?: Date;
}

const iso = (ms: number) => new Date(ms).toISOString();
const prop = (name: string, value: string | number): Property => ({ name: `${PREFIX}${name}`, value: String(value) });
const algorithmRef = (name: string) => `crypto/algorithm/${name}`;
const libraryRef = (use: AlgorithmUse) => use.purl ?? `file:${use.binaryPath}`;

/** Names sorted by calls, most first, then by name: the same input gives the same document. */
function byCalls(tallies: Iterable<AlgorithmTally>): AlgorithmTally[] {
  return [...tallies].sort((a, b) => b.calls - a.calls || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function sortedUses(t: AlgorithmTally): AlgorithmUse[] {
  const key = (u: AlgorithmUse) => `${u.service}\0${u.binaryPath}\0${u.function}`;
  return [...t.uses.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function algorithmProperties(profile: AlgorithmProfile): Json {
  const out: Json = { primitive: profile.primitive };
  if (profile.parameterSetIdentifier !== undefined) out.parameterSetIdentifier = profile.parameterSetIdentifier;
  if (profile.mode !== undefined) out.mode = profile.mode;
  if (profile.curve !== undefined) out.curve = profile.curve;
  out.executionEnvironment = 'software-plain-ram';
  if (profile.cryptoFunctions.length > 0) out.cryptoFunctions = profile.cryptoFunctions;
  if (profile.classicalSecurityLevel !== undefined) out.classicalSecurityLevel = profile.classicalSecurityLevel;
  if (profile.nistQuantumSecurityLevel !== undefined) out.nistQuantumSecurityLevel = profile.nistQuantumSecurityLevel;
  return out;
}

function algorithmComponent(t: AlgorithmTally): Json {
  const profile = algorithmProfile(t.name);
  const uses = sortedUses(t);
  const distinct = (pick: (u: AlgorithmUse) => string) => [...new Set(uses.map(pick))].sort();
  const properties: Property[] = [
    prop('calls', t.calls),
    prop('firstSeen', iso(t.firstMs)),
    prop('lastSeen', iso(t.lastMs)),
    prop('quantumVulnerable', profile.quantumVulnerable !== undefined ? 'true' : 'false'),
    ...distinct((u) => u.service).map((s) => prop('service', s)),
    ...distinct((u) => u.binaryPath).map((p) => prop('library', p)),
    ...distinct((u) => u.function).map((f) => prop('function', f)),
    ...uses.map((u) =>
      prop(
        'use',
        `service=${u.service} library=${u.binaryPath} function=${u.function} calls=${u.calls} nodes=${[...u.nodes].sort().join(',')}`,
      ),
    ),
  ];
  return {
    type: 'cryptographic-asset',
    'bom-ref': algorithmRef(t.name),
    name: t.name,
    cryptoProperties: { assetType: 'algorithm', algorithmProperties: algorithmProperties(profile) },
    properties,
  };
}

/** The CBOM of `tally`; `serialNumber` and the timestamp are fresh each time. */
export function buildCbom(tally: CbomTally, options: CbomOptions): Json {
  const known = byCalls([...tally.algorithms.values()].filter((t) => t.name !== UNKNOWN));
  const libraries = new Map<string, { use: AlgorithmUse; provides: Set<string> }>();
  for (const t of known) {
    for (const use of t.uses.values()) {
      const ref = libraryRef(use);
      const entry = libraries.get(ref) ?? { use, provides: new Set<string>() };
      entry.provides.add(algorithmRef(t.name));
      libraries.set(ref, entry);
    }
  }
  const refs = [...libraries.keys()].sort();
  const unknownCalls = tally.algorithms.get(UNKNOWN)?.calls ?? 0;
  const metadataProperties: Property[] = [
    ...(options.window
      ? [prop('window.from', options.window.from.toISOString()), prop('window.to', options.window.to.toISOString())]
      : []),
    ...(options.service !== undefined ? [prop('service', options.service)] : []),
    ...(options.functionMapDigest !== undefined ? [prop('functionMap.digest', options.functionMapDigest)] : []),
    prop('observations.read', tally.read),
    prop('observations.malformed', tally.malformed),
    prop('calls.unknownAlgorithm', unknownCalls),
  ];
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: (options.now ?? new Date()).toISOString(),
      tools: { components: [{ type: 'application', name: options.tool.name, version: options.tool.version }] },
      properties: metadataProperties,
    },
    components: [
      ...known.map(algorithmComponent),
      ...refs.map((ref) => {
        const { use } = libraries.get(ref)!;
        return {
          type: 'library',
          'bom-ref': ref,
          name: basename(use.binaryPath),
          ...(use.purl !== undefined ? { purl: use.purl } : {}),
          properties: [prop('binaryPath', use.binaryPath)],
        };
      }),
    ],
    dependencies: refs.map((ref) => ({ ref, provides: [...libraries.get(ref)!.provides].sort() })),
  };
}

/**
 * What a person reads first: the quantum-vulnerable algorithms and where they ran, then the rest,
 * then what could not be read. Plain lines, no colour.
 */
export function cbomSummary(tally: CbomTally): string {
  const all = byCalls(tally.algorithms.values());
  const known = all.filter((t) => t.name !== UNKNOWN);
  const vulnerable = known.filter((t) => algorithmProfile(t.name).quantumVulnerable !== undefined);
  const others = known.filter((t) => algorithmProfile(t.name).quantumVulnerable === undefined);
  const lines: string[] = [];
  const services = new Set(known.flatMap((t) => [...t.uses.values()].map((u) => u.service)));
  lines.push(
    `CBOM: ${known.length} algorithm(s) in ${known.reduce((n, t) => n + t.calls, 0)} call(s) of ${services.size} service(s)`,
  );
  if (vulnerable.length === 0) lines.push('Quantum-vulnerable algorithms (RSA, ECDH, ECDSA, FFDH, ...): none observed');
  else {
    lines.push('Quantum-vulnerable algorithms (broken by Shor; plan their migration):');
    for (const t of vulnerable) {
      lines.push(`  ${t.name} (${algorithmProfile(t.name).quantumVulnerable}): ${t.calls} call(s)`);
      for (const u of sortedUses(t))
        lines.push(`    service ${u.service}: ${u.calls} in ${u.binaryPath} (${u.function.replace(/^[^/]+\//, '')})`);
    }
  }
  if (others.length > 0) lines.push(`Other algorithms: ${others.map((t) => `${t.name} ${t.calls}`).join(', ')}`);
  const unknown = tally.algorithms.get(UNKNOWN);
  if (unknown) {
    const functions = [...new Set([...unknown.uses.values()].map((u) => u.function.replace(/^[^/]+\//, '')))].sort();
    lines.push(
      `Algorithm not readable at the call: ${unknown.calls} call(s) of ${functions.join(', ')} (recorded as unknown, not in the CBOM's components)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

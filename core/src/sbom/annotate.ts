// SPDX-License-Identifier: Apache-2.0
import { normalizePurl } from '../function-map/hash.js';
import type { ExpectedCall, FunctionMap } from '../function-map/types.js';
import type { UnexpectedSymbol } from '../verify/index.js';
import type { ReportReference } from './report-ref.js';
import type { CallTally, ObservationTally } from './tally.js';

/** Prefix of every property this command writes (CycloneDX property taxonomy: one namespace per tool). */
export const PROPERTY_PREFIX = 'stella:';
/** Marks the evidence this command wrote, so annotating an annotated SBOM replaces it. */
const MARK = 'stella runtime linkage: ';

type Json = Record<string, unknown>;
interface Property {
  name: string;
  value: string;
}

export interface AnnotateOptions {
  map: FunctionMap;
  mapDigest: string;
  tally: ObservationTally;
  window: { from: Date; to: Date };
  report?: ReportReference;
  tool: { name: string; version: string };
}

/** What annotation did, per component purl, for the summary line and the tests. */
export interface AnnotationSummary {
  /** Components the map has calls for, plus components with undeclared calls observed. */
  mapped: string[];
  observed: string[];
  notObserved: string[];
  /** Map purls no SBOM component carries (the map was made from another SBOM?). */
  mapPurlsNotInSbom: string[];
}

/** One call of a component: a declared one (with its tally, if seen) or an undeclared one seen. */
interface ComponentCall {
  function: string;
  symbol: string;
  binaryPath: string;
  declared: boolean;
  tally: CallTally | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();
const safeNormal = (purl: string) => {
  try {
    return normalizePurl(purl);
  } catch {
    return undefined;
  }
};

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function callsByPurl(map: FunctionMap): Map<string, ExpectedCall[]> {
  const out = new Map<string, ExpectedCall[]>();
  const seen = new Set<string>();
  for (const path of map.predicate.expectedPaths) {
    for (const call of path.expectedCalls) {
      if (seen.has(call.nodeHash)) continue;
      seen.add(call.nodeHash);
      push(out, call.purl, call);
    }
  }
  return out;
}

const unexpectedKey = (u: UnexpectedSymbol) => u.nodeHash ?? `${u.function}\u0000${u.binaryPath}`;

/** Every component object of the SBOM, nested ones included, in document order. */
function* componentsOf(list: unknown): Generator<Json> {
  if (!Array.isArray(list)) return;
  for (const c of list) {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) continue;
    yield c as Json;
    yield* componentsOf((c as Json).components);
  }
}

function withoutOurProperties(list: unknown): Property[] {
  return (Array.isArray(list) ? (list as Property[]) : []).filter(
    (p) => !(typeof p?.name === 'string' && p.name.startsWith(PROPERTY_PREFIX)),
  );
}

function describeCall(c: ComponentCall, t: CallTally, window: string): string {
  const seen = t.firstMs === t.lastMs ? `at ${iso(t.firstMs)}` : `from ${iso(t.firstMs)} to ${iso(t.lastMs)}`;
  const nodes = `${t.nodes.size} node${t.nodes.size === 1 ? '' : 's'}`;
  const undeclared = c.declared ? '' : '; not declared in the function map';
  return `${MARK}${c.function} called ${t.hits} time${t.hits === 1 ? '' : 's'} ${seen} on ${nodes} (window ${window})${undeclared}`;
}

function notObservedReason(component: ComponentCall[], inWindow: number, service: string): string {
  if (inWindow === 0) {
    return `no observation of service "${service}" was read in the window: check --from/--to and --observations`;
  }
  return `none of its ${component.length} mapped function(s) was called in the window; whether the probe could see this library is not known without canary data; not observed does not mean unreachable`;
}

/**
 * Adds runtime evidence to a parsed CycloneDX SBOM, in place (every existing field and its key
 * order kept; new keys go after them). Components the function map names get `properties` under
 * `stella:`; observed ones also get `evidence.identity[]` (technique `instrumentation`) and one
 * `evidence.occurrences[]` entry per function seen. Nothing is ever marked unreachable.
 */
export function annotateSbom(bom: Json, options: AnnotateOptions): AnnotationSummary {
  const { tally, map, report } = options;
  const window = `${options.window.from.toISOString()}/${options.window.to.toISOString()}`;
  const declared = callsByPurl(map);
  const declaredByNormal = new Map<string, ExpectedCall[]>();
  for (const [purl, calls] of declared) {
    const n = safeNormal(purl);
    if (n !== undefined) for (const c of calls) push(declaredByNormal, n, c);
  }
  // An undeclared call belongs to the component its record names, else to the one the map says
  // owns its file (syscall probes record libc's path, not a package).
  const purlOfFile = new Map<string, string>();
  for (const calls of declared.values()) for (const c of calls) purlOfFile.set(c.binaryPath, c.purl);
  const undeclared = new Map<string, UnexpectedSymbol[]>();
  for (const u of tally.report.unexpectedSymbols) {
    const owner = u.purl ?? purlOfFile.get(u.binaryPath);
    if (owner !== undefined) push(undeclared, owner, u);
  }
  const skipped = tally.report.observationsSkipped;
  const inWindow = tally.report.observationsRead - skipped.malformed - skipped.outOfWindow - skipped.otherService;

  const summary: AnnotationSummary = { mapped: [], observed: [], notObserved: [], mapPurlsNotInSbom: [] };
  const purlsInSbom = new Set<string>();
  for (const component of componentsOf(bom.components)) {
    const purl = component.purl;
    if (typeof purl !== 'string') continue;
    purlsInSbom.add(purl);
    const normal = safeNormal(purl);
    // The map names the SBOM's purl as it was; a regenerated SBOM may differ in version only.
    const mappedCalls = declared.get(purl) ?? (normal !== undefined ? declaredByNormal.get(normal) : undefined) ?? [];
    if (declared.has(purl) === false && mappedCalls.length > 0) for (const c of mappedCalls) purlsInSbom.add(c.purl);
    const calls: ComponentCall[] = mappedCalls.map((c) => ({
      function: c.function,
      symbol: c.symbol,
      binaryPath: c.binaryPath,
      declared: true,
      tally: tally.expected.get(c.nodeHash),
    }));
    for (const u of undeclared.get(purl) ?? []) {
      calls.push({
        function: u.function,
        symbol: u.symbol,
        binaryPath: u.binaryPath,
        declared: false,
        tally: tally.unexpected.get(unexpectedKey(u)),
      });
    }
    if (calls.length === 0) continue;
    annotateComponent(component, calls, options, window, inWindow);
    summary.mapped.push(purl);
    (calls.some((c) => c.tally) ? summary.observed : summary.notObserved).push(purl);
  }
  summary.mapPurlsNotInSbom = [...declared.keys()].filter((p) => !purlsInSbom.has(p)).sort();

  annotateDocument(bom, options, window, summary, inWindow);
  if (report !== undefined) addReportReference(bom, report);
  return summary;
}

function annotateComponent(
  component: Json,
  calls: ComponentCall[],
  options: AnnotateOptions,
  window: string,
  inWindow: number,
): void {
  const seen = calls.filter((c): c is ComponentCall & { tally: CallTally } => c.tally !== undefined);
  const declaredCount = calls.filter((c) => c.declared).length;
  const properties: Property[] = [
    { name: 'stella:runtime:observed', value: String(seen.length > 0) },
    { name: 'stella:runtime:window', value: window },
    { name: 'stella:runtime:mappedFunctions', value: String(declaredCount) },
    { name: 'stella:runtime:observedFunctions', value: String(seen.length) },
  ];
  if (seen.length > 0) {
    const nodes = new Set(seen.flatMap((c) => [...c.tally.nodes]));
    properties.push(
      { name: 'stella:runtime:hitCount', value: String(seen.reduce((n, c) => n + c.tally.hits, 0)) },
      { name: 'stella:runtime:firstSeen', value: iso(Math.min(...seen.map((c) => c.tally.firstMs))) },
      { name: 'stella:runtime:lastSeen', value: iso(Math.max(...seen.map((c) => c.tally.lastMs))) },
      { name: 'stella:runtime:nodeCount', value: String(nodes.size) },
    );
    const undeclared = seen.filter((c) => !c.declared).length;
    if (undeclared > 0) properties.push({ name: 'stella:runtime:undeclaredFunctions', value: String(undeclared) });
  } else {
    properties.push(
      { name: 'stella:runtime:hitCount', value: '0' },
      {
        name: 'stella:runtime:notObservedReason',
        value: notObservedReason(calls, inWindow, options.map.predicate.service),
      },
    );
  }
  properties.push(
    { name: 'stella:functionMap:service', value: options.map.predicate.service },
    { name: 'stella:functionMap:digest', value: options.mapDigest },
  );

  const evidence = (component.evidence && typeof component.evidence === 'object' ? component.evidence : {}) as Json;
  // Earlier runs' evidence goes; everything else the generator wrote stays, in its order.
  const identity = (
    Array.isArray(evidence.identity) ? evidence.identity : evidence.identity ? [evidence.identity] : []
  ).filter((i: Json) => !(Array.isArray(i?.methods) && i.methods.some(isOurMethod)));
  const occurrences = (Array.isArray(evidence.occurrences) ? evidence.occurrences : []).filter(
    (o: Json) => !(typeof o?.additionalContext === 'string' && o.additionalContext.startsWith(MARK)),
  );
  if (seen.length > 0) {
    const files = [...new Set(seen.map((c) => c.binaryPath))].sort();
    const hits = seen.reduce((n, c) => n + c.tally.hits, 0);
    identity.push({
      field: 'purl',
      concludedValue: component.purl,
      methods: [
        {
          technique: 'instrumentation',
          // The calls were seen in the very files the map attributes to this component.
          confidence: 1,
          value: `${MARK}${hits} call(s) of ${seen.length} function(s) observed with eBPF probes in ${files.join(', ')} (window ${window})`,
        },
      ],
    });
    const sorted = [...seen].sort(
      (a, b) => a.binaryPath.localeCompare(b.binaryPath) || a.function.localeCompare(b.function),
    );
    for (const c of sorted) {
      occurrences.push({
        location: c.binaryPath,
        symbol: c.symbol,
        additionalContext: describeCall(c, c.tally, window),
      });
    }
  }
  if (identity.length > 0) evidence.identity = identity;
  else delete evidence.identity;
  if (occurrences.length > 0) evidence.occurrences = occurrences;
  else delete evidence.occurrences;
  if (Object.keys(evidence).length > 0) component.evidence = evidence;
  component.properties = [...withoutOurProperties(component.properties), ...properties];
}

function isOurMethod(m: Json): boolean {
  return m?.technique === 'instrumentation' && typeof m.value === 'string' && m.value.startsWith(MARK);
}

function annotateDocument(
  bom: Json,
  options: AnnotateOptions,
  window: string,
  summary: AnnotationSummary,
  inWindow: number,
): void {
  // CycloneDX: a modified BOM keeps its serialNumber and increments its version.
  if (typeof bom.version === 'number' && Number.isInteger(bom.version)) bom.version += 1;
  const metadata = (bom.metadata && typeof bom.metadata === 'object' ? bom.metadata : {}) as Json;
  const tool = { type: 'application', name: options.tool.name, version: options.tool.version };
  if (Array.isArray(metadata.tools)) {
    // The 1.4-style list: add ours in that style rather than mixing the two forms.
    const tools = (metadata.tools as Json[]).filter((t) => t?.name !== options.tool.name);
    metadata.tools = [...tools, { name: tool.name, version: tool.version }];
  } else {
    const tools = (metadata.tools && typeof metadata.tools === 'object' ? metadata.tools : {}) as Json;
    const components = (Array.isArray(tools.components) ? (tools.components as Json[]) : []).filter(
      (t) => t?.name !== options.tool.name,
    );
    tools.components = [...components, tool];
    metadata.tools = tools;
  }
  bom.metadata = metadata;
  const r = options.tally.report;
  const properties: Property[] = [
    { name: 'stella:runtime:window', value: window },
    { name: 'stella:functionMap:service', value: options.map.predicate.service },
    { name: 'stella:functionMap:digest', value: options.mapDigest },
    { name: 'stella:runtime:observationsInWindow', value: String(inWindow) },
    { name: 'stella:runtime:nodeCount', value: String(options.tally.nodesInWindow.length) },
    { name: 'stella:runtime:mappedComponents', value: String(summary.mapped.length) },
    { name: 'stella:runtime:observedComponents', value: String(summary.observed.length) },
    { name: 'stella:runtime:observationRate', value: String(r.observationRate) },
  ];
  bom.properties = [...withoutOurProperties(bom.properties), ...properties];
}

function addReportReference(bom: Json, report: ReportReference): void {
  const others = (Array.isArray(bom.externalReferences) ? (bom.externalReferences as Json[]) : []).filter(
    (e) => !(e?.type === 'runtime-analysis-report' && typeof e.comment === 'string' && e.comment.startsWith(MARK)),
  );
  const what = report.envelope
    ? `DSSE envelope (${report.envelope.payloadType}${report.envelope.verifiedKeyid ? `, signature verified with key ${report.envelope.verifiedKeyid}` : ', signature not checked here'}) of the verification report`
    : 'verification report';
  others.push({
    url: report.url,
    type: 'runtime-analysis-report',
    comment: `${MARK}${what}: verdict ${report.verdict}, observation rate ${report.observationRate}, window ${report.window.from}/${report.window.to}, function map ${report.functionMapDigest}`,
    hashes: [{ alg: 'SHA-256', content: report.sha256 }],
  });
  bom.externalReferences = others;
}

// SPDX-License-Identifier: Apache-2.0
import { basename } from 'node:path';
import type { CatalogueEntry, CatalogueFunction, CatalogueLibrary, ComponentMatcher, Priority } from '@stella/sdk';
import picomatch from 'picomatch';
import { InputError } from '../errors.js';
import { nodeHash, pathHash } from './hash.js';
import { parseFunctionMap } from './parse.js';
import { defaultLibraryPath, RootfsResolver } from './rootfs.js';
import type { ParsedSbom, SbomComponent } from './sbom.js';
import type { StaticAnalysis } from './static-analysis.js';
import {
  type ExpectedCall,
  type ExpectedPath,
  FUNCTION_MAP_PREDICATE_TYPE,
  FUNCTION_MAP_SCHEMA_VERSION,
  type FunctionMap,
  type PathEntrypoint,
} from './types.js';

/** Highest first (docs/FUNCTION-MAP.md): crypto > auth > net > general. */
export const PRIORITY_RANK: Record<Priority, number> = { crypto: 3, auth: 2, net: 1, general: 0 };
const CATEGORY_PRIORITY: Record<string, Priority> = { crypto: 'crypto', tls: 'crypto', auth: 'auth', net: 'net' };

export interface GenerateOptions {
  sbom: ParsedSbom;
  /** How the map refers to the SBOM (`generatedFrom.sbomRef`), e.g. the path given. */
  sbomRef: string;
  service: string;
  /** Libraries and functions, collected from the probe plugins' catalogues. */
  catalogue: readonly CatalogueEntry[];
  /** Globs over function ids (`crypto/*`, `tls/SSL_*`); default every function (`*\/*`). */
  hotFunctions?: readonly string[];
  /** Default 0.95. */
  minRate?: number;
  /** Default 1800. */
  windowSeconds?: number;
  buildId?: string;
  failOnUnexpected?: boolean;
  /** Resolve each library to a file in this root, check symbols in its ELF, record build-ids. */
  rootfs?: string;
  staticAnalysis?: StaticAnalysis;
  staticAnalysisRef?: string;
  tagMinRates?: Readonly<Record<string, number>>;
  /** Paths whose priority is strictly below this one are marked optional. */
  optionalBelow?: Priority;
  generator: { name: string; version: string; commit?: string };
  now?: Date;
}

export interface GenerateResult {
  map: FunctionMap;
  /** One sentence each: dropped symbols, libraries not found, nothing recognised. */
  warnings: string[];
}

const asList = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

function matcher(m: ComponentMatcher): (c: SbomComponent) => boolean {
  const types = asList(m.purlType)?.map((t) => t.toLowerCase());
  const names = picomatch(asList(m.name)!, { nocase: true });
  const namespaces = asList(m.namespace);
  const ns = namespaces ? picomatch(namespaces, { nocase: true }) : undefined;
  return (c) =>
    (!types || types.includes(c.type)) && names(c.name) && (!ns || (c.namespace !== undefined && ns(c.namespace)));
}

interface LibraryCalls {
  component: SbomComponent;
  library: CatalogueLibrary;
  binaryPath: string;
  calls: { fn: CatalogueFunction; call: ExpectedCall }[];
}

const functionId = (f: CatalogueFunction) => `${f.category}/${f.symbol}`;
const tagsOf = (f: CatalogueFunction) => (f.tags && f.tags.length > 0 ? f.tags : [String(f.category)]);
const priorityOf = (f: CatalogueFunction): Priority => f.priority ?? CATEGORY_PRIORITY[f.category] ?? 'general';
/** The any-of group of a function: an optional function's first tag besides its category. */
const groupOf = (f: CatalogueFunction) => (f.optional ? tagsOf(f).find((t) => t !== f.category) : undefined);

/**
 * Builds a function map from an SBOM and the plugins' catalogues. Paths, in order of priority then
 * id: one per required function, one per any-of group (optional functions of one library sharing a
 * tag besides their category), one optional path per other optional function, and one per
 * static-analysis chain (which replaces the single-call paths of the functions it covers).
 */
export async function generateFunctionMap(options: GenerateOptions): Promise<GenerateResult> {
  const warnings: string[] = [];
  const { sbom, service } = options;
  const hot = picomatch(options.hotFunctions && options.hotFunctions.length > 0 ? [...options.hotFunctions] : ['*/*']);
  const resolver = options.rootfs ? await RootfsResolver.open(options.rootfs) : undefined;
  const subjectPurl = sbom.subject.purl ?? `pkg:generic/${encodeURIComponent(service)}`;
  const defaultEntry: PathEntrypoint = { symbol: 'main', purl: subjectPurl, nodeHash: nodeHash(subjectPurl, 'main') };

  const entries = options.catalogue.map((entry) => ({ entry, matches: matcher(entry.match) }));
  const allIds = new Set(options.catalogue.flatMap((e) => e.libraries.flatMap((l) => l.functions.map(functionId))));
  for (const glob of options.hotFunctions ?? []) {
    const one = picomatch(glob);
    if (![...allIds].some((id) => one(id))) {
      warnings.push(
        `--hot-functions ${glob} matches no function of the catalogues (function ids look like crypto/EVP_DigestInit_ex, tls/SSL_connect)`,
      );
    }
  }
  const components = [...sbom.components].sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
  const libraries: LibraryCalls[] = [];
  const seenFiles = new Map<string, string>();
  let matchedComponents = 0;

  for (const component of components) {
    const hits = entries.filter((e) => e.matches(component));
    if (hits.length > 0) matchedComponents++;
    for (const { entry } of hits) {
      for (const library of entry.libraries) {
        const wanted = library.functions.filter((f) => hot(functionId(f)));
        if (wanted.length === 0) continue;
        let binaryPath: string;
        let buildId: string | undefined;
        let present: Set<string> | undefined;
        if (resolver) {
          const resolved = await resolver.resolve(component, library);
          if (!resolved) {
            warnings.push(
              `${library.library} of ${component.purl} (${entry.name}) was not found under ${options.rootfs}; its ${wanted.length} function(s) are left out`,
            );
            continue;
          }
          binaryPath = resolved.binaryPath;
          const elf = await resolver.readElf(resolved).catch((error: Error) => {
            warnings.push(
              `${resolved.hostPath} could not be read as ELF (${error.message}); its functions are left out`,
            );
            return undefined;
          });
          if (!elf) continue;
          buildId = elf.buildId;
          present = elf.functions;
        } else binaryPath = defaultLibraryPath(component, library);

        const owner = seenFiles.get(binaryPath);
        if (owner !== undefined && owner !== component.purl) {
          warnings.push(`${binaryPath} is already mapped through ${owner}; ${component.purl} adds nothing`);
          continue;
        }
        seenFiles.set(binaryPath, component.purl);

        const absent = present ? wanted.filter((f) => !present.has(f.symbol)) : [];
        if (absent.length > 0) {
          warnings.push(
            `${absent.length} symbol(s) of ${entry.name} are not exported by ${binaryPath} and were dropped: ${absent.map((f) => f.symbol).join(', ')}`,
          );
        }
        const calls = wanted
          .filter((f) => !absent.includes(f))
          .map((fn) => {
            const call: ExpectedCall = {
              function: functionId(fn),
              symbol: fn.symbol,
              library: library.library,
              purl: component.purl,
              binaryPath,
              probeTypes: fn.probeTypes && fn.probeTypes.length > 0 ? [...fn.probeTypes] : ['uprobe'],
              nodeHash: nodeHash(component.purl, fn.symbol),
              optional: fn.optional === true,
            };
            if (buildId !== undefined) call.buildId = buildId;
            return { fn, call };
          });
        if (calls.length > 0) libraries.push({ component, library, binaryPath, calls });
      }
    }
  }

  if (matchedComponents === 0) {
    const byType = new Map<string, number>();
    for (const c of sbom.components) byType.set(c.type, (byType.get(c.type) ?? 0) + 1);
    const seen =
      [...byType]
        .sort()
        .map(([t, n]) => `${t}: ${n}`)
        .join(', ') || 'none with a purl';
    const examples = components
      .slice(0, 5)
      .map((c) => c.purl)
      .join(', ');
    warnings.push(
      `no component of ${options.sbomRef} matched a catalogue entry, so the map has no expected paths; saw ${sbom.components.length} component(s) with a purl (${seen})` +
        (sbom.skipped > 0 ? ` and ${sbom.skipped} without a usable purl` : '') +
        (examples ? `, e.g. ${examples}` : ''),
    );
  }

  const rankBelow = options.optionalBelow ? PRIORITY_RANK[options.optionalBelow] : -1;
  const makePath = (
    pathId: string,
    fns: CatalogueFunction[],
    calls: ExpectedCall[],
    optional: boolean,
    description: string,
    entrypoint: PathEntrypoint = defaultEntry,
  ): ExpectedPath => {
    const tags = [...new Set(fns.flatMap(tagsOf))];
    const priority = fns
      .map(priorityOf)
      .reduce((a, b) => (PRIORITY_RANK[b] > PRIORITY_RANK[a] ? b : a), 'general' as Priority);
    return {
      pathId,
      description,
      tags,
      priority,
      optional: optional || PRIORITY_RANK[priority] < rankBelow,
      entrypoint,
      expectedCalls: calls,
      pathHash: pathHash([entrypoint.nodeHash, ...calls.map((c) => c.nodeHash)]),
    };
  };

  // Static-analysis chains first: they decide which single-call paths disappear.
  const chainPaths: ExpectedPath[] = [];
  const coveredByChains = new Set<ExpectedCall>();
  for (const ep of options.staticAnalysis?.entrypoints ?? []) {
    const entryPurl = ep.purl ?? subjectPurl;
    const entrypoint: PathEntrypoint = { symbol: ep.symbol, purl: entryPurl, nodeHash: nodeHash(entryPurl, ep.symbol) };
    ep.chains.forEach((chain, j) => {
      const resolved: { fn: CatalogueFunction; call: ExpectedCall }[] = [];
      for (const ref of chain) {
        const candidates = libraries.flatMap((l) =>
          l.calls.filter(
            (c) =>
              c.call.function === ref.function &&
              (!ref.library || ref.library === l.library.library || ref.library === basename(l.binaryPath)),
          ),
        );
        const label = ref.library ? `${ref.function}@${ref.library}` : ref.function;
        if (candidates.length === 0) {
          warnings.push(
            `static analysis: ${ep.symbol} chain ${j} calls ${label}, which is not in the map; the chain is left out`,
          );
          return;
        }
        if (candidates.length > 1) {
          throw new InputError(
            `static analysis ${options.staticAnalysisRef ?? ''}: ${ep.symbol} chain ${j}: ${label} is carried by ${candidates.map((c) => c.call.binaryPath).join(' and ')}; write ${ref.function}@<library> to choose`,
          );
        }
        resolved.push(candidates[0]!);
      }
      for (const r of resolved) coveredByChains.add(r.call);
      chainPaths.push(
        makePath(
          `${ep.symbol}#${j}`,
          resolved.map((r) => r.fn),
          resolved.map((r) => ({ ...r.call, optional: false })),
          false,
          ep.description ?? `${ep.symbol} → ${resolved.map((r) => r.call.function).join(' → ')}`,
          entrypoint,
        ),
      );
    });
  }

  const paths: ExpectedPath[] = [...chainPaths];
  for (const lib of libraries) {
    const libName = basename(lib.binaryPath);
    const groups = new Map<string, typeof lib.calls>();
    for (const item of lib.calls) {
      const group = groupOf(item.fn);
      if (group !== undefined) {
        const list = groups.get(group) ?? [];
        list.push(item);
        groups.set(group, list);
        continue;
      }
      if (coveredByChains.has(item.call)) continue;
      paths.push(
        makePath(
          `${item.call.function}:${libName}`,
          [item.fn],
          [item.call],
          item.fn.optional === true,
          item.fn.description ?? `${item.call.function} in ${libName} (${lib.component.purl})`,
        ),
      );
    }
    for (const [group, items] of groups) {
      paths.push(
        makePath(
          `${group}:${libName}`,
          items.map((i) => i.fn),
          items.map((i) => i.call),
          false,
          `any of ${items.map((i) => i.fn.symbol).join(', ')} in ${libName} (${lib.component.purl})`,
        ),
      );
    }
  }
  // Unique ids even when two files share a base name.
  const ids = new Map<string, number>();
  for (const p of paths) {
    const n = (ids.get(p.pathId) ?? 0) + 1;
    ids.set(p.pathId, n);
    if (n > 1) p.pathId = `${p.pathId}#${n}`;
  }
  paths.sort(
    (a, b) =>
      PRIORITY_RANK[b.priority] - PRIORITY_RANK[a.priority] || (a.pathId < b.pathId ? -1 : a.pathId > b.pathId ? 1 : 0),
  );

  const tagMinRates = options.tagMinRates ?? {};
  for (const tag of Object.keys(tagMinRates).sort()) {
    if (!paths.some((p) => p.tags.includes(tag))) warnings.push(`--tag-min-rate ${tag}: no path carries tag "${tag}"`);
  }

  const generatedFrom: FunctionMap['predicate']['generatedFrom'] = {
    sbomRef: options.sbomRef,
    sbomDigest: sbom.digest,
  };
  if (options.staticAnalysisRef && generatedFrom) generatedFrom.staticAnalysisRef = options.staticAnalysisRef;
  const map: FunctionMap = {
    _type: FUNCTION_MAP_PREDICATE_TYPE,
    subject: {
      purl: subjectPurl,
      // The image/application digest when the SBOM names one, else the SBOM's own digest.
      digest: { sha256: sbom.subject.sha256 ?? sbom.digest.slice('sha256:'.length) },
      name: sbom.subject.name ?? service,
    },
    predicate: {
      schemaVersion: FUNCTION_MAP_SCHEMA_VERSION,
      service,
      ...(options.buildId !== undefined ? { buildId: options.buildId } : {}),
      generatedAt: (options.now ?? new Date()).toISOString(),
      generatedFrom,
      generator: { ...options.generator },
      coverage: {
        minObservationRate: options.minRate ?? 0.95,
        windowSeconds: options.windowSeconds ?? 1800,
        failOnUnexpected: options.failOnUnexpected ?? false,
        ...(Object.keys(tagMinRates).length > 0
          ? {
              perTag: Object.fromEntries(
                Object.keys(tagMinRates)
                  .sort()
                  .map((t) => [t, tagMinRates[t]!]),
              ),
            }
          : {}),
      },
      hotFunctions: options.hotFunctions && options.hotFunctions.length > 0 ? [...options.hotFunctions] : ['*/*'],
      expectedPaths: paths,
    },
  };
  // What we write must read back: a failure here is a bug, reported with every schema problem.
  parseFunctionMap(structuredClone(map), 'the generated map');
  return { map, warnings };
}

/** Byte-stable serialisation (two-space JSON, trailing newline); only `generatedAt` varies between runs. */
export function serializeFunctionMap(map: FunctionMap): string {
  return JSON.stringify(map, null, 2) + '\n';
}

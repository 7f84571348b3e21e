// SPDX-License-Identifier: Apache-2.0
import { basename } from 'node:path';
import type { Priority, ProbeType } from '@stella/sdk';
import picomatch from 'picomatch';
import type { UnexpectedSymbol, VerificationReport } from '../verify/index.js';
import { PRIORITY_RANK } from './generate.js';
import { nodeHash, pathHash } from './hash.js';
import type { ExpectedCall, ExpectedPath, FunctionMap, LearningProvenance, PathEntrypoint } from './types.js';

/** One line of the learning diff: what happened to a path (or an undeclared call) and why. */
export type LearnChange =
  | { kind: 'kept-required'; pathId: string; hitCount: number }
  | { kind: 'kept-optional'; pathId: string; hitCount: number }
  | { kind: 'became-optional'; pathId: string }
  | { kind: 'dropped'; pathId: string }
  /** Observed, but some required calls never were: those calls become optional, the path stays required. */
  | { kind: 'calls-became-optional'; pathId: string; hitCount: number; calls: string[] }
  | { kind: 'added'; pathId: string; function: string; binaryPath: string; hitCount: number }
  /** Observed but undeclared and not accepted: listed for review. */
  | { kind: 'review'; function: string; binaryPath: string; hitCount: number };

export interface LearnOptions {
  map: FunctionMap;
  /** The verifier's report of the learning window against `map`. */
  report: VerificationReport;
  provenance: LearningProvenance;
  /** Drop required paths never observed instead of making them optional. */
  dropUnobserved?: boolean;
  /**
   * Add observed undeclared calls as required paths instead of listing them for review: all of
   * them (`true`), or those whose function id matches one of these globs (`net/*`, `tls/SSL_*`).
   */
  acceptUnexpected?: boolean | readonly string[];
  generator: { name: string; version: string };
  now?: Date;
}

export interface LearnResult {
  map: FunctionMap;
  changes: LearnChange[];
}

const CATEGORY_PRIORITY: Record<string, Priority> = { crypto: 'crypto', tls: 'crypto', auth: 'auth', net: 'net' };
/** Syscall categories fall back from kprobes to tracepoints (docs/KERNEL.md §1); library ones are uprobes. */
const CATEGORY_PROBES: Record<string, ProbeType[]> = { net: ['kprobe', 'tracepoint'], file: ['kprobe', 'tracepoint'] };

/**
 * Refines a map from what a learning window observed (issue 17): observed paths stay as they
 * are; a required path never observed becomes optional (or is dropped); a required path observed
 * only in part keeps its observed calls required and the others become optional; undeclared calls
 * observed are added as required paths when accepted, else listed for review. Under the result,
 * the same observations leave no required path unobserved.
 */
export function learnFunctionMap(options: LearnOptions): LearnResult {
  const { map, report } = options;
  const changes: LearnChange[] = [];
  const paths: ExpectedPath[] = [];
  map.predicate.expectedPaths.forEach((path, i) => {
    const result = report.paths[i];
    if (result === undefined || result.pathId !== path.pathId) {
      throw new Error(`report path ${i} is not ${path.pathId}: the report was not made from this map`);
    }
    if (path.optional) {
      changes.push({ kind: 'kept-optional', pathId: path.pathId, hitCount: result.hitCount });
      paths.push(path);
    } else if (result.observed) {
      changes.push({ kind: 'kept-required', pathId: path.pathId, hitCount: result.hitCount });
      paths.push(path);
    } else if (result.hitCount > 0 && path.expectedCalls.some((c) => !c.optional)) {
      const missing = new Set(result.missingCalls.map((c) => c.nodeHash));
      const calls = path.expectedCalls.map((c) => (missing.has(c.nodeHash) ? { ...c, optional: true } : c));
      changes.push({
        kind: 'calls-became-optional',
        pathId: path.pathId,
        hitCount: result.hitCount,
        calls: result.missingCalls.map((c) => c.function),
      });
      paths.push({ ...path, expectedCalls: calls });
    } else if (options.dropUnobserved) {
      changes.push({ kind: 'dropped', pathId: path.pathId });
    } else {
      changes.push({ kind: 'became-optional', pathId: path.pathId });
      paths.push({ ...path, optional: true });
    }
  });

  const ids = new Set(paths.map((p) => p.pathId));
  const accepts = acceptsUnexpected(options.acceptUnexpected);
  for (const u of report.unexpectedSymbols) {
    if (!accepts(u.function)) {
      changes.push({ kind: 'review', function: u.function, binaryPath: u.binaryPath, hitCount: u.hitCount });
      continue;
    }
    const path = learnedPath(map, u, ids);
    ids.add(path.pathId);
    paths.push(path);
    changes.push({
      kind: 'added',
      pathId: path.pathId,
      function: u.function,
      binaryPath: u.binaryPath,
      hitCount: u.hitCount,
    });
  }

  const { generatedFrom, ...rest } = map.predicate;
  const learned: FunctionMap = {
    ...map,
    predicate: {
      ...rest,
      generatedAt: (options.now ?? new Date()).toISOString(),
      generatedFrom: { ...generatedFrom, learning: options.provenance },
      generator: { ...options.generator },
      expectedPaths: paths,
    },
  };
  // Key order as generate writes it: generatedFrom and generator where they were.
  learned.predicate = reorderLike(map.predicate, learned.predicate);
  return { map: learned, changes };
}

function acceptsUnexpected(accept: LearnOptions['acceptUnexpected']): (functionId: string) => boolean {
  if (accept === undefined || accept === false) return () => false;
  if (accept === true) return () => true;
  return picomatch([...accept]);
}

function reorderLike<T extends object>(model: T, value: T): T {
  const out: Record<string, unknown> = {};
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(model)) if (key in v) out[key] = v[key];
  for (const key of Object.keys(v)) if (!(key in out)) out[key] = v[key];
  return out as T;
}

/** An undeclared call observed in the window, as a required single-call path. */
function learnedPath(map: FunctionMap, u: UnexpectedSymbol, taken: Set<string>): ExpectedPath {
  const category = u.function.slice(0, u.function.indexOf('/'));
  const allCalls = map.predicate.expectedPaths.flatMap((p) => p.expectedCalls);
  const sameFile = allCalls.find((c) => c.binaryPath === u.binaryPath);
  const sameCategory = allCalls.find((c) => c.function.startsWith(`${category}/`));
  const library = basename(u.binaryPath);
  const purl = u.purl ?? sameFile?.purl ?? `pkg:generic/${encodeURIComponent(library)}`;
  const call: ExpectedCall = {
    function: u.function,
    symbol: u.symbol,
    library: sameFile?.library ?? library,
    purl,
    binaryPath: u.binaryPath,
    ...(sameFile?.buildId !== undefined ? { buildId: sameFile.buildId } : {}),
    probeTypes: [...(sameCategory?.probeTypes ?? CATEGORY_PROBES[category] ?? ['uprobe'])],
    // Records carrying a nodeHash match on it, so the learned call must have the very same one.
    nodeHash: u.nodeHash ?? nodeHash(purl, u.symbol),
    optional: false,
  };
  const subjectPurl = map.subject.purl;
  const entrypoint: PathEntrypoint = map.predicate.expectedPaths.find((p) => p.entrypoint?.symbol === 'main')
    ?.entrypoint ?? { symbol: 'main', purl: subjectPurl, nodeHash: nodeHash(subjectPurl, 'main') };
  let pathId = `${u.function}:${library}`;
  for (let n = 2; taken.has(pathId); n++) pathId = `${u.function}:${library}#${n}`;
  const priority = CATEGORY_PRIORITY[category] ?? 'general';
  return {
    pathId,
    description: `learned: ${u.function} in ${library}, called ${u.hitCount} time(s) from ${u.firstSeen} to ${u.lastSeen}, undeclared in the map it was learned from`,
    tags: [category],
    priority: PRIORITY_RANK[priority] !== undefined ? priority : 'general',
    optional: false,
    entrypoint,
    expectedCalls: [call],
    pathHash: pathHash([entrypoint.nodeHash, call.nodeHash]),
  };
}

/** The diff a person reads: one line per path or undeclared call, then a summary. */
export function formatLearnDiff(result: LearnResult, base: FunctionMap): string {
  const lines: string[] = [];
  const hits = (n: number) => `${n} hit${n === 1 ? '' : 's'}`;
  const count = (kind: LearnChange['kind']) => result.changes.filter((c) => c.kind === kind).length;
  for (const c of result.changes) {
    switch (c.kind) {
      case 'kept-required':
        lines.push(`  = ${c.pathId}: stays required, observed (${hits(c.hitCount)})`);
        break;
      case 'kept-optional':
        // Unchanged and never counted: listed only when it ran, so the diff stays about changes.
        if (c.hitCount > 0) lines.push(`  = ${c.pathId}: stays optional (${hits(c.hitCount)})`);
        break;
      case 'became-optional':
        lines.push(`  ~ ${c.pathId}: required → optional, never observed (0 hits)`);
        break;
      case 'dropped':
        lines.push(`  - ${c.pathId}: dropped, never observed (0 hits)`);
        break;
      case 'calls-became-optional':
        lines.push(
          `  ~ ${c.pathId}: stays required on the calls observed (${hits(c.hitCount)}); never called, now optional: ${c.calls.join(', ')}`,
        );
        break;
      case 'added':
        lines.push(
          `  + ${c.pathId}: added as required, observed but undeclared (${hits(c.hitCount)}) in ${c.binaryPath}`,
        );
        break;
      case 'review':
        lines.push(`  ? ${c.function} in ${c.binaryPath}: observed but undeclared (${hits(c.hitCount)}), not added`);
        break;
    }
  }
  const before = base.predicate.expectedPaths.filter((p) => !p.optional).length;
  const after = result.map.predicate.expectedPaths.filter((p) => !p.optional).length;
  lines.push(
    `required paths ${before} → ${after}: ${count('kept-required')} observed and kept, ${count('kept-optional')} optional unchanged, ${count('became-optional')} made optional, ${count('dropped')} dropped, ${count('calls-became-optional')} narrowed to the calls observed, ${count('added')} added`,
  );
  const review = count('review');
  if (review > 0) {
    lines.push(
      `${review} undeclared call(s) listed for review: rerun with --accept-unexpected (all) or --accept-unexpected '<glob>' (e.g. 'net/*') to add them as required paths`,
    );
  }
  if (review > 0 && result.map.predicate.coverage.failOnUnexpected) {
    lines.push('warning: the map sets failOnUnexpected, so the calls listed for review fail verification until added');
  }
  if (after === 0) {
    lines.push('warning: no required path is left, so the learned map has nothing to prove: widen the learning window');
  }
  return `${lines.join('\n')}\n`;
}

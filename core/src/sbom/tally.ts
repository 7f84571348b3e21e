// SPDX-License-Identifier: Apache-2.0
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { InputError } from '../errors.js';
import type { FunctionMap } from '../function-map/types.js';
import {
  expandObservationInputs,
  readObservationFilesParallel,
  VerificationAccumulator,
  type VerificationReport,
  type VerificationWindow,
} from '../verify/index.js';

/** Hits of one call (expected or not), first and last seen (ms), and the nodes that saw it. */
export interface CallTally {
  hits: number;
  firstMs: number;
  lastMs: number;
  nodes: Set<string>;
}

export interface ObservationTally {
  /** The verifier's report over all inputs. */
  report: VerificationReport;
  /** Per expected call, by nodeHash; calls never seen are absent. */
  expected: Map<string, CallTally>;
  /** Per unexpected symbol, by its nodeHash (or `function` NUL `binaryPath` without one). */
  unexpected: Map<string, CallTally>;
  /** The files read, in the order read. */
  files: string[];
  /** Distinct nodes whose files were read. */
  nodes: string[];
  /** Those of `nodes` with at least one record of the map's service inside the window. */
  nodesInWindow: string[];
}

/**
 * The node an agent's NDJSON export file belongs to: its name is
 * `observations-<node>-<YYYYMMDDTHHMMSSmmmZ>-<seq>-<pid>.ndjson` (core/src/export/ndjson.ts),
 * the live segment the same with a leading dot and `.partial`.
 */
const EXPORT_FILE = /^\.?observations-(.+)-\d{8}T\d{9}Z-\d+-\d+\.ndjson(?:\.gz|\.partial)?$/;
/** Files not named by an agent: one source, since nothing tells their nodes apart. */
export const UNNAMED_NODE = '(unnamed files)';

export function nodeOfFile(file: string): string {
  return EXPORT_FILE.exec(basename(file))?.[1] ?? UNNAMED_NODE;
}

const emptyTally = (): CallTally => ({
  hits: 0,
  firstMs: Number.POSITIVE_INFINITY,
  lastMs: Number.NEGATIVE_INFINITY,
  nodes: new Set(),
});

function add(into: Map<string, CallTally>, key: string, node: string, hits: number, firstMs: number, lastMs: number) {
  let t = into.get(key);
  if (!t) {
    t = emptyTally();
    into.set(key, t);
  }
  t.hits += hits;
  if (firstMs < t.firstMs) t.firstMs = firstMs;
  if (lastMs > t.lastMs) t.lastMs = lastMs;
  t.nodes.add(node);
}

/**
 * Reads observation files (as `function-map verify --observations` does: files, directories,
 * globs, .gz) with the verifier's reader and accumulator, one accumulator per node so each call
 * also knows which nodes saw it, then merges them into one report.
 */
export async function tallyObservations(
  map: FunctionMap,
  window: VerificationWindow,
  inputs: readonly string[],
): Promise<ObservationTally> {
  const files = await expandObservationInputs(inputs);
  const byNode = new Map<string, string[]>();
  for (const file of files) {
    const node = nodeOfFile(file);
    byNode.set(node, [...(byNode.get(node) ?? []), file]);
  }
  const total = new VerificationAccumulator(map, window);
  const expected = new Map<string, CallTally>();
  const unexpected = new Map<string, CallTally>();
  const nodesInWindow: string[] = [];
  for (const [node, nodeFiles] of byNode) {
    const acc = new VerificationAccumulator(map, window);
    await readObservationFilesParallel(nodeFiles, acc);
    const state = acc.exportState();
    for (const [hash, hits, firstMs, lastMs] of state.calls) add(expected, hash, node, hits, firstMs, lastMs);
    for (const [key, u] of state.unexpected) add(unexpected, key, node, u.hits, u.firstMs, u.lastMs);
    if (state.read - state.malformed - state.outOfWindow - state.otherService > 0) nodesInWindow.push(node);
    total.mergeState(state);
  }
  return {
    report: total.report(),
    expected,
    unexpected,
    files,
    nodes: [...byNode.keys()].sort(),
    nodesInWindow: nodesInWindow.sort(),
  };
}

/**
 * `sha256:` over every input file's bytes in the order read: what a learned map was learned
 * from. Standard input cannot be read twice, so it is refused here.
 */
export async function digestObservationFiles(files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    if (file === '-') {
      throw new InputError('--observations -: standard input cannot be digested for provenance; pass files');
    }
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  }
  return `sha256:${hash.digest('hex')}`;
}

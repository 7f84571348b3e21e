// SPDX-License-Identifier: Apache-2.0
import { isCanaryFunction, type Observation } from '@stella/sdk';
import { functionMapDigest } from '../function-map/hash.js';
import type { ExpectedCall, FunctionMap } from '../function-map/types.js';
import {
  type AddResult,
  type CanarySighting,
  type LearningStatus,
  type MalformedSample,
  type MissingCall,
  type ObservedProcess,
  type PathResult,
  type ProbeHealth,
  type TagResult,
  type UnexpectedSymbol,
  VERIFICATION_REPORT_SCHEMA_VERSION,
  type VerificationReport,
  type VerificationWindow,
} from './types.js';
import { explainUnobserved, type VisibilityHints } from './visibility.js';

const MAX_PROCESSES = 20;

/** What a report adds to the counts: the agent's own view of probes, canaries and learning. */
export interface ReportExtra {
  probeHealth?: ProbeHealth;
  generatedAt?: Date;
  visibility?: VisibilityHints;
  learning?: LearningStatus;
}
const MAX_MALFORMED_SAMPLES = 20;

/** Running state of one distinct expected call (by nodeHash), shared by every path that lists it. */
interface CallState {
  call: ExpectedCall;
  hits: number;
  /** A matched record came from a probe in presence mode. */
  lowerBound?: boolean;
  firstMs: number;
  lastMs: number;
}

interface UnexpectedState {
  function: string;
  symbol: string;
  binaryPath: string;
  purl: string | undefined;
  nodeHash: string | undefined;
  hits: number;
  firstMs: number;
  lastMs: number;
  /** The lowest MAX_PROCESSES pids seen: the same sample whatever order records and readers come in. */
  processes: Map<number, ObservedProcess>;
  /** Highest pid in `processes` (-1 when empty). */
  maxPid: number;
}

/** One library's canary: distinct pids are kept up to a bound (a process calls it about once). */
interface CanaryState {
  function: string;
  binaryPath: string;
  hits: number;
  firstMs: number;
  lastMs: number;
  pids: Set<number>;
}
const MAX_CANARY_PIDS = 10_000;

/** Adds `hits` seen between `firstMs` and `lastMs` to a call's or an unexpected symbol's counts. */
function tally(
  c: { hits: number; firstMs: number; lastMs: number },
  hits: number,
  firstMs: number,
  lastMs: number,
): void {
  c.hits += hits;
  if (firstMs < c.firstMs) c.firstMs = firstMs;
  if (lastMs > c.lastMs) c.lastMs = lastMs;
}

/** Whether `pid` belongs in the sample: not in it yet, and room left or lower than its highest. */
function keepsPid(u: UnexpectedState, pid: number): boolean {
  return !u.processes.has(pid) && (u.processes.size < MAX_PROCESSES || pid < u.maxPid);
}

/** Adds `p` (which `keepsPid` accepted), evicting the highest pid when the sample is full. */
function keepProcess(u: UnexpectedState, p: ObservedProcess): void {
  if (u.processes.size >= MAX_PROCESSES) {
    u.processes.delete(u.maxPid);
    u.processes.set(p.pid, p);
    u.maxPid = Math.max(...u.processes.keys());
  } else {
    u.processes.set(p.pid, p);
    if (p.pid > u.maxPid) u.maxPid = p.pid;
  }
}

/** What one accumulator saw, in a form that crosses a worker_threads boundary (structured clone). */
export interface AccumulatorState {
  /** Per expected call (nodeHash): hits, first and last time seen (ms). */
  calls: [nodeHash: string, hits: number, firstMs: number, lastMs: number][];
  unexpected: [key: string, state: Omit<UnexpectedState, 'processes'> & { processes: ObservedProcess[] }][];
  canaries: [key: string, state: Omit<CanaryState, 'pids'> & { pids: number[] }][];
  read: number;
  malformed: number;
  outOfWindow: number;
  otherService: number;
  malformedSamples: MalformedSample[];
}

const DIGIT_OFFSETS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * ms since the epoch of the agent's form `YYYY-MM-DDTHH:MM:SS.sssZ` starting at `at` in `t`, read
 * digit by digit (Date.parse costs ~0.3 µs, a large share of a record's budget); NaN when the text
 * there is not exactly that form or not a real date.
 */
export function parseCanonicalTime(t: string, at: number): number {
  if (!hasCanonicalShape(t, at)) return Number.NaN;
  // Ten digits checked at once: each must be 0..9; the separators were checked above.
  let bad = 0;
  const c = (i: number) => t.charCodeAt(at + i) - 48;
  for (const i of DIGIT_OFFSETS) {
    const v = c(i);
    if (v < 0 || v > 9) bad = 1;
  }
  const year = c(0) * 1000 + c(1) * 100 + c(2) * 10 + c(3);
  const month = c(5) * 10 + c(6);
  const day = c(8) * 10 + c(9);
  const hour = c(11) * 10 + c(12);
  const minute = c(14) * 10 + c(15);
  const second = c(17) * 10 + c(18);
  const milli = c(20) * 100 + c(21) * 10 + c(22);
  if (
    bad ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > DAYS_IN_MONTH[month - 1]! ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return Number.NaN;
  }
  if (month === 2 && day === 29 && (year % 4 !== 0 || (year % 100 === 0 && year % 400 !== 0))) return Number.NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, milli);
}

/** Whether the 24 characters at `at` have the separators of `YYYY-MM-DDTHH:MM:SS.sssZ`. */
export function hasCanonicalShape(t: string, at: number): boolean {
  return (
    t.charCodeAt(at + 23) === 90 && // Z
    t.charCodeAt(at + 10) === 84 && // T
    t.charCodeAt(at + 4) === 45 &&
    t.charCodeAt(at + 7) === 45 &&
    t.charCodeAt(at + 13) === 58 &&
    t.charCodeAt(at + 16) === 58 &&
    t.charCodeAt(at + 19) === 46
  );
}

/**
 * ms since the epoch of an ISO-8601 `observedAt`: the agent's form digit by digit (an impossible
 * date such as Feb 30 is NaN, where Date.parse would roll it over), any other form via Date.parse.
 */
export function parseObservedAt(t: string): number {
  if (t.length === 24 && hasCanonicalShape(t, 0)) return parseCanonicalTime(t, 0);
  // Date.parse alone takes almost anything (`/lib/libssl.so.3` is 2001-03-01): ISO-8601 shapes only.
  return ISO_8601.test(t) ? Date.parse(t) : Number.NaN;
}
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

const fnKey = (fn: string, binaryPath: string) => fn + '\u0000' + binaryPath;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Folds observations into a verification report in one pass and constant memory (the state grows
 * with the map and the distinct unexpected symbols, never with the number of observations).
 *
 * Window: `from` inclusive, `to` exclusive. Records of another service than the map's are counted
 * apart and otherwise ignored. A record matches an expected call by `nodeHash`, or by
 * `function` + `binaryPath` when it has no `nodeHash`.
 */
export class VerificationAccumulator {
  private readonly fromMs: number;
  private readonly toMs: number;
  private readonly byNodeHash = new Map<string, CallState>();
  private readonly byFunctionBinary = new Map<string, CallState>();
  /** Per path, the distinct call states in order; `required` = non-optional ones. */
  private readonly pathCalls: { all: CallState[]; required: CallState[] }[];
  private readonly unexpected = new Map<string, UnexpectedState>();
  private readonly canaries = new Map<string, CanaryState>();
  private read = 0;
  private malformed = 0;
  private outOfWindow = 0;
  private otherService = 0;
  private readonly malformedSamples: MalformedSample[] = [];
  private lastSampleAtRead = -1;
  private lastTimeText = '';
  private lastTimeMs = Number.NaN;

  constructor(
    readonly map: FunctionMap,
    readonly window: VerificationWindow,
  ) {
    this.fromMs = window.from.getTime();
    this.toMs = window.to.getTime();
    if (!(this.fromMs < this.toMs)) {
      throw new RangeError(`verification window is empty: from ${iso(this.fromMs)} is not before to ${iso(this.toMs)}`);
    }
    this.pathCalls = map.predicate.expectedPaths.map((path) => {
      const all: CallState[] = [];
      const required: CallState[] = [];
      for (const call of path.expectedCalls) {
        let state = this.byNodeHash.get(call.nodeHash);
        if (!state) {
          state = { call, hits: 0, firstMs: Number.POSITIVE_INFINITY, lastMs: Number.NEGATIVE_INFINITY };
          this.byNodeHash.set(call.nodeHash, state);
        }
        const key = fnKey(call.function, call.binaryPath);
        if (!this.byFunctionBinary.has(key)) this.byFunctionBinary.set(key, state);
        if (!all.includes(state)) {
          all.push(state);
          if (!call.optional) required.push(state);
        }
      }
      return { all, required };
    });
  }

  /** The nodeHash of every expected call: the strings `addExpected` takes. */
  expectedNodeHashes(): string[] {
    return [...this.byNodeHash.keys()];
  }

  /**
   * The reader's fast lane for the common record: of the map's service, a valid time (`ms`),
   * `hits` ≥ 1 and the nodeHash of an expected call (one of `expectedNodeHashes()`).
   */
  addExpected(nodeHash: string, ms: number, hits: number, lowerBound = false): void {
    this.read++;
    if (ms < this.fromMs || ms >= this.toMs) {
      this.outOfWindow++;
      return;
    }
    const state = this.byNodeHash.get(nodeHash)!;
    tally(state, hits, ms, ms);
    if (lowerBound) state.lowerBound = true;
  }

  /** The reader's fast lane for a well-formed record of another service than the map's. */
  addOtherService(): void {
    this.read++;
    this.otherService++;
  }

  /** Accounts one record; the answer says where it went. Cheap: two Map lookups and one Date.parse. */
  add(obs: Observation): AddResult | 'malformed' {
    return this.addFields(
      obs.service,
      obs.observedAt,
      obs.nodeHash,
      obs.hitCount,
      obs.pid,
      () => obs,
      undefined,
      obs.countMode === 'presence',
    );
  }

  /**
   * The whole record of a lazily decoded line, or undefined (counted as malformed) when the line is
   * not JSON after all (the fast lane reads only some fields) or has no string function/binaryPath.
   */
  private decode(details: () => Observation): Observation | undefined {
    let obs: Observation;
    let why: string | undefined;
    try {
      obs = details();
      why =
        typeof obs.function !== 'string'
          ? 'missing or non-string "function"'
          : typeof obs.binaryPath !== 'string'
            ? 'missing or non-string "binaryPath"'
            : undefined;
    } catch (error) {
      why = `not JSON (${(error as Error).message})`;
    }
    if (why === undefined) return obs!;
    this.read--; // skipMalformed counts it again
    this.skipMalformed(why);
    return undefined;
  }

  /**
   * The same as `add` for readers that decode lazily: only the fields every record needs are
   * given; `details` is called (at most once) when the record has no nodeHash or is unexpected and
   * its function, binary and process are needed.
   */
  addFields(
    service: string,
    observedAt: string,
    nodeHash: string | undefined,
    hits: number,
    pid: number,
    details: () => Observation,
    /** `observedAt` already converted by the caller (NaN = not a time). */
    observedAtMs?: number,
    /** The record's `countMode` is `presence`: its hit count is a lower bound. */
    lowerBound = false,
  ): AddResult | 'malformed' {
    this.read++;
    if (service !== this.map.predicate.service) {
      this.otherService++;
      return 'other-service';
    }
    let ms: number;
    if (observedAtMs !== undefined) ms = observedAtMs;
    else if (observedAt === this.lastTimeText) ms = this.lastTimeMs;
    else {
      ms = typeof observedAt === 'string' ? parseObservedAt(observedAt) : Number.NaN;
      this.lastTimeText = observedAt;
      this.lastTimeMs = ms;
    }
    if (Number.isNaN(ms) || typeof hits !== 'number' || !(hits >= 1 && hits <= Number.MAX_SAFE_INTEGER)) {
      this.read--; // skipMalformed counts it again
      this.skipMalformed(
        Number.isNaN(ms) ? 'observedAt is not an ISO-8601 time' : 'hitCount is not a number from 1 to 2^53',
      );
      return 'malformed';
    }
    if (ms < this.fromMs || ms >= this.toMs) {
      this.outOfWindow++;
      return 'out-of-window';
    }
    return this.account(nodeHash, hits, ms, ms, pid, details, lowerBound);
  }

  /**
   * `hits` calls of `sample`'s function seen between `firstMs` and `lastMs`, as the agent's live
   * window index holds them: counted as they are, with no record made up per call and no time
   * text to parse. Out of the window unless both ends lie in it (the index clips to the window).
   */
  addAggregate(sample: Observation, hits: number, firstMs: number, lastMs: number): AddResult | 'malformed' {
    this.read++;
    if (sample.service !== this.map.predicate.service) {
      this.otherService++;
      return 'other-service';
    }
    if (!(hits >= 1) || !(firstMs <= lastMs)) {
      this.read--; // skipMalformed counts it again
      this.skipMalformed(!(hits >= 1) ? 'hitCount is not a number ≥ 1' : 'first sighting after the last');
      return 'malformed';
    }
    if (firstMs < this.fromMs || lastMs >= this.toMs) {
      this.outOfWindow++;
      return 'out-of-window';
    }
    return this.account(
      sample.nodeHash,
      hits,
      firstMs,
      lastMs,
      sample.pid,
      () => sample,
      sample.countMode === 'presence',
    );
  }

  /** A record (or aggregate) of the map's service inside the window: an expected call's, or unexpected. */
  private account(
    nodeHash: string | undefined,
    hits: number,
    firstMs: number,
    lastMs: number,
    pid: number,
    details: () => Observation,
    /** A presence-mode record: the call's hit count becomes a lower bound. */
    lowerBound: boolean,
  ): AddResult | 'malformed' {
    let obs: Observation | undefined;
    let state: CallState | undefined;
    if (nodeHash !== undefined) state = this.byNodeHash.get(nodeHash);
    else {
      obs = this.decode(details);
      if (!obs) return 'malformed';
      state = this.byFunctionBinary.get(fnKey(obs.function, obs.binaryPath));
    }
    if (state) {
      tally(state, hits, firstMs, lastMs);
      if (lowerBound) state.lowerBound = true;
      return 'matched';
    }
    // An unexpected symbol is reported by function and binary: a lazily decoded record (the NDJSON
    // fast lane checks only the fields every record needs) must carry them, or it is malformed.
    obs ??= this.decode(details);
    if (!obs) return 'malformed';
    if (isCanaryFunction(obs.function)) {
      this.tallyCanary(obs.function, obs.binaryPath, hits, firstMs, lastMs, [pid]);
      return 'canary';
    }
    let key = nodeHash;
    if (key === undefined) key = fnKey(obs.function, obs.binaryPath);
    let u = this.unexpected.get(key);
    if (!u) {
      u = {
        function: obs.function,
        symbol: obs.symbol,
        binaryPath: obs.binaryPath,
        purl: obs.purl,
        nodeHash,
        hits: 0,
        firstMs,
        lastMs,
        processes: new Map(),
        maxPid: -1,
      };
      this.unexpected.set(key, u);
    }
    tally(u, hits, firstMs, lastMs);
    if (keepsPid(u, pid)) {
      obs ??= details();
      const p: ObservedProcess = { pid, comm: obs.comm };
      if (obs.containerId) p.containerId = obs.containerId;
      keepProcess(u, p);
    }
    return 'unexpected';
  }

  private tallyCanary(
    fn: string,
    binaryPath: string,
    hits: number,
    firstMs: number,
    lastMs: number,
    pids: Iterable<number>,
  ): void {
    const key = fnKey(fn, binaryPath);
    let c = this.canaries.get(key);
    if (!c) {
      c = { function: fn, binaryPath, hits: 0, firstMs, lastMs, pids: new Set() };
      this.canaries.set(key, c);
    }
    tally(c, hits, firstMs, lastMs);
    for (const pid of pids) if (c.pids.size < MAX_CANARY_PIDS) c.pids.add(pid);
  }

  /** The canaries seen so far, by library. */
  canarySightings(): CanarySighting[] {
    return [...this.canaries.values()]
      .map((c) => ({
        function: c.function,
        binaryPath: c.binaryPath,
        hitCount: c.hits,
        processes: c.pids.size,
        firstSeen: iso(c.firstMs),
        lastSeen: iso(c.lastMs),
      }))
      .sort((a, b) => a.binaryPath.localeCompare(b.binaryPath) || a.function.localeCompare(b.function));
  }

  /** This accumulator's counts, to merge into another one (parallel readers, one per worker). */
  exportState(): AccumulatorState {
    const calls: AccumulatorState['calls'] = [];
    for (const [hash, s] of this.byNodeHash) if (s.hits > 0) calls.push([hash, s.hits, s.firstMs, s.lastMs]);
    return {
      calls,
      unexpected: [...this.unexpected].map(([key, u]) => [key, { ...u, processes: [...u.processes.values()] }]),
      canaries: [...this.canaries].map(([key, c]) => [key, { ...c, pids: [...c.pids] }]),
      read: this.read,
      malformed: this.malformed,
      outOfWindow: this.outOfWindow,
      otherService: this.otherService,
      malformedSamples: this.malformedSamples,
    };
  }

  /** Adds what another accumulator over the same map and window counted. */
  mergeState(state: AccumulatorState): void {
    for (const [hash, hits, firstMs, lastMs] of state.calls) {
      const s = this.byNodeHash.get(hash);
      if (!s) continue; // not this map's call: cannot happen for the same map
      tally(s, hits, firstMs, lastMs);
    }
    for (const [key, other] of state.unexpected) {
      let u = this.unexpected.get(key);
      if (!u) {
        u = { ...other, hits: 0, firstMs: other.firstMs, lastMs: other.lastMs, processes: new Map(), maxPid: -1 };
        this.unexpected.set(key, u);
      }
      tally(u, other.hits, other.firstMs, other.lastMs);
      for (const p of other.processes) if (keepsPid(u, p.pid)) keepProcess(u, p);
    }
    for (const [, c] of state.canaries ?? [])
      this.tallyCanary(c.function, c.binaryPath, c.hits, c.firstMs, c.lastMs, c.pids);
    this.read += state.read;
    this.malformed += state.malformed;
    this.outOfWindow += state.outOfWindow;
    this.otherService += state.otherService;
    for (const sample of state.malformedSamples) {
      if (this.malformedSamples.length >= MAX_MALFORMED_SAMPLES) break;
      this.malformedSamples.push(sample);
    }
  }

  /** Counts a record that could not be read (it also counts as read); keeps the first 20 reasons. */
  skipMalformed(reason = 'malformed record', location?: string): void {
    this.read++;
    this.malformed++;
    if (this.malformedSamples.length < MAX_MALFORMED_SAMPLES) {
      this.malformedSamples.push({ location: location ?? `record ${this.read}`, reason });
      this.lastSampleAtRead = this.read;
    }
  }

  /** Gives the sample of the record `add` just rejected as malformed a real location (`file:line`). */
  relabelLastMalformed(location: string): void {
    if (this.lastSampleAtRead === this.read)
      this.malformedSamples[this.malformedSamples.length - 1]!.location = location;
  }

  report(extra: ReportExtra = {}): VerificationReport {
    const { predicate } = this.map;
    const coverage = predicate.coverage;
    const paths: PathResult[] = predicate.expectedPaths.map((path, i) => {
      const { all, required } = this.pathCalls[i]!;
      const seen = (s: CallState) => s.hits > 0;
      // A path with no required call is an any-of group: observed when one of its calls is.
      const anyOf = required.length === 0;
      const observed = anyOf ? all.some(seen) : required.every(seen);
      const missing = observed ? [] : (anyOf ? all : required).filter((s) => !seen(s));
      let hitCount = 0;
      let lowerBound = false;
      let first = Number.POSITIVE_INFINITY;
      let last = Number.NEGATIVE_INFINITY;
      for (const s of all) {
        hitCount += s.hits;
        if (s.lowerBound) lowerBound = true;
        if (s.firstMs < first) first = s.firstMs;
        if (s.lastMs > last) last = s.lastMs;
      }
      return {
        pathId: path.pathId,
        tags: [...path.tags],
        optional: path.optional,
        observed,
        hitCount,
        ...(lowerBound ? { hitCountIsLowerBound: true as const } : {}),
        firstSeen: hitCount > 0 ? iso(first) : null,
        lastSeen: hitCount > 0 ? iso(last) : null,
        missingCalls: missing.map(
          (s): MissingCall => ({
            function: s.call.function,
            symbol: s.call.symbol,
            binaryPath: s.call.binaryPath,
            nodeHash: s.call.nodeHash,
          }),
        ),
      };
    });

    const canaries = this.canarySightings();
    explainUnobserved(paths, canaries, extra.visibility);

    const requiredPaths = paths.filter((p) => !p.optional);
    const observedRequired = requiredPaths.filter((p) => p.observed).length;
    const observationRate = requiredPaths.length === 0 ? 1 : observedRequired / requiredPaths.length;

    const tags = new Set<string>();
    for (const p of paths) for (const t of p.tags) tags.add(t);
    for (const t of Object.keys(coverage.perTag ?? {})) tags.add(t);
    const perTag: Record<string, TagResult> = {};
    for (const tag of [...tags].sort()) {
      const required = requiredPaths.filter((p) => p.tags.includes(tag));
      const observed = required.filter((p) => p.observed).length;
      const rate = required.length === 0 ? 1 : observed / required.length;
      const min = coverage.perTag?.[tag] ?? null;
      perTag[tag] = { rate, min, observed, required: required.length, pass: min === null || rate >= min };
    }

    const unexpectedSymbols: UnexpectedSymbol[] = [...this.unexpected.values()]
      .map((u) => {
        const entry: UnexpectedSymbol = {
          function: u.function,
          symbol: u.symbol,
          binaryPath: u.binaryPath,
          hitCount: u.hits,
          firstSeen: iso(u.firstMs),
          lastSeen: iso(u.lastMs),
          processes: [...u.processes.values()].sort((a, b) => a.pid - b.pid),
        };
        if (u.purl !== undefined) entry.purl = u.purl;
        if (u.nodeHash !== undefined) entry.nodeHash = u.nodeHash;
        return entry;
      })
      .sort(
        (a, b) =>
          b.hitCount - a.hitCount ||
          a.function.localeCompare(b.function) ||
          a.binaryPath.localeCompare(b.binaryPath) ||
          (a.nodeHash ?? '').localeCompare(b.nodeHash ?? ''),
      );

    const failureReasons: string[] = [];
    if (observationRate < coverage.minObservationRate) {
      failureReasons.push(
        `observation rate ${fmtRate(observationRate)} (${observedRequired}/${requiredPaths.length} required paths) is below the minimum ${fmtRate(coverage.minObservationRate)}`,
      );
    }
    for (const [tag, t] of Object.entries(perTag)) {
      if (!t.pass) {
        failureReasons.push(
          `tag "${tag}" rate ${fmtRate(t.rate)} (${t.observed}/${t.required}) is below its minimum ${fmtRate(t.min ?? 0)}`,
        );
      }
    }
    if (coverage.failOnUnexpected && unexpectedSymbols.length > 0) {
      failureReasons.push(
        `${unexpectedSymbols.length} unexpected symbol(s) observed and the map sets failOnUnexpected`,
      );
    }

    return {
      schemaVersion: VERIFICATION_REPORT_SCHEMA_VERSION,
      functionMap: {
        service: predicate.service,
        buildId: predicate.buildId ?? null,
        digest: functionMapDigest(this.map),
      },
      window: { from: iso(this.fromMs), to: iso(this.toMs) },
      verdict: failureReasons.length === 0 ? 'pass' : 'fail',
      observationRate,
      minObservationRate: coverage.minObservationRate,
      perTag,
      paths,
      unexpectedSymbols,
      unexpectedSymbolsCount: unexpectedSymbols.length,
      canaries,
      ...(extra.learning ? { learning: extra.learning } : {}),
      probeHealth: extra.probeHealth ?? null,
      observationsRead: this.read,
      observationsSkipped: {
        malformed: this.malformed,
        outOfWindow: this.outOfWindow,
        otherService: this.otherService,
        malformedSamples: [...this.malformedSamples],
      },
      failureReasons,
      generatedAt: (extra.generatedAt ?? new Date()).toISOString(),
    };
  }
}

function fmtRate(rate: number): string {
  return (Math.round(rate * 10000) / 100).toString() + '%';
}

/** Verifies a whole source (array, generator, store query, NDJSON reader) in one pass. */
export async function verifyObservations(
  map: FunctionMap,
  source: AsyncIterable<Observation> | Iterable<Observation>,
  window: VerificationWindow,
  extra: ReportExtra = {},
): Promise<VerificationReport> {
  const acc = new VerificationAccumulator(map, window);
  if (Symbol.iterator in source) {
    // A sync source stays sync: `for await` would cost a microtask per record.
    for (const obs of source as Iterable<Observation>) acc.add(obs);
  } else {
    for await (const obs of source) acc.add(obs);
  }
  return acc.report(extra);
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Reads observation files (what `function-map verify --observations` takes: files, directories,
 * globs, .gz, `-`) and counts the calls of each algorithm the records name: per service, library
 * and function, with the nodes and the first and last time. Only records that carry `algorithm`
 * count; a line that is not an observation is skipped and counted, as verify does.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputError } from '../errors.js';
import { expandObservationInputs, observationProblem } from '../verify/index.js';

/** The algorithm the probes record when they could not read it. */
export const UNKNOWN = 'unknown';

/** One place an algorithm ran: a service's calls of one function in one library. */
export interface AlgorithmUse {
  service: string;
  function: string;
  binaryPath: string;
  purl: string | undefined;
  calls: number;
  nodes: Set<string>;
  firstMs: number;
  lastMs: number;
}

export interface AlgorithmTally {
  name: string;
  calls: number;
  firstMs: number;
  lastMs: number;
  /** By service, function and binary path. */
  uses: Map<string, AlgorithmUse>;
}

export interface CbomTally {
  /** By algorithm name, `unknown` included. */
  algorithms: Map<string, AlgorithmTally>;
  files: string[];
  read: number;
  malformed: number;
  /** Outside --from/--to, or of another service than the function map's. */
  outside: number;
  /** Lines without an `algorithm` key, skipped unparsed: records of TLS calls, EVP_DigestUpdate, .... */
  withoutAlgorithm: number;
}

export interface TallyOptions {
  window?: { from: Date; to: Date };
  /** Only this service's records (the function map's). */
  service?: string;
}

/** Lines past this are not records (the agent writes a few hundred bytes). */
const MAX_LINE_CHARS = 1 << 20;

async function* linesOf(file: string): AsyncGenerator<string> {
  const raw: AsyncIterable<Buffer> = file === '-' ? process.stdin : createReadStream(file);
  const it = raw[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  async function* all(): AsyncGenerator<Buffer> {
    yield first.value as Buffer;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  const head = first.value as Buffer;
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const source = gzip ? Readable.from(all()).pipe(createGunzip()) : Readable.from(all());
  yield* createInterface({ input: source, crlfDelay: Number.POSITIVE_INFINITY });
}

function useOf(tally: AlgorithmTally, o: Record<string, unknown>): AlgorithmUse {
  const key = `${o.service}\0${o.function}\0${o.binaryPath}`;
  let use = tally.uses.get(key);
  if (!use) {
    use = {
      service: o.service as string,
      function: o.function as string,
      binaryPath: o.binaryPath as string,
      purl: typeof o.purl === 'string' ? o.purl : undefined,
      calls: 0,
      nodes: new Set(),
      firstMs: Number.POSITIVE_INFINITY,
      lastMs: Number.NEGATIVE_INFINITY,
    };
    tally.uses.set(key, use);
  }
  return use;
}

export async function tallyAlgorithms(inputs: readonly string[], options: TallyOptions = {}): Promise<CbomTally> {
  const files = await expandObservationInputs(inputs);
  const tally: CbomTally = { algorithms: new Map(), files, read: 0, malformed: 0, outside: 0, withoutAlgorithm: 0 };
  const from = options.window?.from.getTime() ?? Number.NEGATIVE_INFINITY;
  const to = options.window?.to.getTime() ?? Number.POSITIVE_INFINITY;
  for (const file of files) {
    try {
      for await (const line of linesOf(file)) {
        if (line.trim().length === 0) continue;
        tally.read++;
        // Most records are not crypto calls: skip them before parsing.
        if (!line.includes('"algorithm"')) {
          tally.withoutAlgorithm++;
          continue;
        }
        let value: unknown;
        try {
          value = line.length > MAX_LINE_CHARS ? undefined : JSON.parse(line);
        } catch {
          value = undefined;
        }
        const o = value as Record<string, unknown> | undefined;
        if (o === undefined || observationProblem(o) !== undefined || typeof o.algorithm !== 'string') {
          tally.malformed++;
          continue;
        }
        const at = Date.parse(o.observedAt as string);
        if (Number.isNaN(at) || !Number.isFinite(o.hitCount as number) || (o.hitCount as number) < 0) {
          tally.malformed++;
          continue;
        }
        if (at < from || at >= to || (options.service !== undefined && o.service !== options.service)) {
          tally.outside++;
          continue;
        }
        const name = o.algorithm;
        let algorithm = tally.algorithms.get(name);
        if (!algorithm) {
          algorithm = { name, calls: 0, firstMs: at, lastMs: at, uses: new Map() };
          tally.algorithms.set(name, algorithm);
        }
        const hits = o.hitCount as number;
        const use = useOf(algorithm, o);
        for (const t of [algorithm, use]) {
          t.calls += hits;
          if (at < t.firstMs) t.firstMs = at;
          if (at > t.lastMs) t.lastMs = at;
        }
        if (typeof o.nodeName === 'string') use.nodes.add(o.nodeName);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === undefined) throw error;
      throw new InputError(`cannot read observations ${file}: ${code === 'Z_DATA_ERROR' ? 'not valid gzip' : code}`);
    }
  }
  return tally;
}

// SPDX-License-Identifier: Apache-2.0
/**
 * The NDJSON observation contract, in one place: how a line is written (field order), how the
 * agent's segment files are named, and what a reader may assume of a segment that is still being
 * written. The exporter (export/ndjson.ts), the input expansion (verify/inputs.ts) and the
 * verifier's reader and fast lane (verify/ndjson.ts) all take it from here.
 *
 * Files under `export.output_path`, per agent (`<node>` made file-name safe):
 *   `.observations-<node>-<start>-<seq>-<pid>.ndjson.partial`  the live segment, appended to;
 *   `observations-<node>-<start>-<seq>-<pid>.ndjson`            completed (renamed: whole lines);
 *   `observations-<node>-<start>-<seq>-<pid>.ndjson.gz`         completed and compressed;
 *   `.observations-….ndjson.gz.tmp`                             a gzip being written.
 * `<start>` is the segment's opening time (UTC, `YYYYMMDDTHHMMSSmmmZ`), so names sort by time.
 */
import { basename, dirname, join } from 'node:path';
import { OBSERVATION_FIELDS, type Observation } from '@stella/sdk';

export { OBSERVATION_FIELDS };

const PARTIAL = '.partial';
const PLAIN = '.ndjson';
const GZIP = '.ndjson.gz';
const GZIP_TEMP = '.gz.tmp';
const PREFIX = 'observations-';

/** `observations-<node>-`: every file of one agent starts with it (hidden ones after a dot). */
export function segmentStem(nodeName: string): string {
  // Node names are DNS labels, but keep file names safe whatever is configured.
  return `${PREFIX}${nodeName.replace(/[^A-Za-z0-9_.-]/g, '_')}-`;
}

/** The completed name of the segment opened at `startMs`: the pid keeps two agents of a node apart. */
export function segmentName(stem: string, startMs: number, seq: number, pid: number): string {
  const stamp = new Date(startMs).toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stem}${stamp}-${String(seq).padStart(4, '0')}-${pid}${PLAIN}`;
}

/** The hidden name a segment has while it is written: readers of completed files skip it. */
export function liveNameOf(segment: string): string {
  return `.${segment}${PARTIAL}`;
}

/** The name of the gzip being written for a completed segment, hidden until renamed. */
export function gzipTempNameOf(segment: string): string {
  return `.${segment}${GZIP_TEMP}`;
}

/** Whether `name` (a directory entry) is a completed segment of the agent with this stem. */
export function isCompletedSegmentOf(name: string, stem: string): boolean {
  return name.startsWith(stem) && (name.endsWith(PLAIN) || name.endsWith(GZIP));
}

/** Whether `name` is a live segment of the agent with this stem (left by a killed one at start). */
export function isLiveSegmentOf(name: string, stem: string): boolean {
  return name.startsWith(`.${stem}`) && name.endsWith(PARTIAL);
}

/** Whether `name` is an interrupted gzip of the agent with this stem (its source is still there). */
export function isGzipTempOf(name: string, stem: string): boolean {
  return name.startsWith(`.${stem}`) && name.endsWith(GZIP_TEMP);
}

/** The completed name of a live segment's name (`.x.ndjson.partial` → `x.ndjson`). */
export function completedNameOf(liveName: string): string {
  return liveName.slice(1, -PARTIAL.length);
}

/**
 * The live-segment rule: a file a running agent is still appending to. Readers take it too (a live
 * node can be verified from disk), but its last line without a newline may still be being written,
 * so it is not a record yet; and when it vanishes it was completed, under `completedPathsOf`.
 */
export function isLiveSegment(file: string): boolean {
  const name = basename(file);
  return name.startsWith('.') && name.endsWith(`${PLAIN}${PARTIAL}`);
}

/** Where a live segment's lines are once it is completed: the renamed file, then its gzip. */
export function completedPathsOf(liveFile: string): [plain: string, gzip: string] {
  const plain = join(dirname(liveFile), completedNameOf(basename(liveFile)));
  return [plain, `${plain}.gz`];
}

/** Files a directory given to a reader holds observations in (any NDJSON, not only the agent's). */
const OBSERVATION_FILE = /\.(?:ndjson|jsonl|json)(?:\.gz)?$/;

/**
 * The observation files among a directory's files: completed ones and live segments; when a
 * completed segment and its gzip both exist (between compressing and removing the original) only
 * the gzip, which holds the same lines.
 */
export function observationFilesOf(found: readonly string[]): string[] {
  const names = new Set(found);
  return found.filter((f) => (OBSERVATION_FILE.test(f) && !names.has(`${f}.gz`)) || isLiveSegment(f));
}

// ---- lines ------------------------------------------------------------------------------------

const FIRST = OBSERVATION_FIELDS[0];
const SECOND = OBSERVATION_FIELDS[1];
const LAST = OBSERVATION_FIELDS[OBSERVATION_FIELDS.length - 1];
if (FIRST !== 'observedAt' || SECOND !== 'service' || LAST !== 'hitCount') {
  // The fast lane below reads these positions; a reorder must change it too.
  throw new Error('NDJSON contract: lines must open with observedAt, service and close with hitCount');
}

/** How every agent line starts: the time's text follows. */
export const LINE_HEAD = `{"${FIRST}":"`;
/** What follows a canonical time (`…sssZ`): the service's text follows. */
export const AFTER_TIME = `Z","${SECOND}":"`;
/** The nodeHash key with the only prefix the map's hashes have: 64 hex digits follow. */
export const NODE_HASH_KEY = '"nodeHash":"sha256:';
/** The last key of every agent line: the count and `}` follow. */
export const HIT_COUNT_KEY = `"${LAST}":`;

/**
 * One NDJSON line (with its newline), keys in contract order whatever order the object has; absent
 * (undefined) fields are left out, and keys outside the contract are not written (an Observation
 * has none). A fresh object in contract order through JSON.stringify: as fast as stringifying the
 * record itself, and the line is one flat string. (Concatenating the line key by key left a rope of
 * ~40 pieces per line until the flush: 3× the memory, and the agent's peak RSS at 50 k events/s
 * went from 227 to 469 MiB.) The literal's order is checked against the SDK's list below.
 */
export function observationLine(o: Observation): string {
  return `${JSON.stringify({
    observedAt: o.observedAt,
    service: o.service,
    function: o.function,
    symbol: o.symbol,
    purl: o.purl,
    binaryPath: o.binaryPath,
    buildId: o.buildId,
    nodeHash: o.nodeHash,
    probeType: o.probeType,
    pid: o.pid,
    tid: o.tid,
    comm: o.comm,
    containerId: o.containerId,
    cgroupId: o.cgroupId,
    nodeName: o.nodeName,
    sampleRate: o.sampleRate,
    windowStart: o.windowStart,
    windowEnd: o.windowEnd,
    algorithm: o.algorithm,
    countMode: o.countMode,
    hitCount: o.hitCount,
  } satisfies Record<keyof Observation, unknown>)}\n`;
}

// The literal above must write exactly the SDK's fields in the SDK's order: checked once at load.
{
  const every = Object.fromEntries(OBSERVATION_FIELDS.map((k) => [k, 0])) as unknown as Observation;
  const written = Object.keys(JSON.parse(observationLine(every)) as object);
  if (written.join() !== OBSERVATION_FIELDS.join()) {
    throw new Error(`NDJSON contract: observationLine writes ${written.join()}, not ${OBSERVATION_FIELDS.join()}`);
  }
}

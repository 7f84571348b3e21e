// SPDX-License-Identifier: Apache-2.0
import type { Observation } from './types/observation.js';

/**
 * The keys of an observation in the one order every record is built in and every NDJSON line is
 * written in. Readers rely on it: `observedAt` then `service` open the line, and `hitCount` closes
 * it (`countMode` right before it), so the verifier's fast lane reads a line's time, service, nodeHash and count without parsing
 * it. Builders create their objects in this order too (one object shape per plugin for V8), and
 * the exporter writes this order whatever a third-party plugin's object looks like.
 */
export const OBSERVATION_FIELDS = [
  'observedAt',
  'service',
  'function',
  'symbol',
  'purl',
  'binaryPath',
  'buildId',
  'nodeHash',
  'probeType',
  'pid',
  'tid',
  'comm',
  'containerId',
  'cgroupId',
  'nodeName',
  'sampleRate',
  'windowStart',
  'windowEnd',
  'algorithm',
  'countMode',
  'hitCount',
] as const satisfies readonly (keyof Observation)[];

/** Fails to compile when Observation gains a key the list above does not place. */
type Unplaced = Exclude<keyof Observation, (typeof OBSERVATION_FIELDS)[number]>;
const everyKeyPlaced: [Unplaced] extends [never] ? true : Unplaced = true;
void everyKeyPlaced;

// SPDX-License-Identifier: Apache-2.0
import type { Observation } from '@stella/sdk';

/** Column order shared by COPY, INSERT … unnest and SELECT. */
export const COLUMNS = [
  'observed_at',
  'service',
  'function',
  'symbol',
  'purl',
  'binary_path',
  'build_id',
  'node_hash',
  'probe_type',
  'pid',
  'tid',
  'comm',
  'container_id',
  'cgroup_id',
  'node_name',
  'hit_count',
  'window_start',
  'window_end',
  'sample_rate',
  'algorithm',
] as const;

/** PostgreSQL array types for `INSERT … SELECT * FROM unnest($1::timestamptz[], …)`. */
export const COLUMN_TYPES = [
  'timestamptz',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'int4',
  'int4',
  'text',
  'text',
  'text',
  'text',
  'int8',
  'timestamptz',
  'timestamptz',
  'float8',
  'text',
] as const;

export function rowValues(o: Observation): (string | number | null)[] {
  return [
    o.observedAt,
    o.service,
    o.function,
    o.symbol,
    o.purl ?? null,
    o.binaryPath,
    o.buildId ?? null,
    o.nodeHash ?? null,
    o.probeType,
    o.pid,
    o.tid ?? null,
    o.comm,
    o.containerId ?? null,
    o.cgroupId ?? null,
    o.nodeName,
    o.hitCount,
    o.windowStart ?? null,
    o.windowEnd ?? null,
    o.sampleRate ?? null,
    o.algorithm ?? null,
  ];
}

/** COPY text format: tab-separated, `\N` for NULL, backslash escapes for \\, tab, newline, CR. */
function copyField(v: string | number | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  return /[\\\t\n\r]/.test(v)
    ? v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : v;
}

export function copyLine(o: Observation): string {
  return `${rowValues(o).map(copyField).join('\t')}\n`;
}

/** SELECT list giving back the wire form; timestamps as ISO-8601 UTC with ms (µs when present). */
const ts = (c: string) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
export const SELECT_LIST = COLUMNS.map((c) =>
  c === 'observed_at' || c === 'window_start' || c === 'window_end' ? `${ts(c)} AS ${c}` : c,
).join(', ');

export function isoFromPg(text: string): string {
  // 2025-03-01T12:00:00.123000 → 2025-03-01T12:00:00.123Z (JavaScript's own form when µs are 0)
  return text.endsWith('000') ? `${text.slice(0, -3)}Z` : `${text}Z`;
}

type Row = Record<(typeof COLUMNS)[number], string | number | null>;

export function observationFromRow(r: Row): Observation {
  const o: Observation = {
    observedAt: isoFromPg(r.observed_at as string),
    service: r.service as string,
    function: r.function as string,
    symbol: r.symbol as string,
    binaryPath: r.binary_path as string,
    probeType: r.probe_type as string,
    pid: Number(r.pid),
    comm: r.comm as string,
    nodeName: r.node_name as string,
    hitCount: Number(r.hit_count),
  };
  if (r.purl !== null) o.purl = r.purl as string;
  if (r.build_id !== null) o.buildId = r.build_id as string;
  if (r.node_hash !== null) o.nodeHash = r.node_hash as string;
  if (r.tid !== null) o.tid = Number(r.tid);
  if (r.container_id !== null) o.containerId = r.container_id as string;
  if (r.cgroup_id !== null) o.cgroupId = r.cgroup_id as string;
  if (r.window_start !== null) o.windowStart = isoFromPg(r.window_start as string);
  if (r.window_end !== null) o.windowEnd = isoFromPg(r.window_end as string);
  if (r.sample_rate !== null) o.sampleRate = Number(r.sample_rate);
  if (r.algorithm !== null) o.algorithm = r.algorithm as string;
  return o;
}

// SPDX-License-Identifier: Apache-2.0
/** What the algorithm tests share: requests as a function map would carry them, and bpftrace by value. */
import type { Observation, ProbeRequest } from '@stella/sdk';
import { startBpftrace } from '@stella/sdk/testing';

export const LIBCRYPTO = '/usr/lib/x86_64-linux-gnu/libcrypto.so.3';

/** The request of `symbol` in libcrypto.so.3 for `service`, as `generate` would write it. */
export function libcryptoRequest(service: string, symbol: string): ProbeRequest {
  return {
    service,
    functionId: `crypto/${symbol}`,
    category: 'crypto',
    symbol,
    library: 'libcrypto.so.3',
    binaryPath: LIBCRYPTO,
    nodeHash: `sha256:test-${symbol}`,
    probeTypes: ['uprobe'],
  };
}

/** hitCount summed per algorithm, for one pid (and one function when given). */
export function callsByAlgorithm(observations: Observation[], pid: number, fn?: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of observations) {
    if (o.pid !== pid || (fn !== undefined && o.function !== fn) || o.algorithm === undefined) continue;
    counts[o.algorithm] = (counts[o.algorithm] ?? 0) + o.hitCount;
  }
  return counts;
}

/**
 * bpftrace counting each probe's calls by the `int` at the start of what argument `arg` (0-based,
 * bpftrace's numbering) points at, on one pid: the independent count of calls per NID (-1 for a
 * NULL pointer; with `whenNullFirstMemberOf`, through that argument's first member first).
 */
export async function bpftraceByPointedInt(
  probes: Readonly<Record<string, { probe: string; arg: number; whenNullFirstMemberOf?: number }>>,
  pid: number,
): Promise<{ stop(): Promise<Record<string, Record<number, number>>> }> {
  const program = Object.entries(probes)
    .map(([label, { probe, arg, whenNullFirstMemberOf: ctx }]) => {
      // The NULL case as the probe reads it: through the context argument's first member, if given.
      const whenNull = ctx === undefined ? '-1' : `(*(uint64 *)arg${ctx} ? *(int32 *)(*(uint64 *)arg${ctx}) : -1)`;
      return `${probe} /pid == ${pid}/ { @calls["${label}", arg${arg} ? *(int32 *)arg${arg} : ${whenNull}] = count(); }`;
    })
    .join('\n');
  const tracer = await startBpftrace(program);
  return {
    async stop() {
      const output = await tracer.stop();
      const counts: Record<string, Record<number, number>> = {};
      for (const [, label, value, n] of output.matchAll(/@calls\[([^,\]]+), (-?\d+)\]: (\d+)/g)) {
        counts[label!] ??= {};
        counts[label!]![Number(value)] = Number(n);
      }
      return counts;
    },
  };
}

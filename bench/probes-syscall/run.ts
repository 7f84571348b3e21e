// SPDX-License-Identifier: Apache-2.0
/**
 * Per-syscall overhead of the net probes (syscall tracepoints on this kernel), started through
 * `bench/probes-syscall.mjs`. Modes, interleaved round by round on one long-lived C process:
 *   none          no probe attached
 *   non-target    net tracepoints attached, the process is not a target (filtered in the kernel)
 *   events        the process is a target: one ring-buffer event per call, decoded in JS
 *   aggregated    the process is a target, aggregation on: a per-CPU map count, no event
 * Each mode times `recvfrom` (probed) and `getppid` (not probed: "every other syscall pays").
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBpf } from '@stella/bpf';
import { netProbes } from '@stella/probes-net';
import type { ProbeSession } from '@stella/sdk';
import { libcRequest, testContext } from '@stella/sdk/testing';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { calls: { type: 'string', default: '300000' }, rounds: { type: 'string', default: '5' } },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const work = mkdtempSync(join(tmpdir(), 'stella-bench-syscall-'));
const loopPath = join(work, 'syscall_loop');
execFileSync('gcc', ['-O2', '-o', loopPath, join(here, 'syscall_loop.c')]);

const child = spawn(loopPath, [], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines: string[] = [];
const waiters: ((l: string) => void)[] = [];
createInterface({ input: child.stdout }).on('line', (l) => {
  const w = waiters.shift();
  if (w) w(l);
  else lines.push(l);
});
const next = () => {
  const l = lines.shift();
  return l !== undefined ? Promise.resolve(l) : new Promise<string>((r) => waiters.push(r));
};
const pid = Number((await next()).split(' ')[1]);
const time = async (what: string) => {
  child.stdin.write(`${what} ${CALLS}\n`);
  return Number(await next());
};

const bpf = createBpf();
const SERVICE = 'bench';
const requests = ['connect', 'accept', 'accept4', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg'].map((s) =>
  libcRequest(SERVICE, 'net', s),
);
type Mode = 'none' | 'non-target' | 'events' | 'aggregated';
const MODES: Mode[] = ['none', 'non-target', 'events', 'aggregated'];
const results: Record<Mode, { recvfrom: number[]; getppid: number[] }> = {
  none: { recvfrom: [], getppid: [] },
  'non-target': { recvfrom: [], getppid: [] },
  events: { recvfrom: [], getppid: [] },
  aggregated: { recvfrom: [], getppid: [] },
};
let eventsSeen = 0;
let kernelDrops = 0n;

for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    let session: ProbeSession | undefined;
    if (mode !== 'none') {
      const targets = mode === 'non-target' ? [] : [pid];
      const t = testContext(bpf, SERVICE, targets, mode === 'aggregated' ? { aggregationWindowMs: 60_000 } : {});
      t.ctx.emit = (batch) => {
        eventsSeen += batch.length;
      };
      let sessionDrops = 0n;
      t.ctx.reportKernelDrops = (_plugin, total) => {
        sessionDrops = total; // cumulative per object
      };
      session = await netProbes().start(t.ctx, requests);
      const stop = session.stop.bind(session);
      session = {
        stop: async () => {
          await stop();
          kernelDrops += sessionDrops;
        },
      };
    }
    await time('getppid'); // warm-up
    results[mode].recvfrom.push(await time('recvfrom'));
    results[mode].getppid.push(await time('getppid'));
    await session?.stop();
  }
}
child.stdin.end();
rmSync(work, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = { recvfrom: median(results.none.recvfrom), getppid: median(results.none.getppid) };
const rows = MODES.map((mode) => {
  const r = median(results[mode].recvfrom);
  const g = median(results[mode].getppid);
  return {
    mode,
    recvfromNs: r,
    recvfromAddedNs: +(r - base.recvfrom).toFixed(1),
    recvfromRatio: +(r / base.recvfrom).toFixed(2),
    getppidNs: g,
    getppidAddedNs: +(g - base.getppid).toFixed(1),
    getppidRatio: +(g / base.getppid).toFixed(2),
  };
});
console.log(
  JSON.stringify(
    {
      calls: CALLS,
      rounds: ROUNDS,
      eventsExpected: CALLS * ROUNDS,
      eventsSeen,
      kernelDrops: kernelDrops.toString(),
      rows,
      raw: results,
    },
    null,
    2,
  ),
);

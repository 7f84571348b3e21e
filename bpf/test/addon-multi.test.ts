// SPDX-License-Identifier: Apache-2.0
/**
 * uprobe_multi links (Linux >= 6.6): one link per file carrying many offsets, each with its
 * cookie. Counts are checked against bpftrace on the same functions and pid; the release of a
 * link with 100+ offsets is timed against a single perf-event uprobe's.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readElfSymbols } from '@stella/sdk';
import { interruptBpftrace } from '@stella/sdk/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BpfObject,
  forEachRecord,
  headerCookie,
  readAggregates,
  StellaGlobals,
  uprobeMultiSupported,
} from '../src/index.js';
import {
  bpfDir,
  bpfUnavailableReason,
  callTarget,
  ensureBuilt,
  fixtureObject,
  fixtureSymbol,
  Workload,
} from './helpers.js';

const multiTarget = join(bpfDir, 'build', 'fixtures', 'multi_target');
const FUNCTIONS = ['stella_multi_a', 'stella_multi_b', 'stella_multi_c'] as const;

const skipReason = bpfUnavailableReason();
if (skipReason) console.warn(`skipping uprobe_multi tests: ${skipReason}`);

function hasBpftrace(): boolean {
  try {
    execFileSync('bpftrace', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** multi_target: "ready <pid>", then "run A B C" -> "done <A+B+C>". */
class MultiWorkload {
  readonly child: ChildProcessWithoutNullStreams = spawn(multiTarget, [], { stdio: 'pipe' });
  readonly #lines: string[] = [];
  readonly #waiters: ((line: string) => void)[] = [];
  constructor() {
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
  }
  nextLine(): Promise<string> {
    const line = this.#lines.shift();
    return line !== undefined ? Promise.resolve(line) : new Promise((r) => this.#waiters.push(r));
  }
  async run(a: number, b: number, c: number): Promise<void> {
    this.child.stdin.write(`run ${a} ${b} ${c}\n`);
    expect(await this.nextLine()).toBe(`done ${a + b + c}`);
  }
  async end(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    await exited;
  }
}

/** bpftrace count() on the same functions and pid; resolves once its probes are attached. */
async function startBpftrace(pid: number): Promise<{ stop: () => Promise<Map<string, number>> }> {
  const probes = FUNCTIONS.map((f) => `uprobe:${multiTarget}:${f}`).join(',');
  // BEGIN fires once every probe is attached: its line is the signal to start the workload.
  const program = `BEGIN { printf("stella-attached\\n"); } ${probes} /pid == ${pid}/ { @[probe] = count(); }`;
  const bt = spawn('bpftrace', ['-e', program], { stdio: 'pipe' });
  let out = '';
  bt.stdout.on('data', (d) => {
    out += d;
  });
  bt.stderr.on('data', (d) => {
    out += d;
  });
  const deadline = Date.now() + 20_000;
  while (!out.includes('stella-attached')) {
    if (bt.exitCode !== null || Date.now() > deadline) {
      bt.kill('SIGKILL');
      throw new Error(`bpftrace did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    stop: async () => {
      await interruptBpftrace(bt);
      const counts = new Map<string, number>();
      for (const m of out.matchAll(/@\[uprobe:[^\]]*:(\w+)\]: (\d+)/g)) counts.set(m[1]!, Number(m[2]));
      return counts;
    },
  };
}

/** File offsets of up to `max` distinct exported functions of the libc the process has mapped. */
function libcOffsets(pid: number, max: number): { path: string; offsets: number[] } {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  const path = /\s(\/\S*\/libc\.so\.6)$/m.exec(maps)?.[1];
  if (!path) throw new Error(`pid ${pid} has no libc.so.6 mapped`);
  const elf = readElfSymbols(path);
  const offsets = new Set<number>();
  for (const name of [...elf.dynamicFunctions].sort()) {
    const offset = elf.offsetOf(name);
    if (offset !== undefined) offsets.add(offset);
    if (offsets.size >= max) break;
  }
  return { path, offsets: [...offsets] };
}

describe.skipIf(skipReason)('uprobe_multi links', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  beforeAll(() => ensureBuilt());
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  function multiObject(): BpfObject {
    const obj = new BpfObject(fixtureObject);
    cleanups.push(() => obj.closeAsync());
    obj.setProgramAttachType('stella_uprobe_call', 'uprobe.multi');
    obj.setGlobal(StellaGlobals.aggregate, 1);
    obj.load();
    return obj;
  }

  it('the trial detection says this kernel makes uprobe_multi links, once', async () => {
    const verdict = await uprobeMultiSupported();
    console.log(`uprobe_multi: ${JSON.stringify(verdict)}`);
    expect(verdict).toEqual({ supported: true });
    expect(uprobeMultiSupported()).toBe(uprobeMultiSupported());
  });

  it.skipIf(!hasBpftrace())(
    'each offset hits with its own cookie; counts equal bpftrace count() on the same pid',
    async () => {
      const obj = multiObject();
      const w = new MultiWorkload();
      cleanups.push(() => w.end());
      expect(await w.nextLine()).toMatch(/^ready \d+$/);
      const pid = w.child.pid!;
      const elf = readElfSymbols(multiTarget);
      const offsets = FUNCTIONS.map((f) => elf.offsetOf(f)!);
      const link = await obj.attachUprobeMulti({
        program: 'stella_uprobe_call',
        binaryPath: multiTarget,
        offsets,
        cookies: [101n, 102n, 103n],
        pid,
      });
      expect(link.description).toBe(`uprobe_multi (3 offsets) in ${multiTarget} for pid ${pid}`);
      const cookies = new Map<number, number>();
      const consumer = obj.consumeRingBuffer('stella_events', (batch) => {
        forEachRecord(batch, (buf, off) => {
          const cookie = headerCookie(buf, off);
          cookies.set(cookie, (cookies.get(cookie) ?? 0) + 1);
        });
      });
      const bpftrace = await startBpftrace(pid);
      await w.run(1000, 2500, 7);
      const traced = await bpftrace.stop();
      await consumer.stop();
      await link.destroyAsync();
      const counted = new Map(readAggregates(obj).map((a) => [a.cookie, a.count]));
      console.log(
        `uprobe_multi counts ${[...counted].map(([c, n]) => `${c}: ${n}`).join(', ')}, bpftrace ${JSON.stringify([...traced])}`,
      );
      expect(counted).toEqual(
        new Map([
          [101n, 1000],
          [102n, 2500],
          [103n, 7],
        ]),
      );
      expect(traced).toEqual(
        new Map([
          ['stella_multi_a', 1000],
          ['stella_multi_b', 2500],
          ['stella_multi_c', 7],
        ]),
      );
      expect(cookies).toEqual(
        new Map([
          [101, 1000],
          [102, 2500],
          [103, 7],
        ]),
      );
    },
  );

  it('a link is per process when given a pid: another process running the same file is not trapped', async () => {
    const obj = multiObject();
    const [watched, other] = [new MultiWorkload(), new MultiWorkload()];
    cleanups.push(
      () => watched.end(),
      () => other.end(),
    );
    await watched.nextLine();
    await other.nextLine();
    const offsets = FUNCTIONS.map((f) => readElfSymbols(multiTarget).offsetOf(f)!);
    await obj.attachUprobeMulti({
      program: 'stella_uprobe_call',
      binaryPath: multiTarget,
      offsets,
      pid: watched.child.pid,
    });
    await other.run(50, 50, 50);
    await watched.run(1, 2, 3);
    expect(readAggregates(obj).map((a) => [a.pid, a.count])).toEqual([[watched.child.pid, 6]]);
  });

  it('releasing one link with 100+ offsets costs about one perf-event uprobe release', async () => {
    const obj = multiObject();
    const w = await Workload.start();
    cleanups.push(() => w.end());
    const { path, offsets } = libcOffsets(w.pid, 128);
    expect(offsets.length).toBeGreaterThanOrEqual(100);
    const t0 = performance.now();
    const link = await obj.attachUprobeMulti({ program: 'stella_uprobe_call', binaryPath: path, offsets, pid: w.pid });
    const attachMs = performance.now() - t0;
    expect(await w.run('call 3')).toBe(3); // printf and friends now trap; the workload is unharmed
    const t1 = performance.now();
    await link.destroyAsync();
    const multiMs = performance.now() - t1;

    const perf = new BpfObject(fixtureObject);
    cleanups.push(() => perf.closeAsync());
    perf.load();
    const single = await perf.attachUprobeAsync({
      program: 'stella_uprobe_call',
      binaryPath: callTarget,
      symbol: fixtureSymbol,
      pid: w.pid,
    });
    const t2 = performance.now();
    await single.destroyAsync();
    const singleMs = performance.now() - t2;
    console.log(
      `uprobe_multi with ${offsets.length} libc offsets: attach ${attachMs.toFixed(1)} ms, release ${multiMs.toFixed(1)} ms; ` +
        `one perf-event uprobe release ${singleMs.toFixed(1)} ms`,
    );
    // One grace period for the lot; 128 perf-event releases would be 128 of them (~10 s here).
    expect(multiMs).toBeLessThan(Math.max(3 * singleMs, 300));
  });
});

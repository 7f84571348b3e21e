// SPDX-License-Identifier: Apache-2.0
/**
 * Placement against the kernel: for every catalogue function present in this machine's libssl,
 * libcrypto, libgnutls, libsodium and libpam, a uprobe at the chosen offset counts exactly what a
 * bpftrace entry probe counts on the same pid while a real workload calls them.
 *
 * bpftrace 0.17 here refuses `func+offset` ("compiled without (k|u)probe offset support"), so the
 * probe at the chosen offset is a tracefs uprobe event counted by `perf stat -p`; a second tracefs
 * event at the entry shows both tools agree. Run under the kernel lock:
 * `flock /tmp/stella-kernel.lock npx vitest run plugins/sdk/test/placement-kernel.test.ts`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogue as authCatalogue } from '../../probes-auth/src/catalogue.js';
import { catalogue as cryptoCatalogue } from '../../probes-crypto/src/catalogue.js';
import { type UprobePlacement, UprobePlacer } from '../src/placement/index.js';
import {
  CATALOGUE_WORKLOAD,
  createWorkloadFiles,
  interruptBpftrace,
  PYTHON,
  catalogueSymbols as symbolsOf,
  WORKLOAD_PART_OF,
  type WorkloadFiles,
} from '../src/testing.js';

const LIB = '/usr/lib/x86_64-linux-gnu';
const TRACEFS = '/sys/kernel/tracing';
const GROUP = `stella_place_${process.pid}`;
const FIXTURES = fileURLToPath(new URL('./fixtures/placement/', import.meta.url));

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for uprobes';
  if (process.arch !== 'x64') return `placement past the entry is x86-64 only (this is ${process.arch})`;
  if (!existsSync(join(TRACEFS, 'uprobe_events'))) return `${TRACEFS}/uprobe_events is missing`;
  for (const tool of ['bpftrace', 'perf', PYTHON, 'openssl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}
const skipReason = unavailable();
if (skipReason) console.warn(`skipping placement kernel test: ${skipReason}`);

/** Catalogue symbols per library file (the five libraries issue 11 names). */
function catalogueSymbols(library: string): string[] {
  return symbolsOf([...cryptoCatalogue, ...authCatalogue], library);
}

interface Counted {
  symbol: string;
  placement: UprobePlacement;
  bpftraceEntry: number;
  perfEntry: number;
  perfChosen: number;
}

function waitFor(child: ChildProcess, pattern: RegExp, what: string, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${output()}`)), 30_000);
    const check = () => {
      if (pattern.test(output())) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      if (!pattern.test(output())) reject(new Error(`${what}: exited early: ${output()}`));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

function capture(child: ChildProcess): () => string {
  let text = '';
  child.stdout?.on('data', (d) => {
    text += String(d);
  });
  child.stderr?.on('data', (d) => {
    text += String(d);
  });
  return () => text;
}

/** Open perf_event fds of a process (perf stat opens one per event and thread once it counts). */
function perfEventFds(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[perf_event]') n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/**
 * Starts `command` (which waits for a line on stdin), attaches bpftrace at each entry and tracefs
 * uprobes at each entry and chosen offset (both for this pid), lets it run, and returns the counts.
 */
async function countCalls(
  path: string,
  placed: { symbol: string; placement: UprobePlacement }[],
  command: string,
  args: string[],
): Promise<Counted[]> {
  const events: string[] = [];
  try {
    placed.forEach(({ placement }, i) => {
      const entry = placement.offset - placement.delta;
      appendFileSync(join(TRACEFS, 'uprobe_events'), `p:${GROUP}/e${i} ${path}:0x${entry.toString(16)}\n`);
      events.push(`e${i}`);
      appendFileSync(join(TRACEFS, 'uprobe_events'), `p:${GROUP}/c${i} ${path}:0x${placement.offset.toString(16)}\n`);
      events.push(`c${i}`);
    });
    const workload = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const workloadOutput = capture(workload);
    const pid = workload.pid!;
    const perf = spawn(
      'perf',
      ['stat', '-x', ',', ...events.flatMap((e) => ['-e', `${GROUP}:${e}`]), '-p', String(pid)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const perfOutput = capture(perf);
    const program = [
      ...[...new Set(placed.map((p) => p.symbol))].map(
        (symbol) => `uprobe:${path}:${symbol} /pid == ${pid}/ { @e["${symbol}"] = count(); }`,
      ),
      'BEGIN { printf("ready\\n"); }',
    ].join('\n');
    const bpftrace = spawn('bpftrace', ['-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
    const bpftraceOutput = capture(bpftrace);
    await waitFor(bpftrace, /^ready$/m, 'bpftrace', bpftraceOutput);
    const started = Date.now();
    while (perfEventFds(perf.pid!) < events.length) {
      if (Date.now() - started > 30_000) throw new Error(`perf stat did not open its events: ${perfOutput()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    workload.stdin.end('go\n');
    const code = await exited(workload);
    expect(code, `${command} ${args.join(' ')}: ${workloadOutput()}`).toBe(0);
    await exited(perf);
    await interruptBpftrace(bpftrace);

    const perfCount = (event: string) => {
      const line = perfOutput()
        .split('\n')
        .find((l) => l.split(',')[2] === `${GROUP}:${event}`);
      if (!line) throw new Error(`perf stat printed no ${event}: ${perfOutput()}`);
      return Number(line.split(',')[0]);
    };
    return placed.map(({ symbol, placement }, i) => ({
      symbol,
      placement,
      bpftraceEntry: Number(new RegExp(`^@e\\[${symbol}\\]: (\\d+)$`, 'm').exec(bpftraceOutput())?.[1] ?? 0),
      perfEntry: perfCount(`e${i}`),
      perfChosen: perfCount(`c${i}`),
    }));
  } finally {
    for (const event of events) {
      try {
        appendFileSync(join(TRACEFS, 'uprobe_events'), `-:${GROUP}/${event}\n`);
      } catch {
        // already gone (never created)
      }
    }
  }
}

describe.skipIf(skipReason).each([false, true])(
  'placement against the kernel (allowFaultingAccess: %s): chosen-offset counts equal entry counts',
  (allowFaultingAccess) => {
    let files: WorkloadFiles;
    let placer: UprobePlacer;
    beforeAll(() => {
      files = createWorkloadFiles();
      placer = new UprobePlacer({ allowFaultingAccess });
    });
    afterAll(async () => {
      await placer?.close();
      files?.remove();
    });

    it.each(Object.keys(WORKLOAD_PART_OF))('%s', async (library) => {
      const symbols = catalogueSymbols(library);
      const placements = await placer.place(
        join(LIB, library),
        symbols.map((symbol) => ({ symbol })),
      );
      const placed = symbols.flatMap((symbol, i) => (placements[i] ? [{ symbol, placement: placements[i]! }] : []));
      expect(placed.length).toBeGreaterThan(0);
      const args = [CATALOGUE_WORKLOAD, WORKLOAD_PART_OF[library]!, '20', files.cert, files.key, files.pamService];
      const counted = await countCalls(join(LIB, library), placed, PYTHON, args);
      console.log(
        `${library}\n${counted
          .map(
            (c) =>
              `  ${c.symbol.padEnd(44)} ${String(c.bpftraceEntry).padStart(6)} ${String(c.perfEntry).padStart(6)} ${String(c.perfChosen).padStart(6)}  ${c.placement.reason}`,
          )
          .join('\n')}`,
      );
      for (const c of counted) {
        expect({ symbol: c.symbol, count: c.perfEntry }).toEqual({ symbol: c.symbol, count: c.bpftraceEntry });
        expect({ symbol: c.symbol, count: c.perfChosen }).toEqual({ symbol: c.symbol, count: c.bpftraceEntry });
      }
      // Not vacuous: the workload calls every function placed past its entry.
      const moved = counted.filter((c) => c.placement.delta > 0);
      expect(moved.length).toBeGreaterThan(0);
      expect(moved.filter((c) => c.perfChosen === 0).map((c) => c.symbol)).toEqual([]);
    });
  },
);

describe.skipIf(skipReason)('placement against the kernel: the fixture', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stella-placement-fixture-'));
    execFileSync('cc', ['-shared', '-fPIC', '-o', join(dir, 'libcases.so'), join(FIXTURES, 'placement-cases.c')]);
    execFileSync('cc', [
      '-o',
      join(dir, 'driver'),
      join(FIXTURES, 'placement-driver.c'),
      `-L${dir}`,
      '-lcases',
      `-Wl,-rpath,${dir}`,
    ]);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the refused loop really would miscount at the emulated je; the chosen offsets count exactly', async () => {
    const library = join(dir, 'libcases.so');
    const placer = new UprobePlacer();
    const symbols = ['plain_test_je', 'canary_prologue', 'loop_to_after_entry'];
    const placements = (await placer.place(
      library,
      symbols.map((symbol) => ({ symbol })),
    )) as UprobePlacement[];
    await placer.close();
    const loop = placements[2]!;
    expect(loop.kind).toBe('entry');
    // What a placement blind to the loop's branch back would have chosen: the je at +6.
    const naive: UprobePlacement = { ...loop, offset: loop.offset + 6, delta: 6, kind: 'emulated', reason: 'naive' };
    const placed = [
      ...symbols.map((symbol, i) => ({ symbol, placement: placements[i]! })),
      { symbol: symbols[2]!, placement: naive },
    ];
    const counted = await countCalls(library, placed, join(dir, 'driver'), ['1000']);
    const [plain, canary, loopAtEntry, loopNaive] = counted;
    expect(plain).toMatchObject({ bpftraceEntry: 1000, perfEntry: 1000, perfChosen: 1000 });
    expect(plain!.placement.delta).toBe(3);
    expect(canary).toMatchObject({ bpftraceEntry: 1000, perfEntry: 1000, perfChosen: 1000 });
    expect(canary!.placement.delta).toBe(22);
    expect(loopAtEntry).toMatchObject({ bpftraceEntry: 1000, perfChosen: 1000 });
    // loop_to_after_entry(i & 3) runs its loop head (i & 3) + 1 times: 250 * (1 + 2 + 3 + 4).
    expect(loopNaive!.perfChosen).toBe(2500);
  });
});

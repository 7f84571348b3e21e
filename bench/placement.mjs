#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * Cost per hit of a uprobe on Debian's `EVP_DigestUpdate` at its entry (`test %rdx,%rdx`, which
 * the kernel single-steps) and at the offset placement chooses (`je` at +3, which it emulates).
 *
 * A C loop calls EVP_DigestUpdate(ctx, 16 bytes) N times on a SHA-256 context and times itself.
 * Modes, paired and interleaved round by round, each attached to the loop's pid only:
 *   none;
 *   bpftrace `count()` at the entry (bpftrace 0.17 here cannot attach at func+offset);
 *   a tracefs uprobe event counted by `perf stat` (a perf counter, no BPF) at the entry, at +3;
 *   the agent's program `stella_uprobe_call` (bpf/test/fixtures/fixture.bpf.o through the addon,
 *     one ring-buffer record per hit, no consumer) at the entry, at +3.
 * Every probed run's hit count is checked against N where the tool reports one.
 *
 *   node bench/placement.mjs [--calls 200000] [--rounds 5]
 *
 * Needs root and a built tree (npm run build). Prints a markdown table; compare ratios.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { interruptBpftrace } from '@stella/sdk/testing';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const { BpfObject } = await import(join(repo, 'bpf/dist/index.js'));
const { choosePlacement } = await import(join(repo, 'plugins/sdk/dist/placement/index.js'));

const { values } = parseArgs({
  options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const LIBCRYPTO = '/usr/lib/x86_64-linux-gnu/libcrypto.so.3';
const SYMBOL = 'EVP_DigestUpdate';
const TRACEFS = '/sys/kernel/tracing';
const GROUP = `stella_place_bench_${process.pid}`;
const FIXTURE_OBJECT = join(repo, 'bpf/test/fixtures/fixture.bpf.o');

const work = mkdtempSync(join(tmpdir(), 'stella-bench-placement-'));
const loop = join(work, 'digest_loop');
writeFileSync(
  `${loop}.c`,
  `// SPDX-License-Identifier: Apache-2.0
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char data[16] = {0};
  char go;
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  printf("ready\\n");
  fflush(stdout);
  if (read(0, &go, 1) != 1) return 1;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) EVP_DigestUpdate(ctx, data, sizeof data);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.1f\\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
`,
);
execFileSync('cc', ['-O2', '-o', loop, `${loop}.c`, '-lcrypto']);

const placement = await choosePlacement(LIBCRYPTO, { symbol: SYMBOL });
if (!placement || placement.delta === 0)
  throw new Error(`${SYMBOL}: no placement past the entry (${placement?.reason})`);
const entryOffset = placement.offset - placement.delta;

const lines = (child) => {
  let text = '';
  const waiters = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.pattern.test(text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', (d) => {
    text += String(d);
    check();
  });
  child.stderr?.on('data', (d) => {
    text += String(d);
    check();
  });
  return {
    text: () => text,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        check();
        child.once('exit', () => (pattern.test(text) ? resolve() : reject(new Error(`exited: ${text}`))));
      }),
  };
};
const exited = (child) => new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', r)));
const perfFds = (pid) =>
  readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[perf_event]';
    } catch {
      return false;
    }
  }).length;

/** One timed run of the loop with `mode`'s probe attached to its pid; ns per call. */
async function runOnce(mode) {
  const child = spawn(loop, [String(CALLS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = lines(child);
  await out.waitFor(/^ready$/m);
  const pid = child.pid;
  let finish = async () => {};
  if (mode === 'bpftrace @entry') {
    const tracer = spawn(
      'bpftrace',
      ['-e', `uprobe:${LIBCRYPTO}:${SYMBOL} /pid == ${pid}/ { @c = count(); } BEGIN { printf("attached\\n"); }`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const tracerOut = lines(tracer);
    await tracerOut.waitFor(/^attached$/m);
    finish = async () => {
      await interruptBpftrace(tracer);
      const hits = Number(/@c: (\d+)/.exec(tracerOut.text())?.[1]);
      if (hits !== CALLS) throw new Error(`bpftrace counted ${hits} of ${CALLS}`);
    };
  } else if (mode.startsWith('perf counter')) {
    const offset = mode.endsWith('@entry') ? entryOffset : placement.offset;
    appendFileSync(join(TRACEFS, 'uprobe_events'), `p:${GROUP}/hit ${LIBCRYPTO}:0x${offset.toString(16)}\n`);
    const perf = spawn('perf', ['stat', '-x', ',', '-e', `${GROUP}:hit`, '-p', String(pid)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const perfOut = lines(perf);
    while (perfFds(perf.pid) < 1) await new Promise((r) => setTimeout(r, 10));
    finish = async () => {
      await exited(perf);
      appendFileSync(join(TRACEFS, 'uprobe_events'), `-:${GROUP}/hit\n`);
      const hits = Number(
        perfOut
          .text()
          .split('\n')
          .find((l) => l.includes(`${GROUP}:hit`))
          ?.split(',')[0],
      );
      if (hits !== CALLS) throw new Error(`perf counted ${hits} of ${CALLS}`);
    };
  } else if (mode.startsWith('stella_uprobe_call')) {
    const offset = mode.endsWith('@entry') ? entryOffset : placement.offset;
    const obj = new BpfObject(FIXTURE_OBJECT);
    obj.load();
    obj.attachUprobe({ program: 'stella_uprobe_call', binaryPath: LIBCRYPTO, offset, pid, cookie: 1n });
    finish = async () => obj.close();
  }
  child.stdin.end('g');
  await exited(child);
  const ns = Number(out.text().split('\n')[1]);
  await finish();
  return ns;
}

const modes = [
  'none',
  'bpftrace @entry',
  'perf counter @entry',
  `perf counter @+${placement.delta}`,
  'stella_uprobe_call @entry',
  `stella_uprobe_call @+${placement.delta}`,
];
const samples = Object.fromEntries(modes.map((m) => [m, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of modes) samples[mode].push(await runOnce(mode));
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(samples.none);
const bpftraceAdded = median(samples['bpftrace @entry']) - base;
console.log(
  `\n${SYMBOL} (${placement.reason}; entry: test %rdx,%rdx), ${CALLS} calls per run, ${ROUNDS} interleaved rounds, medians; kernel ${execFileSync('uname', ['-r']).toString().trim()}, load average ${loadavg()[0].toFixed(1)}\n`,
);
console.log('| mode | ns/call | added ns/call | added vs bpftrace count() at the entry |');
console.log('|---|---:|---:|---:|');
for (const mode of modes) {
  const m = median(samples[mode]);
  const added = m - base;
  const none = mode === 'none';
  console.log(
    `| ${mode} | ${m.toFixed(0)} | ${none ? '—' : added.toFixed(0)} | ${none ? '—' : `${(added / bpftraceAdded).toFixed(2)}×`} |`,
  );
}

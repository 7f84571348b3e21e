// SPDX-License-Identifier: Apache-2.0
// Walks issue #13's list of hostile inputs through the built CLI (core/bin/stella.js): each input is
// fed, and its exit code, its first line of text, no stack trace, and nothing written in a sibling
// directory no command names are checked; rootfs reads are checked with strace. Prints a Markdown
// table; exit 1 when a row fails. `node scripts/hostile-inputs-walk.mjs` (about two minutes).
// The e2e tests (test/e2e/function-map/*.test.ts, test/e2e/stores/secrets-in-messages.test.ts)
// hold each case to its exact sentence; this is the one-page overview. The inputs themselves, one row
// each, are in hostile-inputs-cases.mjs.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostileInputCases } from './hostile-inputs-cases.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(REPO, 'core/bin/stella.js');
const SBOM = join(REPO, 'test/e2e/function-map/fixtures/debian12-syft.cdx.json');
const W = mkdtempSync(join(tmpdir(), 'walk-'));
const OUTSIDE = join(W, 'outside'); // a directory no command is pointed at
mkdirSync(OUTSIDE);
writeFileSync(join(OUTSIDE, 'sentinel'), 'x');
const at = (p) => join(W, p);
const results = [];
const listing = () => JSON.stringify(readdirSync(OUTSIDE).map((n) => [n, statSync(join(OUTSIDE, n)).size]));

function stella(args, opts = {}) {
  const before = listing();
  const r = spawnSync(
    opts.strace ? 'strace' : process.execPath,
    opts.strace
      ? ['-f', '-qq', '-e', 'trace=open,openat,openat2', '-o', at('trace'), process.execPath, BIN, ...args]
      : [BIN, ...args],
    {
      cwd: opts.cwd ?? W,
      encoding: 'utf8',
      input: opts.input,
      env: { ...process.env, ...opts.env },
      timeout: opts.timeout ?? 60_000,
    },
  );
  const opened = opts.strace ? readFileSync(at('trace'), 'utf8') : '';
  return {
    code: r.status,
    out: r.stdout ?? '',
    err: r.stderr ?? '',
    outsideChanged: listing() !== before,
    opened,
    signal: r.signal,
  };
}
function check(item, input, r, wantCode, pattern, extra = true) {
  const oneSentence =
    r.err
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('  - ')).length <= 1 || wantCode === 0;
  const noTrace = !/\n\s+at /.test(r.err);
  const ok =
    r.code === wantCode &&
    (pattern ? pattern.test(r.err + r.out) : true) &&
    noTrace &&
    !r.outsideChanged &&
    extra &&
    (wantCode !== 2 || oneSentence);
  results.push({ item, input, code: r.code, ok, msg: (r.err.trim().split('\n')[0] ?? '').slice(0, 110) });
  if (!ok) console.error(`--- ${item} ${input}: exit ${r.code}\n${r.err}${r.out.slice(0, 300)}`);
}

// Fixtures.
execFileSync(
  process.execPath,
  [BIN, 'function-map', 'generate', '--sbom', SBOM, '--service', 'demo', '--output', at('map.json')],
  { cwd: W },
);
const map = JSON.parse(readFileSync(at('map.json'), 'utf8'));
const call = map.predicate.expectedPaths[0].expectedCalls[0];
const line = (o = {}) =>
  JSON.stringify({
    observedAt: new Date().toISOString(),
    service: 'demo',
    function: call.function,
    binaryPath: call.binaryPath,
    nodeHash: call.nodeHash,
    pid: 1,
    comm: 'x',
    hitCount: 1,
    ...o,
  });
mkdirSync(at('obs'));
writeFileSync(at('obs/a.ndjson'), `${line()}\n`);
execFileSync(process.execPath, [BIN, 'attest', 'keygen', '--out-dir', W, '--name', 'k'], { cwd: W });

const CASES = hostileInputCases({ W, BIN, SBOM, at, map, line });

for (const c of CASES) {
  c.before?.();
  if (c.measure) {
    results.push({ item: c.item, input: c.input, ...c.measure() });
    continue;
  }
  const t0 = Date.now();
  const r = stella(c.args, c.opts);
  const input = typeof c.input === 'function' ? c.input(((Date.now() - t0) / 1000).toFixed(1)) : c.input;
  // Absent: any status; 'nonzero': any but 0 (-1 then fails the row).
  const wantCode = c.code === undefined ? r.code : c.code === 'nonzero' ? (r.code === 0 ? -1 : r.code) : c.code;
  check(c.item, input, r, wantCode, c.pattern ?? null, c.holds ? c.holds(r) : true);
  c.after?.();
}

console.log('| item | input | exit | ok | first line of stderr |');
console.log('|---|---|---|---|---|');
for (const x of results)
  console.log(`| ${x.item} | ${x.input} | ${x.code} | ${x.ok ? 'yes' : '**NO**'} | ${x.msg.replace(/\|/g, '\\|')} |`);
rmSync(W, { recursive: true, force: true });
if (results.some((x) => !x.ok)) process.exitCode = 1;

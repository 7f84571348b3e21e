// SPDX-License-Identifier: Apache-2.0
// `stella function-map verify` throughput beside its baselines, on the same file:
//   node bench/verify.mjs [lines=10000000]
// 1. generates bench/data/obs-<lines>.ndjson (bench/gen-observations.mjs) unless present;
// 2. `wc -l` (the I/O floor), the real CLI (core/bin/stella.js, compiled dist; run
//    `npm run build:ts` first) with one reader and with one per CPU (their reports must agree),
//    the same lines as ten gzip segments (what the agent leaves after rotation), and `jq` computing
//    per-function hit counts (what a shell script would do);
// 3. prints wall time, CPU time, lines/s, MB/s and peak RSS (GNU time) for each, as a Markdown table.
// The machine is shared: compare the ratios, and the CPU column, rather than absolute walls.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const lines = Number(process.argv[2] ?? 10_000_000);
const map = 'core/test/function-map/fixtures/golden/trivy-debian.map.json';
const data = `bench/data/obs-${lines}.ndjson`;
mkdirSync(`${repo}/bench/data`, { recursive: true });
if (!existsSync(`${repo}/${data}`)) {
  execFileSync(process.execPath, ['bench/gen-observations.mjs', map, data, String(lines)], {
    cwd: repo,
    stdio: 'inherit',
  });
}
if (!existsSync(`${repo}/core/dist/cli/commands/function-map.js`)) {
  throw new Error('build first: npm run build:ts');
}
const bytes = statSync(`${repo}/${data}`).size;
// The same lines as the agent leaves them after rotation: gzip segments (ten here).
const segments = `bench/data/obs-${lines}-gz`;
if (!existsSync(`${repo}/${segments}`)) {
  mkdirSync(`${repo}/${segments}`);
  execFileSync(
    'sh',
    [
      '-c',
      `split -l ${Math.ceil(lines / 10)} -d -a 2 --additional-suffix=.ndjson "$1" "$2/segment-" && gzip "$2"/*.ndjson`,
      'sh',
      data,
      segments,
    ],
    { cwd: repo, stdio: 'inherit' },
  );
}

function measure(name, cmd, args) {
  // GNU time: wall seconds, user + sys CPU seconds, peak RSS in KiB.
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', cmd, ...args], {
    cwd: repo,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [wall, user, sys, rssKb] = last.split(' ').map(Number);
  const result = {
    name,
    exit: r.status,
    wall,
    cpu: user + sys,
    rssMb: rssKb / 1024,
    linesPerS: lines / wall,
    mbPerS: bytes / 1e6 / wall,
  };
  console.error(
    `${name}: exit ${r.status}, ${wall}s wall, ${(user + sys).toFixed(2)}s CPU, ${(rssKb / 1024).toFixed(0)} MB peak RSS`,
  );
  return { result, stdout: r.stdout };
}

const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim();
const verifyArgs = (workers, output, observations = data) => [
  'core/bin/stella.js',
  'function-map',
  'verify',
  '--function-map',
  map,
  '--offline',
  '--observations',
  observations,
  '--from',
  '2026-01-15T11:00:00Z',
  '--to',
  '2026-01-15T12:00:00Z',
  '--format',
  'json',
  '--workers',
  String(workers),
  '--output',
  output,
];
// The short runs first: after minutes of jq at 100 % of a CPU this shared machine runs slower
// (the same verify took 9.8 s after jq and 6.3–7.0 s alone).
const wc = measure('wc -l', 'wc', ['-l', data]);
const one = measure(
  'stella function-map verify --workers 1',
  process.execPath,
  verifyArgs(1, 'bench/data/verify-report-1.json'),
);
const stella = measure(
  `stella function-map verify (${availableParallelism()} readers, default)`,
  process.execPath,
  verifyArgs(availableParallelism(), 'bench/data/verify-report.json'),
);
const gz = measure(
  'stella function-map verify, 10 gzip segments (default readers)',
  process.execPath,
  verifyArgs(availableParallelism(), 'bench/data/verify-report-gz.json', segments),
);
const jq = measure('jq per-function counts', 'jq', [
  '-nR',
  'reduce (inputs | fromjson? | select(type == "object")) as $o ({}; .[$o.function] += ($o.hitCount // 1))',
  data,
]);
// The syntax check's cost: the reader alone with the check and with it stubbed out (the baseline),
// alternated in fresh processes, least CPU of each.
const readerCpu = { check: [], stub: [] };
for (let round = 0; round < 3; round++) {
  for (const variant of ['stub', 'check']) {
    const out = execFileSync(process.execPath, ['bench/verify-reader.mjs', data, variant, '2'], {
      cwd: repo,
      encoding: 'utf8',
    });
    readerCpu[variant].push(Number(out.trim()));
  }
}
const leastOf = (xs) => Math.min(...xs);
const checkRatio = leastOf(readerCpu.check) / leastOf(readerCpu.stub);
console.error(`reader alone: check ${readerCpu.check.join('/')} ms, stub ${readerCpu.stub.join('/')} ms CPU`);

// One reader and several must agree on every count.
const counts = (f) => {
  const r = JSON.parse(readFileSync(`${repo}/${f}`, 'utf8'));
  // Malformed samples name their place (file:line, file@offset, segment file): reasons only.
  const { malformedSamples, ...skipped } = r.observationsSkipped;
  const reasons = malformedSamples.map((m) => m.reason);
  return JSON.stringify([r.observationsRead, skipped, reasons, r.paths, r.unexpectedSymbols]);
};
for (const other of ['bench/data/verify-report-1.json', 'bench/data/verify-report-gz.json']) {
  if (counts(other) !== counts('bench/data/verify-report.json')) {
    throw new Error(`${other} disagrees with bench/data/verify-report.json: the same lines, other counts`);
  }
}

const rows = [wc, one, stella, gz, jq].map(
  ({ result: r }) =>
    `| ${r.name} | ${r.wall.toFixed(2)} | ${r.cpu.toFixed(2)} | ${(r.linesPerS / 1e6).toFixed(2)} M | ${r.mbPerS.toFixed(0)} | ${r.rssMb.toFixed(0)} |`,
);
const table = [
  `${lines.toLocaleString('en-US')} lines, ${(bytes / 1e6).toFixed(0)} MB (${(bytes / lines).toFixed(0)} B/line); load average before: ${load}`,
  '',
  '| tool | wall s | CPU s | lines/s | MB/s | peak RSS MB |',
  '|---|---|---|---|---|---|',
  ...rows,
  '',
  `Line syntax check (reader alone, one process, least CPU of 6 runs each): ${leastOf(readerCpu.check)} ms with it, ${leastOf(readerCpu.stub)} ms stubbed out: **${checkRatio.toFixed(2)}×**.`,
].join('\n');
console.log(table);
writeFileSync(
  `${repo}/bench/data/verify-results.json`,
  JSON.stringify(
    { lines, bytes, load, runs: [wc, one, stella, gz, jq].map((x) => x.result), readerCpu, checkRatio },
    null,
    2,
  ),
);
if ([one, stella, gz].some((r) => r.result.exit !== 0 && r.result.exit !== 1)) process.exitCode = 1;

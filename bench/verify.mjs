// SPDX-License-Identifier: Apache-2.0
// `stella function-map verify` throughput beside its baselines, on the same file:
//   node bench/verify.mjs [lines=10000000]
// 1. generates bench/data/obs-<lines>.ndjson (bench/gen-observations.mjs) unless present;
// 2. `wc -l` (the I/O floor), `jq` computing per-function hit counts (what a shell script would do),
//    and the real CLI (core/bin/stella.js, compiled dist; run `npm run build:ts` first);
// 3. prints wall time, CPU time, lines/s, MB/s and peak RSS (GNU time) for each, as a Markdown table.
// The machine is shared: compare the ratios, and the CPU column, rather than absolute walls.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
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
const wc = measure('wc -l', 'wc', ['-l', data]);
const jq = measure('jq per-function counts', 'jq', [
  '-nR',
  'reduce (inputs | fromjson? | select(type == "object")) as $o ({}; .[$o.function] += ($o.hitCount // 1))',
  data,
]);
const stella = measure('stella function-map verify', process.execPath, [
  'core/bin/stella.js',
  'function-map',
  'verify',
  '--function-map',
  map,
  '--offline',
  '--observations',
  data,
  '--from',
  '2026-01-15T11:00:00Z',
  '--to',
  '2026-01-15T12:00:00Z',
  '--format',
  'json',
  '--output',
  'bench/data/verify-report.json',
]);

const rows = [wc, jq, stella].map(
  ({ result: r }) =>
    `| ${r.name} | ${r.wall.toFixed(2)} | ${r.cpu.toFixed(2)} | ${(r.linesPerS / 1e6).toFixed(2)} M | ${r.mbPerS.toFixed(0)} | ${r.rssMb.toFixed(0)} |`,
);
const table = [
  `${lines.toLocaleString('en-US')} lines, ${(bytes / 1e6).toFixed(0)} MB (${(bytes / lines).toFixed(0)} B/line); load average before: ${load}`,
  '',
  '| tool | wall s | CPU s | lines/s | MB/s | peak RSS MB |',
  '|---|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(table);
writeFileSync(
  `${repo}/bench/data/verify-results.json`,
  JSON.stringify({ lines, bytes, load, runs: [wc, jq, stella].map((x) => x.result) }, null, 2),
);
if (stella.result.exit !== 0 && stella.result.exit !== 1) process.exitCode = 1;

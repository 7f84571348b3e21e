// SPDX-License-Identifier: Apache-2.0
// Writes N agent-shaped NDJSON observation lines for the `verify` benchmark:
//   node bench/gen-observations.mjs <function-map.json> <out.ndjson> [lines=10000000]
// 94 % match the map's calls, 5 % are unexpected symbols, 1 % are out of the window, and one line
// in 10,000 is malformed (truncated), like a crashed writer's tail. Timestamps run over 2026-01-15
// 11:00–12:00Z. Deterministic (fixed seed), so runs compare.
import { createWriteStream, readFileSync } from 'node:fs';

const [mapPath, outPath, linesArg] = process.argv.slice(2);
if (!mapPath || !outPath) {
  console.error('usage: node bench/gen-observations.mjs <function-map.json> <out.ndjson> [lines]');
  process.exit(2);
}
const lines = Number(linesArg ?? 10_000_000);
const map = JSON.parse(readFileSync(mapPath, 'utf8'));
const calls = [
  ...new Map(map.predicate.expectedPaths.flatMap((p) => p.expectedCalls).map((c) => [c.nodeHash, c])).values(),
];
const service = map.predicate.service;
const unexpected = Array.from({ length: 40 }, (_, i) => ({
  function: `crypto/RC4_variant_${i}`,
  symbol: `RC4_variant_${i}`,
  binaryPath: '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
  nodeHash: `sha256:${i.toString(16).padStart(64, 'f')}`,
}));

let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const start = Date.parse('2026-01-15T11:00:00.000Z');
const span = 3_600_000;
const out = createWriteStream(outPath, { highWaterMark: 1 << 22 });
let buf = '';
let written = 0;
for (let i = 0; i < lines; i++) {
  const r = rand();
  const c = r < 0.05 ? unexpected[Math.floor(rand() * unexpected.length)] : calls[Math.floor(rand() * calls.length)];
  const t = r > 0.99 ? start - 60_000 : start + Math.floor((i / lines) * span);
  const pid = 1000 + Math.floor(rand() * 64);
  const line =
    `{"observedAt":"${new Date(t).toISOString()}","service":"${service}","function":"${c.function}","symbol":"${c.symbol}",` +
    `"binaryPath":"${c.binaryPath}","nodeHash":"${c.nodeHash}","probeType":"uprobe","pid":${pid},"tid":${pid + 7},` +
    `"comm":"checkout","nodeName":"node-a","hitCount":1}`;
  buf += i % 10_000 === 9_999 ? line.slice(0, 60) + '\n' : line + '\n';
  if (buf.length > 1 << 20) {
    if (!out.write(buf)) await new Promise((res) => out.once('drain', res));
    written += buf.length;
    buf = '';
  }
}
out.end(buf);
await new Promise((res) => out.on('finish', res));
console.log(`wrote ${lines} lines (${((written + buf.length) / 1e6).toFixed(0)} MB) to ${outPath}`);

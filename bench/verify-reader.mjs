// SPDX-License-Identifier: Apache-2.0
// The NDJSON reader alone (core/dist), for bench/verify.mjs's syntax-check row:
//   node bench/verify-reader.mjs <file.ndjson> check|stub [runs=3]
// `stub` replaces the line syntax check (FlatObjectSyntax.check and LineTemplate.matches) with one
// that says yes: the reader as it would run without the check, the baseline the check's cost is
// measured against. Prints the least CPU ms of the runs (one reader, no workers).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const [file, variant = 'check', runs = '3'] = process.argv.slice(2);
const { VerificationAccumulator } = await import(`${repo}/core/dist/verify/accumulator.js`);
const { readObservationFiles } = await import(`${repo}/core/dist/verify/ndjson.js`);
const syntax = await import(`${repo}/core/dist/verify/ndjson-syntax.js`);
const { parseFunctionMap } = await import(`${repo}/core/dist/function-map/index.js`);
const mapPath = `${repo}/core/test/function-map/fixtures/golden/trivy-debian.map.json`;
const map = parseFunctionMap(JSON.parse(readFileSync(mapPath, 'utf8')), mapPath);
const window = { from: new Date('2026-01-15T11:00:00Z'), to: new Date('2026-01-15T12:00:00Z') };
if (variant === 'stub') {
  syntax.LineTemplate.prototype.matches = () => true;
  syntax.FlatObjectSyntax.prototype.check = function check() {
    this.present = -1;
    this.strings = -1;
    return true;
  };
}
let least = Number.POSITIVE_INFINITY;
for (let i = 0; i < Number(runs); i++) {
  const acc = new VerificationAccumulator(map, window);
  const before = process.cpuUsage();
  await readObservationFiles([file], acc);
  const used = process.cpuUsage(before);
  least = Math.min(least, (used.user + used.system) / 1000);
}
console.log(least.toFixed(0));

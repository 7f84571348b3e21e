#!/usr/bin/env -S node --expose-gc
// SPDX-License-Identifier: Apache-2.0
/**
 * V8 heap bytes one queued observation really holds in the agent's pipeline, against the figure
 * the pipeline budgets with (OBSERVATION_HEAP_BYTES, core/src/agent/pipeline.ts): the 64 MiB
 * buffer is only an upper bound while the measured bytes stay below it. Records are built by the
 * SDK's uprobe decoder, as the agent builds them, and queued in the real ObservationPipeline.
 * Needs the compiled TypeScript (npm run build). No root, no kernel.
 *
 *   node --expose-gc bench/pipeline-memory.mjs [--records 1000000]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' } } });
const records = Number(values.records);
if (typeof globalThis.gc !== 'function') {
  process.stderr.write('bench/pipeline-memory: run with node --expose-gc\n');
  process.exit(2);
}

const { ObservationPipeline, OBSERVATION_HEAP_BYTES } = await import(join(repo, 'core/dist/agent/pipeline.js'));
const { createUprobeObservationDecoder } = await import(join(repo, 'plugins/sdk/dist/uprobe-observations.js'));

/** One probe request, as the agent builds it from a map: its strings are shared by every record. */
const request = {
  service: 'checkout',
  functionId: 'crypto/EVP_DigestUpdate',
  category: 'crypto',
  symbol: 'EVP_DigestUpdate',
  library: 'libcrypto.so.3',
  binaryPath: '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
  purl: 'pkg:deb/debian/libssl3',
  buildId: '8f1c2d3e4a5b6c7d8e9f00112233445566778899',
  nodeHash: `sha256:${'ab'.repeat(32)}`,
  probeTypes: ['uprobe'],
};
const decoder = createUprobeObservationDecoder({
  requests: [request],
  header: {},
  clock: (ns) => ns / 1e6,
  nodeName: 'node-a',
  samplingRate: 1,
  services: () => ['checkout'],
});
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const events = { dropped() {}, bufferFull() {}, accepted() {} };

/**
 * Heap growth per record for `records` queued observations. `distinctTimes`: every record its own
 * `observedAt` string (one call per millisecond or slower); otherwise the decoder's reuse within a
 * millisecond (hot functions). `comm` is always a fresh string, as readCString makes one per record.
 */
function bytesPerRecord(distinctTimes) {
  const pipeline = new ObservationPipeline([], {
    maxBytes: Number.MAX_SAFE_INTEGER,
    flushIntervalMs: 3_600_000,
    logger: silent,
    events,
  });
  const start = Date.parse('2026-12-02T00:00:00Z');
  const shared = new Date(start).toISOString();
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  const batch = [];
  for (let i = 0; i < records; i++) {
    const observedAt = distinctTimes ? new Date(start + i).toISOString() : shared;
    const o = decoder.observationOf(request, observedAt, 4000 + (i % 50), `curl${i % 10}`, 1);
    o.tid = 4000 + (i % 50);
    o.cgroupId = '4242';
    o.sampleRate = undefined;
    batch.push(o);
    if (batch.length === 4096) pipeline.emit(batch.splice(0));
  }
  pipeline.emit(batch.splice(0));
  globalThis.gc();
  const grown = process.memoryUsage().heapUsed - before;
  if (pipeline.bytesQueued !== records * OBSERVATION_HEAP_BYTES) throw new Error('the pipeline refused records');
  return grown / records;
}

const rows = [
  ['observedAt shared within a millisecond', bytesPerRecord(false)],
  ['observedAt distinct for every record', bytesPerRecord(true)],
];
console.log(`records queued per case: ${records.toLocaleString('en')}, Node ${process.version}`);
console.log('| case | heap bytes / record | budgeted (OBSERVATION_HEAP_BYTES) | measured ÷ budgeted |');
console.log('|---|---:|---:|---:|');
for (const [name, bytes] of rows) {
  console.log(
    `| ${name} | ${bytes.toFixed(0)} | ${OBSERVATION_HEAP_BYTES} | ${(bytes / OBSERVATION_HEAP_BYTES).toFixed(2)} |`,
  );
}
const worst = Math.max(...rows.map(([, bytes]) => bytes));
if (worst > OBSERVATION_HEAP_BYTES) {
  console.log(`\nThe budget is NOT an upper bound: ${worst.toFixed(0)} > ${OBSERVATION_HEAP_BYTES} bytes a record.`);
  process.exitCode = 1;
}

// SPDX-License-Identifier: Apache-2.0
/**
 * `releaseFreedMemory()` hands freed malloc pages back to the kernel. glibc returns a free chunk at
 * the top of an arena by itself, so the child below keeps every 16th buffer alive: the freed runs
 * between them stay resident until malloc_trim walks the arena, which is what the agent needs
 * after its native threads' loads (docs/OPERATIONS.md §5).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageDir } from '../src/native.js';

const CHILD = `
import { createBpf } from ${JSON.stringify(join(packageDir, 'dist/index.js'))};
const rssAnonKb = async () => {
  const { readFileSync } = await import('node:fs');
  return Number(/^RssAnon:\\s+(\\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
};
// A function, not a block: a block's bindings at a module's top level can outlive it.
function fragment() {
  const all = Array.from({ length: 20000 }, () => new ArrayBuffer(4096));
  return all.filter((_, i) => i % 16 === 0);
}
const kept = fragment();
for (let i = 0; i < 4; i++) globalThis.gc();
await new Promise((r) => setTimeout(r, 100));
const before = await rssAnonKb();
const released = await createBpf().releaseFreedMemory();
const after = await rssAnonKb();
console.log(JSON.stringify({ released, before, after, kept: kept.length }));
`;

const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;

describe.skipIf(!glibc)('releaseFreedMemory (glibc malloc_trim)', () => {
  it('gives the freed pages between live allocations back: resident memory drops by most of what was freed', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], {
      encoding: 'utf8',
      env: { ...process.env, MALLOC_ARENA_MAX: '2' },
    });
    const { released, before, after } = JSON.parse(out.trim().split('\n').pop()!) as {
      released: boolean;
      before: number;
      after: number;
    };
    expect(released).toBe(true);
    // 20,000 × 4 KiB = 78 MiB allocated, 15/16 of it freed but resident; trim returns most of it.
    expect(before - after).toBeGreaterThan(40 * 1024);
  });
});

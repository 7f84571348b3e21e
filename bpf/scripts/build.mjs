// SPDX-License-Identifier: Apache-2.0
/**
 * Build of @stella/bpf itself (the plugins build their own objects with the SDK's
 * `stella-build-bpf`; the root `npm run build:bpf` runs both):
 *   1. bpf/probes/*.bpf.c and bpf/test/fixtures/*.bpf.c into a .bpf.o beside each, through the
 *      SDK's build helper (its headers, its vmlinux.h),
 *   2. the N-API addon with node-gyp, linked against the shared libbpf.so.1 (>= 1.4),
 *   3. the test fixture programs into bpf/build/fixtures/.
 * Incremental: an output newer than all of its inputs is skipped. Safe to run concurrently (lock).
 * Flags: --force (rebuild everything), --quiet.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBpfObject, ensureVmlinux } from '@stella/sdk/build';

const bpfDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const quiet = process.argv.includes('--quiet');
const MIN_LIBBPF = [1, 4];

const log = (msg) => {
  if (!quiet) console.log(`[build:bpf] ${msg}`);
};
const fail = (msg) => {
  console.error(`[build:bpf] ${msg}`);
  process.exit(1);
};

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

/** True when `output` exists and is newer than every input. */
function upToDate(output, inputs) {
  if (force) return false;
  const out = mtime(output);
  if (out < 0) return false;
  return inputs.every((input) => mtime(input) <= out);
}

function which(tool) {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status === 0;
}

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit', ...opts });
  if (res.status !== 0) {
    const out = quiet ? `\n${res.stdout ?? ''}${res.stderr ?? ''}` : '';
    fail(`${cmd} ${args.join(' ')} failed with exit code ${res.status ?? res.signal}${out}`);
  }
}

function listFiles(dir, suffix) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(dir, f));
}

// Two test files (vitest forks) may build at once: serialise with an exclusive lock directory.
// Outside bpf/build, which `node-gyp rebuild` deletes.
const lockDir = join(
  tmpdir(),
  `stella-bpf-build-${createHash('sha256').update(bpfDir).digest('hex').slice(0, 12)}.lock`,
);
async function withLock(fn) {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = 0;
      try {
        holder = Number(execFileSync('cat', [join(lockDir, 'pid')], { encoding: 'utf8' }));
      } catch {}
      let alive = false;
      try {
        if (holder > 0) process.kill(holder, 0);
        alive = holder > 0;
      } catch {}
      if (!alive && holder > 0) rmSync(lockDir, { recursive: true, force: true });
      if (Date.now() > deadline) fail(`timed out waiting for the build lock ${lockDir}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function checkTools() {
  const missing = ['clang', 'bpftool', 'pkg-config', 'cc', 'make', 'g++'].filter((t) => !which(t));
  if (missing.length > 0) {
    fail(
      `missing build tools: ${missing.join(', ')} (Debian: apt-get install clang llvm bpftool pkg-config build-essential)`,
    );
  }
  const res = spawnSync('pkg-config', ['--modversion', 'libbpf'], { encoding: 'utf8' });
  if (res.status !== 0) {
    fail(
      'libbpf development files not found by pkg-config (Debian 12: apt-get install -t bookworm-backports libbpf-dev)',
    );
  }
  const version = res.stdout.trim();
  const [major, minor] = version.split('.').map(Number);
  if (major < MIN_LIBBPF[0] || (major === MIN_LIBBPF[0] && minor < MIN_LIBBPF[1])) {
    fail(
      `libbpf ${version} is too old: @stella/bpf needs >= ${MIN_LIBBPF.join('.')} ` +
        '(Debian 12 ships 1.1.2; install libbpf-dev and libbpf1 from bookworm-backports)',
    );
  }
  log(`libbpf ${version}`);
}

function buildBpfObjects() {
  ensureVmlinux({ force });
  const sources = [join(bpfDir, 'probes'), join(bpfDir, 'test', 'fixtures')].flatMap((d) => listFiles(d, '.bpf.c'));
  for (const source of sources) {
    try {
      buildBpfObject(source, { force, log: (m) => log(m.replace(`${bpfDir}/`, '')) });
    } catch (error) {
      fail(error.message);
    }
  }
}

function nodeGypScript() {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // npm bundles node-gyp: fall back to it when devDependencies were not installed.
    const bundled = join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    );
    if (existsSync(bundled)) return bundled;
    return fail('node-gyp not found: run npm install (it is a devDependency of @stella/bpf)');
  }
}

function buildAddon() {
  const out = join(bpfDir, 'build', 'Release', 'stella_bpf.node');
  const addonSources = [...listFiles(join(bpfDir, 'addon'), '.cc'), ...listFiles(join(bpfDir, 'addon'), '.h')];
  if (upToDate(out, [...addonSources, join(bpfDir, 'binding.gyp')])) return;
  log('node-gyp rebuild (addon)');
  const args = [nodeGypScript(), 'rebuild', '-j', '2'];
  // Use the installed Node headers when present (no download needed, works offline).
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  run(process.execPath, args, { cwd: bpfDir });
}

function buildFixturePrograms() {
  const outDir = join(bpfDir, 'build', 'fixtures');
  mkdirSync(outDir, { recursive: true });
  for (const src of listFiles(join(bpfDir, 'test', 'fixtures'), '.c').filter((f) => !f.endsWith('.bpf.c'))) {
    const out = join(outDir, src.slice(src.lastIndexOf('/') + 1, -2));
    if (upToDate(out, [src])) continue;
    log(`cc ${relative(bpfDir, src)}`);
    // -O0 keeps each probed function's `push %rbp` prologue (a cheap, emulated uprobe) and the symbol.
    run('cc', ['-O0', '-g', '-Wall', '-o', out, src]);
  }
}

await withLock(async () => {
  checkTools();
  buildBpfObjects();
  buildAddon();
  buildFixturePrograms();
  log('done');
});

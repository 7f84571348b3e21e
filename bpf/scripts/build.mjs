// SPDX-License-Identifier: Apache-2.0
/**
 * CO-RE build of @stella/bpf and every probe plugin (root `npm run build:bpf`):
 *   1. bpf/vmlinux/vmlinux.h from the running kernel's BTF (bpftool),
 *   2. every plugins/<pkg>/bpf/*.bpf.c, examples/<pkg>/bpf/*.bpf.c (out-of-tree plugin examples),
 *      bpf/probes/*.bpf.c and bpf/test/fixtures/*.bpf.c into a .bpf.o beside it (clang -target bpf),
 *   3. the N-API addon with node-gyp, linked against the shared libbpf.so.1 (>= 1.4),
 *   4. the test fixture programs into bpf/build/fixtures/.
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

const bpfDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = resolve(bpfDir, '..');
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

function buildVmlinux() {
  const out = join(bpfDir, 'vmlinux', 'vmlinux.h');
  const btf = '/sys/kernel/btf/vmlinux';
  if (!existsSync(btf)) fail(`${btf} is missing: the kernel has no BTF (CONFIG_DEBUG_INFO_BTF), so CO-RE cannot build`);
  if (!force && existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  log(`generating ${relative(repoDir, out)}`);
  const header = execFileSync('bpftool', ['btf', 'dump', 'file', btf, 'format', 'c'], { maxBuffer: 512 * 1024 * 1024 });
  writeFileSync(out, header);
  return out;
}

function bpfSources() {
  const dirs = [join(bpfDir, 'probes'), join(bpfDir, 'test', 'fixtures')];
  for (const parent of ['plugins', 'examples']) {
    const parentDir = join(repoDir, parent);
    if (!existsSync(parentDir)) continue;
    for (const pkg of readdirSync(parentDir)) dirs.push(join(parentDir, pkg, 'bpf'));
  }
  return dirs.flatMap((d) => listFiles(d, '.bpf.c'));
}

function buildBpfObjects(vmlinux) {
  const includeDir = join(bpfDir, 'include');
  const sharedHeaders = [vmlinux, ...listFiles(join(includeDir, 'stella'), '.h')];
  for (const src of bpfSources()) {
    const out = src.replace(/\.c$/, '.o');
    const localHeaders = listFiles(dirname(src), '.h');
    if (upToDate(out, [src, ...sharedHeaders, ...localHeaders])) continue;
    log(`clang ${relative(repoDir, src)}`);
    run('clang', [
      '-O2',
      '-g',
      '-target',
      'bpf',
      '-D__TARGET_ARCH_x86',
      '-Wall',
      '-Wno-unused-function',
      '-I',
      includeDir,
      '-I',
      join(bpfDir, 'vmlinux'),
      '-I',
      dirname(src),
      '-c',
      src,
      '-o',
      out,
    ]);
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
    log(`cc ${relative(repoDir, src)}`);
    // -O0 keeps each probed function's `push %rbp` prologue (a cheap, emulated uprobe) and the symbol.
    run('cc', ['-O0', '-g', '-Wall', '-o', out, src]);
  }
}

await withLock(async () => {
  checkTools();
  const vmlinux = buildVmlinux();
  buildBpfObjects(vmlinux);
  buildAddon();
  buildFixturePrograms();
  log('done');
});

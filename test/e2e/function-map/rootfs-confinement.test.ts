// SPDX-License-Identifier: Apache-2.0
/**
 * `generate --rootfs` on a hostile root filesystem (issue #13, item 1): symlinks to host files,
 * relative symlinks climbing out, a symlinked library directory, `..` in dpkg lists and SBOM
 * evidence. Each run is traced with strace, so "nothing outside the root was opened" is checked on
 * the system calls themselves, and the same trace shows the in-root copy opened in the control case.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(REPO, 'core/bin/stella.js');
const REAL_SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const LIBDIR = 'usr/lib/x86_64-linux-gnu';
const PURL = 'pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64';
const hasStrace = spawnSync('strace', ['-V']).status === 0;
const buildIdOf = (file: string) =>
  /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', file], { encoding: 'utf8' }))![1]!;

const base = mkdtempSync(join(tmpdir(), 'rootfs-confinement-'));
/** The "host secrets": a library whose build-id must never appear, in a directory never opened. */
const HOST = join(base, 'host');
mkdirSync(HOST);
copyFileSync(REAL_SSL, join(HOST, 'libssl.so.3'));
const HOST_BUILD_ID = buildIdOf(REAL_SSL);

function sbom(locations: string[] = []): string {
  const file = join(mkdtempSync(join(base, 'sbom-')), 'sbom.json');
  writeFileSync(
    file,
    JSON.stringify({
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      metadata: { component: { type: 'application', name: 'checkout', purl: 'pkg:generic/checkout@1.0.0' } },
      components: [
        {
          type: 'library',
          name: 'libssl3',
          version: '3.0.15-1~deb12u1',
          purl: PURL,
          evidence: { occurrences: locations.map((location) => ({ location })) },
        },
      ],
    }),
  );
  return file;
}

/** A fresh root; `build` lays out what the attack needs inside it. */
function rootfs(build: (root: string) => void): string {
  const root = mkdtempSync(join(base, 'root-'));
  mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
  build(root);
  return root;
}

const put = (root: string, p: string) => mkdirSync(join(root, p), { recursive: true });
/** A different library at the in-root twin of the host path, so the lookup succeeds inside the root. */
const DECOY = '/usr/lib/x86_64-linux-gnu/libcrypto.so.3';
const decoy = (root: string) => {
  mkdirSync(join(root, HOST), { recursive: true });
  copyFileSync(DECOY, join(root, HOST, 'libssl.so.3'));
};
const link = (root: string, p: string, target: string) => {
  mkdirSync(dirname(join(root, p)), { recursive: true });
  symlinkSync(target, join(root, p));
};

/** Runs generate under strace; returns exit code, stderr, the map and every path the CLI opened. */
function generate(root: string, sbomFile = sbom()) {
  const out = join(mkdtempSync(join(base, 'out-')), 'map.json');
  const trace = `${out}.strace`;
  const r = spawnSync(
    'strace',
    [
      '-f',
      '-qq',
      '-e',
      'trace=open,openat,openat2,execve',
      '-o',
      trace,
      process.execPath,
      BIN,
      'function-map',
      'generate',
    ].concat([
      '--sbom',
      sbomFile,
      '--service',
      'checkout',
      '--rootfs',
      root,
      '--hot-functions',
      'tls/*',
      '--output',
      out,
    ]),
    { cwd: base, encoding: 'utf8' },
  );
  const opened = [...readFileSync(trace, 'utf8').matchAll(/open(?:at2?)?\((?:AT_FDCWD, )?"([^"]*)"/g)].map(
    (m) => m[1]!,
  );
  const map =
    r.status === 0 ? (JSON.parse(readFileSync(out, 'utf8')) as { predicate: { expectedPaths: unknown[] } }) : undefined;
  return { code: r.status, stderr: r.stderr, map, opened, text: map ? JSON.stringify(map) : '' };
}

describe.skipIf(!hasStrace)('generate --rootfs stays inside the root (strace-checked)', () => {
  it('control: symlinks inside the root (absolute ones re-rooted, usrmerge) resolve and the in-root copy is read', () => {
    const root = rootfs((r) => {
      put(r, LIBDIR);
      copyFileSync(REAL_SSL, join(r, LIBDIR, 'libssl.so.3.real'));
      link(r, `${LIBDIR}/libssl.so.3`, `/${LIBDIR}/libssl.so.3.real`);
      link(r, 'lib', 'usr/lib');
    });
    const run = generate(root, sbom(['/lib/x86_64-linux-gnu/libssl.so.3']));
    expect(run.stderr).not.toContain('internal error');
    expect(run.code).toBe(0);
    expect(run.text).toContain(`"binaryPath":"/${LIBDIR}/libssl.so.3"`);
    expect(run.text).toContain(HOST_BUILD_ID);
    expect(run.opened).toContain(join(root, LIBDIR, 'libssl.so.3.real'));
  });

  const attacks: [string, (root: string) => void, string[]][] = [
    [
      'a library symlinked to an absolute host path',
      (r) => link(r, `${LIBDIR}/libssl.so.3`, join(HOST, 'libssl.so.3')),
      [],
    ],
    [
      'a relative symlink climbing out with ../',
      (r) => link(r, `${LIBDIR}/libssl.so.3`, `${'../'.repeat(12)}${HOST.slice(1)}/libssl.so.3`),
      [],
    ],
    ['the library directory symlinked to a host directory', (r) => link(r, LIBDIR, HOST), []],
    [
      'a dpkg .list line with /../../..',
      (r) =>
        writeFileSync(
          join(r, 'var/lib/dpkg/info/libssl3:amd64.list'),
          `/${'../'.repeat(12)}${HOST.slice(1)}/libssl.so.3\n`,
        ),
      [],
    ],
    ['an SBOM evidence location with /../../..', () => {}, [`/${'../'.repeat(12)}${HOST.slice(1)}/libssl.so.3`]],
    [
      'a dpkg info directory symlinked to the host',
      (r) => {
        put(join(HOST, 'dpkg-info'), '');
        writeFileSync(join(HOST, 'dpkg-info/libssl3:amd64.list'), '/opt/x/libssl.so.3\n');
        put(r, 'var/lib/dpkg');
        execFileSync('rm', ['-r', join(r, 'var/lib/dpkg/info')]);
        link(r, 'var/lib/dpkg/info', join(HOST, 'dpkg-info'));
        put(r, 'opt/x');
        copyFileSync(REAL_SSL, join(r, 'opt/x/libssl.so.3'));
      },
      [],
    ],
    [
      'a symlink to a host path that also exists inside the root (the checked file and the opened file differ)',
      (r) => {
        decoy(r);
        link(r, `${LIBDIR}/libssl.so.3`, join(HOST, 'libssl.so.3'));
      },
      [],
    ],
    [
      'a relative symlink climbing out, with a decoy at the clamped path',
      (r) => {
        decoy(r);
        link(r, `${LIBDIR}/libssl.so.3`, `${'../'.repeat(12)}${HOST.slice(1)}/libssl.so.3`);
      },
      [],
    ],
    [
      'a symlink loop',
      (r) => {
        link(r, `${LIBDIR}/libssl.so.3`, 'loop-b');
        link(r, `${LIBDIR}/loop-b`, 'libssl.so.3');
      },
      [],
    ],
  ];

  it.each(attacks)(
    '%s: nothing under the host directory is opened and the host build-id is not in the map',
    (_name, build, evidence) => {
      const root = rootfs(build);
      const run = generate(root, sbom(evidence));
      expect(run.stderr).not.toContain('internal error');
      expect(run.code).toBe(0);
      if (existsSync(join(root, HOST))) {
        // The decoy inside the root (libcrypto: no SSL_* symbol) is what gets read, re-rooted.
        expect(run.opened).toContain(join(root, HOST, 'libssl.so.3'));
        expect(run.stderr).toContain(`are not exported by /${LIBDIR}/libssl.so.3 and were dropped`);
      } else {
        expect(run.stderr).toContain(`libssl.so.3 of ${PURL}`);
        expect(run.stderr).toContain(`was not found under ${root}`);
      }
      expect(run.text).not.toContain(HOST_BUILD_ID);
      expect(run.opened.filter((p) => p.startsWith(HOST))).toEqual([]);
    },
  );

  it.each([
    ['a root that does not exist', join(base, 'nonexistent'), 'does not exist'],
    ['a root that is a file', join(HOST, 'libssl.so.3'), 'is not a directory'],
  ])('%s is bad input: exit 2, one sentence, no map written', (_name, root, words) => {
    const run = generate(root);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`stella: --rootfs ${root} ${words}`);
    expect(run.map).toBeUndefined();
  });
});

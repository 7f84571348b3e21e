// SPDX-License-Identifier: Apache-2.0
/**
 * Issue #13 items 5 and 6 through the real CLI: a signed bundle cannot be topped up with a map or
 * observations from elsewhere, `bundle verify` without a key still catches an edited manifest,
 * `bundle create` does not pack what a symlink in an observations directory points at, and
 * `attest keygen` writes only `<out-dir>/<name>.key|.pub`, leaving nothing behind when it refuses.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(REPO, 'core/bin/stella.js');
const SBOM = join(REPO, 'test/e2e/function-map/fixtures/debian12-syft.cdx.json');

function stella(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'bundle-boundaries-'));
/** The "host secret" a symlink in the observations directory points at. */
const secret = join(dir, 'host-secret.ndjson');
const tgz = join(dir, 'signed.tgz');

beforeAll(() => {
  writeFileSync(secret, '{"SECRET":"do-not-pack"}\n');
  expect(
    stella(dir, 'function-map', 'generate', '--sbom', SBOM, '--service', 'demo', '--output', 'map.json').code,
  ).toBe(0);
  expect(
    stella(dir, 'function-map', 'generate', '--sbom', SBOM, '--service', 'other', '--output', 'other.json').code,
  ).toBe(0);
  expect(stella(dir, 'attest', 'keygen', '--name', 'ci').code).toBe(0);
  mkdirSync(join(dir, 'obs'));
  writeFileSync(join(dir, 'obs/a.ndjson'), '');
  symlinkSync(secret, join(dir, 'obs/x.ndjson'));
  writeFileSync(join(dir, 'extra.ndjson'), '');
});

describe('bundle create skips symlinks inside an observations directory', () => {
  it('warns, and the linked file is not in the bundle', () => {
    const r = stella(
      dir,
      'bundle',
      'create',
      '--function-map',
      'map.json',
      '--observations',
      'obs',
      '--sign-key',
      'ci.key',
      '--output',
      tgz,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      'stella: warning: obs/x.ndjson is a symbolic link; skipped (only regular files inside an observations directory are bundled)\n',
    );
    const listed = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(listed).toEqual(['function-map.json', 'manifest.dsse.json', 'manifest.json', 'observations/a.ndjson']);
    expect(execFileSync('tar', ['-xzOf', tgz], { encoding: 'utf8' })).not.toContain('do-not-pack');
  });
});

describe('verify --bundle takes nothing from outside the bundle', () => {
  it.each([
    ['--function-map', ['--function-map', 'other.json']],
    ['--observations', ['--observations', 'extra.ndjson']],
  ])('%s with --bundle --key is exit 2 with one sentence', (flag, extra) => {
    const r = stella(dir, 'function-map', 'verify', '--bundle', tgz, '--key', 'ci.pub', '--offline', ...extra);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `stella: ${flag} cannot be combined with --bundle: the bundle's own function map and observations are what is verified; verify the bundle alone, or the files without --bundle\n`,
    );
    expect(r.stdout).toBe('');
  });

  it('bundle verify without --key reports a manifest that differs from the signed one', () => {
    const work = mkdtempSync(join(dir, 'tamper-'));
    execFileSync('tar', ['-xzf', tgz, '-C', work]);
    const manifest = JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8'));
    manifest.createdAt = '2000-01-01T00:00:00.000Z';
    writeFileSync(join(work, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const bad = join(dir, 'tampered.tgz');
    execFileSync('tar', ['-czf', bad, '-C', work, ...readdirSync(work)]);
    const r = stella(dir, 'bundle', 'verify', '--bundle', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `stella: bundle ${bad}: manifest.json differs from the manifest signed in manifest.dsse.json; the manifest was altered (signature not checked: no --key)\n`,
    );
  });
});

describe('attest keygen writes only <out-dir>/<name>.key and .pub', () => {
  it.each([['../../escaped'], ['a/b'], [''], ['..']])('--name %j is exit 2 and writes nothing', (name) => {
    const work = mkdtempSync(join(dir, 'keygen-'));
    const out = join(work, 'deep/er/keys');
    const r = stella(work, 'attest', 'keygen', '--out-dir', out, '--name', name);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `stella: --name ${JSON.stringify(name)} is not a file name: expected a non-empty name without "/", e.g. stella-attest\n`,
    );
    expect(execFileSync('find', [work, '-type', 'f'], { encoding: 'utf8' })).toBe('');
  });

  it('refusing because the .pub exists leaves no new .key behind', () => {
    const work = mkdtempSync(join(dir, 'keygen-'));
    writeFileSync(join(work, 'k.pub'), 'old public key\n');
    const r = stella(work, 'attest', 'keygen', '--out-dir', work, '--name', 'k');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `stella: refusing to overwrite ${join(work, 'k.pub')}: it exists (pass --force to replace it)\n`,
    );
    expect(readdirSync(work)).toEqual(['k.pub']);
    expect(readFileSync(join(work, 'k.pub'), 'utf8')).toBe('old public key\n');
  });
});

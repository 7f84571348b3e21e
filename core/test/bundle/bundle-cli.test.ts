// SPDX-License-Identifier: Apache-2.0
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundle } from '../../src/bundle/open.js';
import { FUNCTION_MAP, REPORT, runCli, withTempDir } from '../attest/cli-harness.js';
import { repack, writeRawTarGz } from './tar-helpers.js';

let dir: string;
let remove: () => Promise<void>;
const p = (name: string) => join(dir, name);
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

const OBS_A = '{"observedAt":"2026-01-01T00:01:00Z","function":"tls/SSL_do_handshake","nodeHash":"sha256:1"}\n';
const OBS_B = '{"observedAt":"2026-01-01T00:02:00Z","function":"crypto/EVP_DigestInit_ex","nodeHash":"sha256:2"}\n';

let unsigned: string;
let signed: string;
let key: string;
let pub: string;
let otherPub: string;

beforeAll(async () => {
  nock.disableNetConnect();
  ({ dir, remove } = await withTempDir());
  await writeFile(p('fm.json'), JSON.stringify(FUNCTION_MAP));
  await writeFile(p('report.json'), JSON.stringify(REPORT));
  await mkdir(p('obs/node-1'), { recursive: true });
  await mkdir(p('obs2'), { recursive: true });
  await writeFile(p('obs/node-1/a.ndjson'), OBS_A);
  await writeFile(p('obs/ignored.txt'), 'not an observation file');
  await writeFile(p('obs2/b.ndjson'), OBS_B);
  for (const name of ['signer', 'other']) {
    expect((await runCli('attest', 'keygen', '--out-dir', dir, '--name', name)).code).toBe(0);
  }
  key = p('signer.key');
  pub = p('signer.pub');
  otherPub = p('other.pub');
  unsigned = p('unsigned.tgz');
  signed = p('signed.tgz');
  // biome-ignore format: one flag a line reads better
  const u = await runCli('bundle', 'create', '--function-map', p('fm.json'), '--observations', p('obs'), '--observations', p('obs2'), '--output', unsigned);
  expect(u.code, u.stderr).toBe(0);
  // biome-ignore format: one flag a line reads better
  const s = await runCli('bundle', 'create', '--function-map', p('fm.json'), '--observations', p('obs'), p('obs2'), '--report', p('report.json'), '--sign-key', key, '--output', signed);
  expect(s.code, s.stderr).toBe(0);
  expect(s.stdout).toBe(
    `wrote ${signed}: 4 files (2 observation files, ${[JSON.stringify(FUNCTION_MAP), JSON.stringify(REPORT), OBS_A, OBS_B].reduce((n, t) => n + Buffer.byteLength(t), 0)} bytes), manifest signed\n`,
  );
});
afterAll(async () => {
  nock.enableNetConnect();
  await remove();
});

describe('stella bundle create / verify', () => {
  it('verifies an unsigned bundle and says the signature is absent', async () => {
    const result = await runCli('bundle', 'verify', '--bundle', unsigned);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`verified ${unsigned}: 3 files match the manifest, not signed\n`);
  });

  it('verifies a signed bundle with its key, and says so when no key is given', async () => {
    const withKey = await runCli('bundle', 'verify', '--bundle', signed, '--key', pub);
    expect(withKey.code, withKey.stderr).toBe(0);
    expect(withKey.stdout).toMatch(
      /^verified .*signed\.tgz: 4 files match the manifest, signature verified \(keyid [0-9a-f]{64}\)\n$/,
    );
    const withoutKey = await runCli('bundle', 'verify', '--bundle', signed);
    expect(withoutKey.code).toBe(0);
    expect(withoutKey.stdout).toContain('signature NOT checked (pass --key to check it)');
  });

  it('openBundle hands back the verified files and cleanup removes them', async () => {
    const opened = await openBundle(signed, { key: pub });
    expect(await readFile(opened.functionMapPath, 'utf8')).toBe(JSON.stringify(FUNCTION_MAP));
    expect(await readFile(opened.reportPath!, 'utf8')).toBe(JSON.stringify(REPORT));
    expect(opened.observationPaths.map((f) => f.slice(f.indexOf('observations/')))).toEqual([
      'observations/b.ndjson',
      'observations/node-1/a.ndjson',
    ]);
    expect(await readFile(opened.observationPaths[1]!, 'utf8')).toBe(OBS_A);
    expect(opened.signature.status).toBe('verified');
    await opened.cleanup();
    expect(existsSync(opened.functionMapPath)).toBe(false);
  });

  it('the manifest lists each file with its sha256 and size', async () => {
    const opened = await openBundle(unsigned);
    const manifestPath = join(opened.functionMapPath, '..', 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    await opened.cleanup();
    expect(manifest.files).toEqual([
      {
        path: 'function-map.json',
        sha256: sha256(JSON.stringify(FUNCTION_MAP)),
        size: Buffer.byteLength(JSON.stringify(FUNCTION_MAP)),
      },
      { path: 'observations/b.ndjson', sha256: sha256(OBS_B), size: Buffer.byteLength(OBS_B) },
      { path: 'observations/node-1/a.ndjson', sha256: sha256(OBS_A), size: Buffer.byteLength(OBS_A) },
    ]);
    expect(manifest._type).toBe('https://stella.ops/bundles/linkage-bundle/v1');
  });
});

describe('integrity failures (exit 1)', () => {
  const tamper = async (name: string, source: string, mutate: (d: string) => Promise<void>) => {
    const out = p(name);
    await repack(source, p(`work-${name}`), out, mutate);
    return out;
  };

  it('a modified file', async () => {
    const bad = await tamper('modified.tgz', unsigned, (d) => appendFile(join(d, 'observations/b.ndjson'), OBS_A));
    const result = await runCli('bundle', 'verify', '--bundle', bad);
    expect(result.code).toBe(1);
    const size = Buffer.byteLength(OBS_B);
    expect(result.stderr).toBe(
      `stella: bundle ${bad} failed integrity verification: 1 problem\n` +
        `  - observations/b.ndjson: modified (manifest sha256 ${sha256(OBS_B)} size ${size}, bundle sha256 ${sha256(OBS_B + OBS_A)} size ${size + Buffer.byteLength(OBS_A)})\n`,
    );
  });

  it('a missing and an extra file, both reported', async () => {
    const bad = await tamper('missing-extra.tgz', unsigned, async (d) => {
      await rm(join(d, 'observations/node-1/a.ndjson'));
      await writeFile(join(d, 'observations/smuggled.ndjson'), OBS_B);
    });
    const result = await runCli('bundle', 'verify', '--bundle', bad);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `stella: bundle ${bad} failed integrity verification: 2 problems\n` +
        '  - observations/node-1/a.ndjson: listed in the manifest but missing from the bundle\n' +
        '  - observations/smuggled.ndjson: in the bundle but not listed in the manifest\n',
    );
  });

  it('a manifest rewritten to match a modified file breaks the signature', async () => {
    const bad = await tamper('manifest-edit.tgz', signed, async (d) => {
      await appendFile(join(d, 'observations/b.ndjson'), OBS_A);
      const manifest = JSON.parse(await readFile(join(d, 'manifest.json'), 'utf8'));
      const entry = manifest.files.find((f: { path: string }) => f.path === 'observations/b.ndjson');
      entry.sha256 = sha256(OBS_B + OBS_A);
      entry.size = Buffer.byteLength(OBS_B + OBS_A);
      await writeFile(join(d, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    });
    // Without a key the signature is not checked, but the edit still shows against the signed payload.
    const withoutKey = await runCli('bundle', 'verify', '--bundle', bad);
    expect(withoutKey.code).toBe(1);
    expect(withoutKey.stderr).toBe(
      `stella: bundle ${bad}: manifest.json differs from the manifest signed in manifest.dsse.json; the manifest was altered (signature not checked: no --key)\n`,
    );
    const result = await runCli('bundle', 'verify', '--bundle', bad, '--key', pub);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `stella: bundle ${bad}: manifest.json differs from the manifest signed in manifest.dsse.json; the manifest was altered\n`,
    );
  });

  it('the wrong key, and a key for an unsigned bundle', async () => {
    const wrong = await runCli('bundle', 'verify', '--bundle', signed, '--key', otherPub);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(
      `stella: signature verification failed for ${signed}:manifest.dsse.json: it is signed by keyid`,
    );
    const noSignature = await runCli('bundle', 'verify', '--bundle', unsigned, '--key', pub);
    expect(noSignature.code).toBe(1);
    expect(noSignature.stderr).toBe(
      `stella: bundle ${unsigned} is not signed (no manifest.dsse.json) but --key was given; expected a signed bundle\n`,
    );
  });
});

describe('unsafe or malformed bundles (exit 2, nothing written outside)', () => {
  const verify = (file: string) => runCli('bundle', 'verify', '--bundle', file);

  it('path traversal "../x"', async () => {
    await writeRawTarGz(p('traversal.tgz'), [
      { path: 'manifest.json', data: '{}' },
      { path: 'observations/../../escaped.ndjson', data: OBS_A },
    ]);
    const result = await verify(p('traversal.tgz'));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `stella: unsafe bundle ${p('traversal.tgz')}: entry "observations/../../escaped.ndjson" escapes the bundle directory (".." segment); refusing to extract\n`,
    );
    expect(existsSync(join(dir, '..', 'escaped.ndjson'))).toBe(false);
  });

  it('an absolute path', async () => {
    await writeRawTarGz(p('absolute.tgz'), [{ path: '/tmp/stella-absolute-entry', data: 'x' }]);
    const result = await verify(p('absolute.tgz'));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `stella: unsafe bundle ${p('absolute.tgz')}: entry "/tmp/stella-absolute-entry" is an absolute path; refusing to extract\n`,
    );
    expect(existsSync('/tmp/stella-absolute-entry')).toBe(false);
  });

  it('a symbolic link', async () => {
    await writeRawTarGz(p('symlink.tgz'), [
      { path: 'function-map.json', type: 'SymbolicLink', linkpath: '/etc/passwd' },
    ]);
    const result = await verify(p('symlink.tgz'));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `stella: unsafe bundle ${p('symlink.tgz')}: entry "function-map.json" is a symbolic link (to "/etc/passwd"); bundles hold regular files only; refusing to extract\n`,
    );
  });

  it('a hard link and a device', async () => {
    await writeRawTarGz(p('hardlink.tgz'), [{ path: 'x.ndjson', type: 'Link', linkpath: 'manifest.json' }]);
    const hard = await verify(p('hardlink.tgz'));
    expect(hard.code).toBe(2);
    expect(hard.stderr).toContain(
      'entry "x.ndjson" is a hard link (to "manifest.json"); bundles hold regular files only',
    );
    await writeRawTarGz(p('device.tgz'), [{ path: 'dev', type: 'CharacterDevice' }]);
    const device = await verify(p('device.tgz'));
    expect(device.code).toBe(2);
    expect(device.stderr).toContain('entry "dev" is a character device; bundles hold regular files only');
  });

  it('an oversized file is refused from its header, before any data is read', async () => {
    // Claims 2 GiB (over the 1 GiB default) but carries no data: only the header is ever read.
    await writeRawTarGz(p('oversized.tgz'), [{ path: 'observations/huge.ndjson', size: 2 * 1024 ** 3 }]);
    const result = await verify(p('oversized.tgz'));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `stella: unsafe bundle ${p('oversized.tgz')}: entry "observations/huge.ndjson" is 2147483648 bytes, over the limit of 1073741824 bytes per file; refusing to extract\n`,
    );
  });

  it('a decompression bomb (32 MiB of zeros in 32 KiB)', async () => {
    await writeRawTarGz(p('bomb.tgz'), [{ path: 'observations/zeros.ndjson', data: Buffer.alloc(32 * 1024 ** 2) }]);
    const result = await verify(p('bomb.tgz'));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `stella: unsafe bundle ${p('bomb.tgz')}: it expands to over 1000 times its compressed size (a decompression bomb?); refusing to extract\n`,
    );
  });

  it('limits can be tightened for openBundle, and a refused bundle leaves no extraction behind', async () => {
    const leftovers = async () => (await readdir(tmpdir())).filter((n) => n.startsWith('stella-bundle-open-')).length;
    const before = await leftovers();
    await expect(openBundle(unsigned, { limits: { maxFileBytes: 64 } })).rejects.toThrow(
      /^unsafe bundle .*unsigned\.tgz: entry "manifest\.json" is \d+ bytes, over the limit of 64 bytes per file; refusing to extract$/,
    );
    await expect(openBundle(unsigned, { limits: { maxEntries: 2 } })).rejects.toThrow(
      `unsafe bundle ${unsigned}: more than 2 entries; refusing to extract`,
    );
    expect(await leftovers()).toBe(before);
  });

  it('a duplicated entry', async () => {
    await writeRawTarGz(p('dup.tgz'), [
      { path: 'a.ndjson', data: OBS_A },
      { path: 'a.ndjson', data: OBS_B },
    ]);
    const result = await verify(p('dup.tgz'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('entry "a.ndjson" appears twice');
  });

  it('not a tar.gz, a truncated one, a missing file, and one without a manifest', async () => {
    await writeFile(p('garbage.tgz'), 'this is not an archive at all, just some text');
    const garbage = await verify(p('garbage.tgz'));
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toMatch(new RegExp(`^stella: bundle ${p('garbage.tgz')} is not a valid tar.gz archive: `));
    const whole = await readFile(unsigned);
    await writeFile(p('truncated.tgz'), whole.subarray(0, Math.floor(whole.length / 2)));
    const truncated = await verify(p('truncated.tgz'));
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toMatch(
      new RegExp(`^stella: bundle ${p('truncated.tgz')} is not a valid tar.gz archive: `),
    );
    const missing = await verify(p('nope.tgz'));
    expect([missing.code, missing.stderr]).toEqual([2, `stella: cannot read bundle ${p('nope.tgz')}: no such file\n`]);
    await writeRawTarGz(p('nomanifest.tgz'), [{ path: 'function-map.json', data: '{}' }]);
    const noManifest = await verify(p('nomanifest.tgz'));
    expect([noManifest.code, noManifest.stderr]).toEqual([
      2,
      `stella: bundle ${p('nomanifest.tgz')} has no manifest.json: not a stella linkage bundle (make one with \`stella bundle create\`)\n`,
    ]);
  });

  it('bad create input: no observation files, unreadable sign key', async () => {
    await mkdir(p('empty-obs'), { recursive: true });
    // biome-ignore format: one flag a line reads better
    const empty = await runCli('bundle', 'create', '--function-map', p('fm.json'), '--observations', p('empty-obs'), '--output', p('e.tgz'));
    expect([empty.code, empty.stderr]).toEqual([
      2,
      `stella: no observation files (*.ndjson, *.jsonl, optionally .gz) in ${p('empty-obs')}\n`,
    ]);
    // biome-ignore format: one flag a line reads better
    const badKey = await runCli('bundle', 'create', '--function-map', p('fm.json'), '--observations', p('obs'), '--sign-key', p('missing.key'), '--output', p('k.tgz'));
    expect([badKey.code, badKey.stderr]).toEqual([
      2,
      `stella: cannot read key file ${p('missing.key')}: no such file\n`,
    ]);
    expect(existsSync(p('k.tgz'))).toBe(false);
  });
});

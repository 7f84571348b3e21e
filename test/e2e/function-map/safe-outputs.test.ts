// SPDX-License-Identifier: Apache-2.0
/**
 * Every user-named output (issue #13, item 2), through the real CLI: devices and FIFOs are written in
 * place and never replaced, a full disk (a 64 KiB tmpfs, for real) leaves the old file intact with
 * no temp behind, an output that is an input is refused, and `-` into a closed pipe is one sentence.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(REPO, 'core/bin/stella.js');
const SBOM = join(REPO, 'test/e2e/function-map/fixtures/debian12-syft.cdx.json');
const isRoot = process.getuid?.() === 0;

function stella(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Identity and content of a path: what "not replaced, not changed" is checked against. */
function fingerprint(p: string) {
  const st = statSync(p);
  const kind = st.isCharacterDevice() ? 'char' : st.isFIFO() ? 'fifo' : st.isFile() ? 'file' : 'other';
  return { kind, ino: st.ino, rdev: st.rdev, mode: st.mode, content: kind === 'file' ? readFileSync(p, 'utf8') : '' };
}

const noTemps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

const dir = mkdtempSync(join(tmpdir(), 'safe-outputs-'));
const map = join(dir, 'map.json');
const obs = join(dir, 'obs');

beforeAll(() => {
  expect(stella('function-map', 'generate', '--sbom', SBOM, '--service', 'demo', '--output', map).code).toBe(0);
  expect(stella('attest', 'keygen', '--out-dir', dir, '--name', 'k').code).toBe(0);
  mkdirSync(obs);
  writeFileSync(join(obs, 'a.ndjson'), '');
});

describe.skipIf(!isRoot)('character devices and FIFOs are written in place, never replaced (root: mknod)', () => {
  it('a null device stays the same device for attest sign, bundle create and verify --output', () => {
    const nul = join(dir, 'null');
    execFileSync('mknod', [nul, 'c', '1', '3']);
    const before = fingerprint(nul);
    for (const args of [
      ['attest', 'sign', '--input', map, '--key', join(dir, 'k.key'), '--output', nul],
      ['bundle', 'create', '--function-map', map, '--observations', obs, '--output', nul],
      ['function-map', 'verify', '--function-map', map, '--offline', '--observations', obs, '--output', nul],
      ['function-map', 'generate', '--sbom', SBOM, '--service', 'demo', '--output', nul],
    ]) {
      const r = stella(...args);
      expect(r.stderr).not.toContain('internal error');
      expect([0, 1]).toContain(r.code); // verify of no observations fails (1); the others succeed
      expect(fingerprint(nul)).toEqual(before);
    }
    expect(noTemps(dir)).toEqual([]);
  });

  it('a full device (ENOSPC on write) is exit 2 with one sentence, and stays a device', () => {
    const full = join(dir, 'full');
    execFileSync('mknod', [full, 'c', '1', '7']);
    const before = fingerprint(full);
    const r = stella('attest', 'sign', '--input', map, '--key', join(dir, 'k.key'), '--output', full);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`stella: cannot write --output ${full}: no space left on the device\n`);
    expect(fingerprint(full)).toEqual(before);
    expect(noTemps(dir)).toEqual([]);
  });

  it('a FIFO with a reader receives the envelope; without a reader it is refused, not waited on', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const before = fingerprint(fifo);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (d) => {
      got += String(d);
    });
    const readerDone = new Promise((r) => reader.once('exit', r));
    const r = stella('attest', 'sign', '--input', map, '--key', join(dir, 'k.key'), '--output', fifo);
    await readerDone;
    expect(r.code).toBe(0);
    expect(JSON.parse(got).payloadType).toBe('application/vnd.stellaops.function-map.v1+json');
    expect(fingerprint(fifo)).toEqual(before);

    const alone = stella('attest', 'sign', '--input', map, '--key', join(dir, 'k.key'), '--output', fifo);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toBe(`stella: --output ${fifo} is a FIFO with no reader; start the reader first\n`);
    expect(fingerprint(fifo)).toEqual(before);
  });
});

describe.skipIf(!isRoot)('a full disk never truncates a good file (real 64 KiB tmpfs)', () => {
  const small = join(dir, 'small');
  beforeAll(() => {
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
    for (const name of ['map.json', 'report.json', 'payload.json']) writeFileSync(join(small, name), `good ${name}\n`);
    // Fill what is left: the next block written anywhere on it is ENOSPC.
    spawnSync('dd', ['if=/dev/zero', `of=${join(small, 'filler')}`, 'bs=4k']);
  });
  afterAll(() => {
    spawnSync('umount', [small]);
  });

  it.each([
    ['generate --output', 'map.json', () => ['function-map', 'generate', '--sbom', SBOM, '--service', 'demo']],
    [
      'verify --output',
      'report.json',
      () => ['function-map', 'verify', '--function-map', map, '--offline', '--observations', obs],
    ],
    [
      'attest verify --payload-output',
      'payload.json',
      () => {
        stella('attest', 'sign', '--input', map, '--key', join(dir, 'k.key'), '--output', join(dir, 'map.dsse.json'));
        return ['attest', 'verify', '--input', join(dir, 'map.dsse.json'), '--key', join(dir, 'k.pub')];
      },
    ],
  ])('%s: exit 2, one sentence, the old file intact and no temp left', (what, name, args) => {
    const target = join(small, name);
    const before = fingerprint(target);
    const flag = what.endsWith('--payload-output') ? '--payload-output' : '--output';
    const r = stella(...args(), flag, target);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      `stella: cannot write ${flag} ${target}: no space left on the device`,
    );
    expect(fingerprint(target)).toEqual(before);
    expect(noTemps(small)).toEqual([]);
  });
});

describe('an output that is an input, a directory, or a closed pipe', () => {
  it('generate --output equal to --sbom is refused and the SBOM is untouched', () => {
    const sbom = join(dir, 'sbom.json');
    writeFileSync(sbom, readFileSync(SBOM));
    const before = fingerprint(sbom);
    const r = stella('function-map', 'generate', '--sbom', sbom, '--service', 'demo', '--output', sbom);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`stella: --output ${sbom} is also an input (${sbom}); write the output elsewhere\n`);
    expect(fingerprint(sbom)).toEqual(before);
  });

  it('attest sign --output equal to --input (through another name, a hard link) is refused', () => {
    const alias = join(dir, 'alias.json');
    execFileSync('ln', ['-f', map, alias]);
    const before = fingerprint(map);
    const r = stella('attest', 'sign', '--input', map, '--key', join(dir, 'k.key'), '--output', alias);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`stella: --output ${alias} is also an input (${map}); write the output elsewhere\n`);
    expect(fingerprint(map)).toEqual(before);
  });

  it('a bundle written into its own observations directory is refused and nothing is added there', () => {
    const out = join(obs, 'bundle.tgz');
    const r = stella('bundle', 'create', '--function-map', map, '--observations', obs, '--output', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `stella: --output ${out} is inside the input directory ${obs}, which is being read; write the output elsewhere\n`,
    );
    expect(readdirSync(obs)).toEqual(['a.ndjson']);
  });

  it('an output that is a directory is exit 2 with one sentence', () => {
    const r = stella('function-map', 'generate', '--sbom', SBOM, '--service', 'demo', '--output', obs);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`stella: --output ${obs} is a directory; expected a file name\n`);
  });

  it('--output - into a pipe its reader already closed is exit 2 with one sentence', () => {
    // `true` exits at once, so the map (tens of kB) meets a pipe with no reader.
    const piped = spawnSync(
      'bash',
      [
        '-c',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash script, not a template
        'node "$1" function-map generate --sbom "$2" --service demo --output - | true; echo "exit=${PIPESTATUS[0]}" >&2',
        'bash',
        BIN,
        SBOM,
      ],
      { cwd: REPO, encoding: 'utf8' },
    );
    expect(piped.stderr).toBe('stella: cannot write --output -: the reader closed the pipe\nexit=2\n');
  });
});

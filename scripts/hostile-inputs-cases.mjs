// SPDX-License-Identifier: Apache-2.0
// The rows scripts/hostile-inputs-walk.mjs walks through the CLI: issue #13's hostile inputs, each
// with the files it needs, its arguments and what must hold after it ran.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * One row per hostile input, run in order (a row's `before` may build on an earlier row's files):
 * `args` for the CLI (`opts` as for `stella`), or `measure` for a row that is not one CLI run.
 * `code` is the exit status wanted: a number, 'nonzero', or absent for any; `pattern` must match
 * stderr + stdout; `holds(r)` is what else must be true after the run. `input` may be a function
 * of the run's seconds.
 */
export function hostileInputCases({ W, BIN, SBOM, at, map, line }) {
  const generate = (sbom, ...more) => ['function-map', 'generate', '--sbom', sbom, '--service', 'd', ...more];
  /** `function-map verify` of the map file `mapFile` (in the walk's directory) against observations there. */
  const verify = (mapFile, observations, ...more) => [
    'function-map',
    'verify',
    '--function-map',
    at(mapFile),
    '--offline',
    '--observations',
    at(observations),
    ...more,
  ];
  const bundleCreate = (mapFile, observations, output) => [
    'bundle',
    'create',
    '--function-map',
    at(mapFile),
    '--observations',
    at(observations),
    '--output',
    output,
  ];
  const keygen = (outDir, name) => ['attest', 'keygen', '--out-dir', at(outDir), '--name', name];
  const verifyBundle = ['function-map', 'verify', '--bundle', at('good.tgz'), '--key', at('k.pub')];
  const query = ['observations', 'query', '--config', at('s.yaml'), '--service', 'x'];
  const storeConfig = (postgres) =>
    writeFileSync(at('s.yaml'), `runtime_agent:\n  observation_store: {type: postgres, postgres: ${postgres}}\n`);
  const noSecretNoCrash = (r) => !/Secr3t/.test(r.err + r.out) && r.code !== 70;
  const noCrash = (r) => r.code !== 70;
  const root = at('root');
  const lib = 'usr/lib/x86_64-linux-gnu';

  /** Rows that share their `item` (the section of issue #13's list). */
  const section = (item, cases) => cases.map((c) => ({ item, ...c }));
  const jsonFile = (name, value) => () => writeFileSync(at(name), JSON.stringify(value));
  const sbomOf = (components) => ({ bomFormat: 'CycloneDX', specVersion: '1.5', components });
  const libssl3 = { type: 'library', name: 'libssl3', version: '3.0', purl: 'pkg:deb/debian/libssl3@3.0?arch=amd64' };
  const mapWith = (change) => {
    const copy = JSON.parse(JSON.stringify(map));
    change(copy.predicate);
    return copy;
  };

  return [
    ...section('1 rootfs', [
      {
        input: 'libssl.so.3 -> /etc/shadow',
        before: () => {
          mkdirSync(join(root, lib), { recursive: true });
          mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
          symlinkSync('/etc/shadow', join(root, lib, 'libssl.so.3'));
        },
        args: generate(SBOM, '--rootfs', root, '--output', at('m1.json')),
        opts: { strace: true },
        holds: (r) => !/"\/etc\/shadow"/.test(r.opened),
      },
      {
        input: 'libssl.so.3 -> ../../../../etc/passwd',
        before: () => {
          rmSync(join(root, lib, 'libssl.so.3'));
          symlinkSync('../../../../etc/passwd', join(root, lib, 'libssl.so.3'));
        },
        args: generate(SBOM, '--rootfs', root, '--output', at('m2.json')),
        opts: { strace: true },
        holds: (r) => !/"\/etc\/passwd"/.test(r.opened),
      },
      {
        input: 'dir symlink lib -> host /usr/lib/...',
        before: () => {
          rmSync(join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
          symlinkSync('/usr/lib/x86_64-linux-gnu', join(root, lib));
        },
        args: generate(SBOM, '--rootfs', root, '--output', at('m3.json')),
        opts: { strace: true },
        holds: (r) => {
          const written = existsSync(at('m3.json')) ? readFileSync(at('m3.json'), 'utf8') : '';
          const hostIds = JSON.stringify(map).match(/"buildId":"[0-9a-f]+"/g) ?? [];
          return (
            !hostIds.some((id) => written.includes(id)) && !/"\/usr\/lib\/x86_64-linux-gnu\/libssl.so.3"/.test(r.opened)
          );
        },
      },
      {
        input: 'evidence location /../../../../etc/shadow (rootfs missing)',
        before: jsonFile(
          'ev.cdx.json',
          sbomOf([{ ...libssl3, evidence: { occurrences: [{ location: '/../../../../etc/shadow' }] } }]),
        ),
        args: generate(at('ev.cdx.json'), '--rootfs', at('root2'), '--output', at('m4.json')),
        opts: { strace: true },
        code: 2,
        pattern: /rootfs/,
      },
      {
        input: 'evidence + dpkg .list climbing with ..',
        before: () => {
          mkdirSync(at('root3/var/lib/dpkg/info'), { recursive: true });
          writeFileSync(
            at('root3/var/lib/dpkg/status'),
            'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0\n\n',
          );
          writeFileSync(
            at('root3/var/lib/dpkg/info/libssl3:amd64.list'),
            '/../../../../etc/shadow\n/usr/lib/x86_64-linux-gnu/../../../../../etc/passwd\n',
          );
        },
        args: generate(at('ev.cdx.json'), '--rootfs', at('root3'), '--output', at('m5.json')),
        opts: { strace: true },
        holds: (r) => !/"\/etc\/(shadow|passwd)"/.test(r.opened),
      },
    ]),

    ...section('2 outputs', [
      {
        input: 'attest sign --output /dev/full',
        args: ['attest', 'sign', '--input', at('map.json'), '--key', at('k.key'), '--output', '/dev/full'],
        code: 2,
        pattern: /space|ENOSPC/i,
        holds: () => statSync('/dev/full').isCharacterDevice(),
      },
      {
        input: 'bundle create --output FIFO without reader',
        before: () => execFileSync('mkfifo', [at('fifo')]),
        args: bundleCreate('map.json', 'obs', at('fifo')),
        opts: { timeout: 20_000 },
        code: 2,
        pattern: /FIFO|reader/i,
        holds: () => statSync(at('fifo')).isFIFO(),
      },
      { input: 'generate --output = --sbom', args: generate(SBOM, '--output', SBOM), code: 2, pattern: /input|same/i },
      {
        input: 'bundle into its own observations dir',
        args: bundleCreate('map.json', 'obs', at('obs/b.tgz')),
        code: 2,
        holds: () => !existsSync(at('obs/b.tgz')),
      },
      {
        input: 'verify --output <directory>',
        args: verify('map.json', 'obs', '--output', W),
        code: 2,
        pattern: /directory/,
      },
      {
        input: '--output - into closed pipe',
        measure: () => {
          const pipe = spawnSync(
            'sh',
            ['-c', `node ${BIN} function-map generate --sbom ${SBOM} --service d --output - | head -c 1 >/dev/null`],
            { cwd: W, encoding: 'utf8' },
          );
          const ok = !/\n\s+at /.test(pipe.stderr) && !/internal error/.test(pipe.stderr);
          return { code: pipe.status, ok, msg: pipe.stderr.trim().slice(0, 110) };
        },
      },
      {
        input: 'no *.tmp left after failures',
        measure: () => {
          const leftovers = readdirSync(W).filter(
            (n) => n.endsWith('.tmp') || (n.startsWith('.') && n.includes('tmp')),
          );
          return { code: 0, ok: leftovers.length === 0, msg: leftovers.join(' ') };
        },
      },
    ]),

    ...section('3 secrets', [
      ...[
        'postgresql//u:Secr3t@127.0.0.1:1/x',
        'postgres:/u:Secr3t@127.0.0.1:1/x',
        ' postgres://u:Secr3t@127.0.0.1:1/x',
        'u:Secr3t@127.0.0.1:1/x',
        'postgres://u:Secr3t@127.0.0.1:1/x%',
      ].map((url) => ({
        input: `store url ${JSON.stringify(url)}`,
        before: () => storeConfig(`{url: ${JSON.stringify(url)}}`),
        args: query,
        code: 'nonzero',
        holds: noSecretNoCrash,
      })),
      {
        input: 'postgres.host with userinfo',
        before: () => storeConfig('{host: "u:Secr3t@127.0.0.1"}'),
        args: query,
        holds: noSecretNoCrash,
      },
    ]),

    ...section('4 escaping', [
      ...['table', 'markdown'].map((fmt) => ({
        input: `--format ${fmt} with ESC/BEL`,
        before: () => {
          const escapes = { comm: 'a\u001b]0;pwned\u0007b', function: 'tls/\u001b[2Jevil', binaryPath: '/x\u001b[31m' };
          writeFileSync(at('obs-esc.ndjson'), `${line({ ...escapes, nodeHash: undefined })}\n`);
        },
        args: verify('map.json', 'obs-esc.ndjson', '--format', fmt),
        holds: (r) => !r.out.includes('\u001b') && !r.out.includes('\u0007') && r.code !== 70,
      })),
      {
        input: '--format junit parses as XML',
        args: verify('map.json', 'obs-esc.ndjson', '--format', 'junit', '--output', at('j.xml')),
        holds: (r) =>
          r.code !== 70 &&
          spawnSync('python3', ['-c', 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])', at('j.xml')])
            .status === 0,
      },
    ]),

    ...section('5 bundle', [
      {
        input: 'verify --bundle + --function-map',
        before: () => {
          const create = [BIN, ...bundleCreate('map.json', 'obs', at('good.tgz')), '--sign-key', at('k.key')];
          execFileSync(process.execPath, create, { cwd: W });
          writeFileSync(at('other.json'), JSON.stringify(map));
        },
        args: [...verifyBundle, '--function-map', at('other.json')],
        code: 2,
        pattern: /--function-map/,
      },
      {
        input: 'verify --bundle + --observations',
        args: [...verifyBundle, '--observations', at('obs')],
        code: 2,
        pattern: /--observations/,
      },
      {
        input: 'bundle verify, no --key, manifest ≠ signed',
        before: () => {
          const tam = at('tam');
          mkdirSync(tam);
          execFileSync('tar', ['-xzf', at('good.tgz'), '-C', tam]);
          const manifestName = readdirSync(tam, { recursive: true }).find((n) => String(n).endsWith('manifest.json'));
          const mf = join(tam, String(manifestName));
          writeFileSync(mf, readFileSync(mf, 'utf8').replace('"', '"x_tamper":1,"'));
          execFileSync('tar', ['-czf', at('tampered.tgz'), '-C', tam, ...readdirSync(tam)]);
        },
        args: ['bundle', 'verify', '--bundle', at('tampered.tgz')],
        pattern: /manifest/i,
        holds: (r) => r.code !== 0,
      },
    ]),

    {
      item: '6 bundle symlink',
      input: 'obs/x.ndjson -> /etc/shadow',
      before: () => {
        mkdirSync(at('obs-link'));
        writeFileSync(at('obs-link/ok.ndjson'), `${line()}\n`);
        symlinkSync('/etc/shadow', at('obs-link/x.ndjson'));
      },
      args: bundleCreate('map.json', 'obs-link', at('l.tgz')),
      code: 0,
      pattern: /symlink|skip/i,
      holds: (r) => r.code === 0 && !/x\.ndjson/.test(execFileSync('tar', ['-tzf', at('l.tgz')], { encoding: 'utf8' })),
    },
    ...section('6 keygen', [
      {
        input: "--name '../../x'",
        args: keygen('keys', '../../x'),
        code: 2,
        pattern: /name/,
        holds: () => !existsSync(join(W, '..', 'x.key')) && !existsSync(at('x.key')),
      },
      {
        input: "--name ''",
        args: keygen('keys', ''),
        code: 2,
        pattern: /name/,
        holds: () => !existsSync(at('keys/.key')),
      },
      {
        input: 'refused keygen (existing .pub)',
        before: () => {
          mkdirSync(at('keys2'));
          writeFileSync(at('keys2/k.pub'), 'old');
        },
        args: keygen('keys2', 'k'),
        code: 2,
        pattern: /exist/i,
        holds: () => !existsSync(at('keys2/k.key')),
      },
    ]),

    // Crashes, hangs, silent answers
    ...section('crash', [
      {
        input: 'components nested 6000 deep',
        before: () => {
          const deep = `${'{"type":"library","name":"c","components":['.repeat(6000)}{"type":"library","name":"leaf"}${']}'.repeat(6000)}`;
          writeFileSync(at('deep.cdx.json'), `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[${deep}]}`);
        },
        args: generate(at('deep.cdx.json'), '--output', at('deep.json')),
        holds: noCrash,
      },
      {
        input: "--hot-functions ''",
        args: generate(SBOM, '--hot-functions', '', '--output', '-'),
        code: 2,
        pattern: /hot-functions/,
      },
      {
        input: 'coverage.windowSeconds 1e20',
        before: jsonFile(
          'w.json',
          mapWith((p) => (p.coverage.windowSeconds = 1e20)),
        ),
        args: verify('w.json', 'obs'),
        code: 2,
        pattern: /windowSeconds/,
      },
    ]),
    {
      item: 'hang',
      input: 'config that never settles',
      before: () => writeFileSync(at('stella.config.mjs'), 'export default new Promise(() => {});\n'),
      args: generate(SBOM, '--config', at('stella.config.mjs'), '--output', '-'),
      opts: { env: { STELLA_CONFIG_TIMEOUT_MS: '1500' }, timeout: 30_000 },
      code: 2,
      pattern: /settle|time/i,
      after: () => rmSync(at('stella.config.mjs')),
    },
    ...section('long lines', [
      {
        input: '40 MB line',
        before: () => writeFileSync(at('long.ndjson'), `${'x'.repeat(40 * 1024 * 1024)}\n${line()}\n`),
        args: verify('map.json', 'long.ndjson', '--format', 'json'),
        pattern: /"malformed":\s*1/,
        holds: noCrash,
      },
      {
        input: (seconds) => `1 GB NUL gzip bomb (${seconds} s)`,
        before: () => execFileSync('sh', ['-c', `head -c 1073741824 /dev/zero | gzip -1 > ${at('bomb.ndjson.gz')}`]),
        args: verify('map.json', 'bomb.ndjson.gz', '--format', 'json'),
        opts: { timeout: 120_000 },
        pattern: /"malformed":\s*1/,
        holds: (r) => r.code !== 70 && r.signal === null,
      },
    ]),
    ...section('silent', [
      {
        input: '--rootfs /nonexistent',
        args: generate(SBOM, '--rootfs', '/nonexistent', '--output', '-'),
        code: 2,
        pattern: /rootfs/,
      },
      {
        input: '--rootfs <a file>',
        args: generate(SBOM, '--rootfs', SBOM, '--output', '-'),
        code: 2,
        pattern: /rootfs/,
      },
      {
        input: 'bundle create with a non-JSON map',
        before: () => writeFileSync(at('notjson.json'), 'nope'),
        args: bundleCreate('notjson.json', 'obs', at('nj.tgz')),
        code: 2,
        pattern: /JSON|map/i,
        holds: () => !existsSync(at('nj.tgz')),
      },
      {
        input: 'hitCount 1e400',
        before: () => writeFileSync(at('h.ndjson'), `${line({}).replace('"hitCount":1', '"hitCount":1e400')}\n`),
        args: verify('map.json', 'h.ndjson', '--format', 'json'),
        pattern: /"malformed":\s*1/,
        holds: (r) => !/"hitCount":\s*null/.test(r.out),
      },
      {
        input: 'map with no paths',
        before: jsonFile(
          'empty.json',
          mapWith((p) => (p.expectedPaths = [])),
        ),
        args: verify('empty.json', 'obs'),
        code: 2,
        pattern: /path/i,
      },
      { input: '--from -1h', args: verify('map.json', 'obs', '--from', '-1h'), code: 2, pattern: /--from/ },
      {
        input: 'SBOM components is an object',
        before: jsonFile('obj.cdx.json', sbomOf({ a: 1 })),
        args: generate(at('obj.cdx.json'), '--output', '-'),
        code: 2,
        pattern: /components/,
      },
      {
        input: 'SBOM components [null, 3]',
        before: jsonFile('null.cdx.json', sbomOf([null, 3])),
        args: generate(at('null.cdx.json'), '--output', '-'),
        code: 2,
        pattern: /components/,
      },
      {
        input: 'empty observations directory',
        before: () => mkdirSync(at('none')),
        args: verify('map.json', 'none'),
        pattern: /no .*(file|observation)/i,
      },
      {
        input: '100k identical components',
        before: jsonFile('many.cdx.json', sbomOf(Array.from({ length: 100_000 }, () => libssl3))),
        args: generate(at('many.cdx.json'), '--output', at('many.json')),
        holds: (r) => r.err.split('\n').length < 30,
      },
    ]),
    // /metrics binds loopback unless configured (agent --print-config shows host)
    {
      item: 'agent',
      input: '/metrics default host',
      args: ['agent', '--print-config'],
      opts: { cwd: at('none') },
      code: 0,
      pattern: /"host": "127\.0\.0\.1"/,
    },
  ];
}

// SPDX-License-Identifier: Apache-2.0
// Walks issue #13's list of hostile inputs through the built CLI (core/bin/stella.js): each input is
// fed, and its exit code, its first line of text, no stack trace, and nothing written in a sibling
// directory no command names are checked; rootfs reads are checked with strace. Prints a Markdown
// table; exit 1 when a row fails. `node scripts/hostile-inputs-walk.mjs` (about two minutes).
// The e2e tests (test/e2e/function-map/*.test.ts, test/e2e/stores/secrets-in-messages.test.ts)
// hold each case to its exact sentence; this is the one-page overview.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(REPO, 'core/bin/stella.js');
const SBOM = join(REPO, 'test/e2e/function-map/fixtures/debian12-syft.cdx.json');
const W = mkdtempSync(join(tmpdir(), 'walk-'));
const OUTSIDE = join(W, 'outside'); // a directory no command is pointed at
mkdirSync(OUTSIDE);
writeFileSync(join(OUTSIDE, 'sentinel'), 'x');
const at = (p) => join(W, p);
const rows = [];
const listing = () => JSON.stringify(readdirSync(OUTSIDE).map((n) => [n, statSync(join(OUTSIDE, n)).size]));

function stella(args, opts = {}) {
  const before = listing();
  const r = spawnSync(
    opts.strace ? 'strace' : process.execPath,
    opts.strace
      ? ['-f', '-qq', '-e', 'trace=open,openat,openat2', '-o', at('trace'), process.execPath, BIN, ...args]
      : [BIN, ...args],
    {
      cwd: opts.cwd ?? W,
      encoding: 'utf8',
      input: opts.input,
      env: { ...process.env, ...opts.env },
      timeout: opts.timeout ?? 60_000,
    },
  );
  const opened = opts.strace ? readFileSync(at('trace'), 'utf8') : '';
  return {
    code: r.status,
    out: r.stdout ?? '',
    err: r.stderr ?? '',
    outsideChanged: listing() !== before,
    opened,
    signal: r.signal,
  };
}
function check(item, input, r, wantCode, pattern, extra = true) {
  const oneSentence =
    r.err
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('  - ')).length <= 1 || wantCode === 0;
  const noTrace = !/\n\s+at /.test(r.err);
  const ok =
    r.code === wantCode &&
    (pattern ? pattern.test(r.err + r.out) : true) &&
    noTrace &&
    !r.outsideChanged &&
    extra &&
    (wantCode !== 2 || oneSentence);
  rows.push({ item, input, code: r.code, ok, msg: (r.err.trim().split('\n')[0] ?? '').slice(0, 110) });
  if (!ok) console.error(`--- ${item} ${input}: exit ${r.code}\n${r.err}${r.out.slice(0, 300)}`);
}

// Fixtures.
execFileSync(
  process.execPath,
  [BIN, 'function-map', 'generate', '--sbom', SBOM, '--service', 'demo', '--output', at('map.json')],
  { cwd: W },
);
const map = JSON.parse(readFileSync(at('map.json'), 'utf8'));
const call = map.predicate.expectedPaths[0].expectedCalls[0];
const line = (o = {}) =>
  JSON.stringify({
    observedAt: new Date().toISOString(),
    service: 'demo',
    function: call.function,
    binaryPath: call.binaryPath,
    nodeHash: call.nodeHash,
    pid: 1,
    comm: 'x',
    hitCount: 1,
    ...o,
  });
mkdirSync(at('obs'));
writeFileSync(at('obs/a.ndjson'), `${line()}\n`);
execFileSync(process.execPath, [BIN, 'attest', 'keygen', '--out-dir', W, '--name', 'k'], { cwd: W });

// 1. rootfs confinement
const root = at('root');
const lib = 'usr/lib/x86_64-linux-gnu';
mkdirSync(join(root, lib), { recursive: true });
mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
symlinkSync('/etc/shadow', join(root, lib, 'libssl.so.3'));
let r = stella(
  ['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--rootfs', root, '--output', at('m1.json')],
  { strace: true },
);
check('1 rootfs', 'libssl.so.3 -> /etc/shadow', r, r.code, null, !/"\/etc\/shadow"/.test(r.opened));
rmSync(join(root, lib, 'libssl.so.3'));
symlinkSync('../../../../etc/passwd', join(root, lib, 'libssl.so.3'));
r = stella(
  ['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--rootfs', root, '--output', at('m2.json')],
  { strace: true },
);
check('1 rootfs', 'libssl.so.3 -> ../../../../etc/passwd', r, r.code, null, !/"\/etc\/passwd"/.test(r.opened));
rmSync(join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
symlinkSync('/usr/lib/x86_64-linux-gnu', join(root, lib));
r = stella(
  ['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--rootfs', root, '--output', at('m3.json')],
  { strace: true },
);
const hostBuildId =
  readFileSync('/usr/lib/x86_64-linux-gnu/libssl.so.3').length > 0 && existsSync(at('m3.json'))
    ? readFileSync(at('m3.json'), 'utf8')
    : '';
const hostIds = JSON.stringify(map).match(/"buildId":"[0-9a-f]+"/g) ?? [];
check(
  '1 rootfs',
  'dir symlink lib -> host /usr/lib/...',
  r,
  r.code,
  null,
  !hostIds.some((id) => hostBuildId.includes(id)) && !/"\/usr\/lib\/x86_64-linux-gnu\/libssl.so.3"/.test(r.opened),
);
const evSbom = {
  bomFormat: 'CycloneDX',
  specVersion: '1.5',
  components: [
    {
      type: 'library',
      name: 'libssl3',
      version: '3.0',
      purl: 'pkg:deb/debian/libssl3@3.0?arch=amd64',
      evidence: { occurrences: [{ location: '/../../../../etc/shadow' }] },
    },
  ],
};
writeFileSync(at('ev.cdx.json'), JSON.stringify(evSbom));
r = stella(
  [
    'function-map',
    'generate',
    '--sbom',
    at('ev.cdx.json'),
    '--service',
    'd',
    '--rootfs',
    at('root2'),
    '--output',
    at('m4.json'),
  ],
  { strace: true },
);
check('1 rootfs', 'evidence location /../../../../etc/shadow (rootfs missing)', r, 2, /rootfs/);
mkdirSync(at('root3/var/lib/dpkg/info'), { recursive: true });
writeFileSync(
  at('root3/var/lib/dpkg/status'),
  'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0\n\n',
);
writeFileSync(
  at('root3/var/lib/dpkg/info/libssl3:amd64.list'),
  '/../../../../etc/shadow\n/usr/lib/x86_64-linux-gnu/../../../../../etc/passwd\n',
);
r = stella(
  [
    'function-map',
    'generate',
    '--sbom',
    at('ev.cdx.json'),
    '--service',
    'd',
    '--rootfs',
    at('root3'),
    '--output',
    at('m5.json'),
  ],
  { strace: true },
);
check(
  '1 rootfs',
  'evidence + dpkg .list climbing with ..',
  r,
  r.code,
  null,
  !/"\/etc\/(shadow|passwd)"/.test(r.opened),
);

// 2. outputs
r = stella(['attest', 'sign', '--input', at('map.json'), '--key', at('k.key'), '--output', '/dev/full']);
check('2 outputs', 'attest sign --output /dev/full', r, 2, /space|ENOSPC/i, statSync('/dev/full').isCharacterDevice());
execFileSync('mkfifo', [at('fifo')]);
r = stella(
  ['bundle', 'create', '--function-map', at('map.json'), '--observations', at('obs'), '--output', at('fifo')],
  { timeout: 20_000 },
);
check('2 outputs', 'bundle create --output FIFO without reader', r, 2, /FIFO|reader/i, statSync(at('fifo')).isFIFO());
r = stella(['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--output', SBOM]);
check('2 outputs', 'generate --output = --sbom', r, 2, /input|same/i);
r = stella([
  'bundle',
  'create',
  '--function-map',
  at('map.json'),
  '--observations',
  at('obs'),
  '--output',
  at('obs/b.tgz'),
]);
check('2 outputs', 'bundle into its own observations dir', r, 2, null, !existsSync(at('obs/b.tgz')));
r = stella([
  'function-map',
  'verify',
  '--function-map',
  at('map.json'),
  '--offline',
  '--observations',
  at('obs'),
  '--output',
  W,
]);
check('2 outputs', 'verify --output <directory>', r, 2, /directory/);
const pipe = spawnSync(
  'sh',
  ['-c', `node ${BIN} function-map generate --sbom ${SBOM} --service d --output - | head -c 1 >/dev/null`],
  { cwd: W, encoding: 'utf8' },
);
rows.push({
  item: '2 outputs',
  input: '--output - into closed pipe',
  code: pipe.status,
  ok: !/\n\s+at /.test(pipe.stderr) && !/internal error/.test(pipe.stderr),
  msg: pipe.stderr.trim().slice(0, 110),
});
const leftovers = readdirSync(W).filter((n) => n.endsWith('.tmp') || (n.startsWith('.') && n.includes('tmp')));
rows.push({
  item: '2 outputs',
  input: 'no *.tmp left after failures',
  code: 0,
  ok: leftovers.length === 0,
  msg: leftovers.join(' '),
});

// 3. secrets
for (const url of [
  'postgresql//u:Secr3t@127.0.0.1:1/x',
  'postgres:/u:Secr3t@127.0.0.1:1/x',
  ' postgres://u:Secr3t@127.0.0.1:1/x',
  'u:Secr3t@127.0.0.1:1/x',
  'postgres://u:Secr3t@127.0.0.1:1/x%',
]) {
  writeFileSync(
    at('s.yaml'),
    `runtime_agent:\n  observation_store: {type: postgres, postgres: {url: ${JSON.stringify(url)}}}\n`,
  );
  r = stella(['observations', 'query', '--config', at('s.yaml'), '--service', 'x']);
  check(
    '3 secrets',
    `store url ${JSON.stringify(url)}`,
    r,
    r.code === 0 ? -1 : r.code,
    null,
    !/Secr3t/.test(r.err + r.out) && r.code !== 70,
  );
}
writeFileSync(
  at('s.yaml'),
  'runtime_agent:\n  observation_store: {type: postgres, postgres: {host: "u:Secr3t@127.0.0.1"}}\n',
);
r = stella(['observations', 'query', '--config', at('s.yaml'), '--service', 'x']);
check('3 secrets', 'postgres.host with userinfo', r, r.code, null, !/Secr3t/.test(r.err + r.out) && r.code !== 70);

// 4. terminal / XML injection
writeFileSync(
  at('obs-esc.ndjson'),
  `${line({ comm: 'a\u001b]0;pwned\u0007b', function: 'tls/\u001b[2Jevil', nodeHash: undefined, binaryPath: '/x\u001b[31m' })}\n`,
);
for (const fmt of ['table', 'markdown']) {
  r = stella([
    'function-map',
    'verify',
    '--function-map',
    at('map.json'),
    '--offline',
    '--observations',
    at('obs-esc.ndjson'),
    '--format',
    fmt,
  ]);
  check(
    '4 escaping',
    `--format ${fmt} with ESC/BEL`,
    r,
    r.code,
    null,
    !r.out.includes('\u001b') && !r.out.includes('\u0007') && r.code !== 70,
  );
}
r = stella([
  'function-map',
  'verify',
  '--function-map',
  at('map.json'),
  '--offline',
  '--observations',
  at('obs-esc.ndjson'),
  '--format',
  'junit',
  '--output',
  at('j.xml'),
]);
const xmlOk =
  spawnSync('python3', ['-c', `import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])`, at('j.xml')]).status ===
  0;
check('4 escaping', '--format junit parses as XML', r, r.code, null, xmlOk && r.code !== 70);

// 5. signed bundle and flags
execFileSync(
  process.execPath,
  [
    BIN,
    'bundle',
    'create',
    '--function-map',
    at('map.json'),
    '--observations',
    at('obs'),
    '--sign-key',
    at('k.key'),
    '--output',
    at('good.tgz'),
  ],
  { cwd: W },
);
writeFileSync(at('other.json'), JSON.stringify(map));
r = stella([
  'function-map',
  'verify',
  '--bundle',
  at('good.tgz'),
  '--key',
  at('k.pub'),
  '--function-map',
  at('other.json'),
]);
check('5 bundle', 'verify --bundle + --function-map', r, 2, /--function-map/);
r = stella(['function-map', 'verify', '--bundle', at('good.tgz'), '--key', at('k.pub'), '--observations', at('obs')]);
check('5 bundle', 'verify --bundle + --observations', r, 2, /--observations/);
// manifest tampered, no key
const tam = at('tam');
mkdirSync(tam);
execFileSync('tar', ['-xzf', at('good.tgz'), '-C', tam]);
const manifestName = readdirSync(tam, { recursive: true }).find((n) => String(n).endsWith('manifest.json'));
const mf = join(tam, String(manifestName));
writeFileSync(mf, readFileSync(mf, 'utf8').replace('"', '"x_tamper":1,"'));
execFileSync('tar', ['-czf', at('tampered.tgz'), '-C', tam, ...readdirSync(tam)]);
r = stella(['bundle', 'verify', '--bundle', at('tampered.tgz')]);
check('5 bundle', 'bundle verify, no --key, manifest ≠ signed', r, r.code, /manifest/i, r.code !== 0);

// 6. symlinks in bundles, keygen names
mkdirSync(at('obs-link'));
writeFileSync(at('obs-link/ok.ndjson'), `${line()}\n`);
symlinkSync('/etc/shadow', at('obs-link/x.ndjson'));
r = stella([
  'bundle',
  'create',
  '--function-map',
  at('map.json'),
  '--observations',
  at('obs-link'),
  '--output',
  at('l.tgz'),
]);
const listed = r.code === 0 ? execFileSync('tar', ['-tzf', at('l.tgz')], { encoding: 'utf8' }) : '';
check('6 bundle symlink', 'obs/x.ndjson -> /etc/shadow', r, 0, /symlink|skip/i, !/x\.ndjson/.test(listed));
r = stella(['attest', 'keygen', '--out-dir', at('keys'), '--name', '../../x']);
check('6 keygen', "--name '../../x'", r, 2, /name/, !existsSync(join(W, '..', 'x.key')) && !existsSync(at('x.key')));
r = stella(['attest', 'keygen', '--out-dir', at('keys'), '--name', '']);
check('6 keygen', "--name ''", r, 2, /name/, !existsSync(at('keys/.key')));
mkdirSync(at('keys2'));
writeFileSync(at('keys2/k.pub'), 'old');
r = stella(['attest', 'keygen', '--out-dir', at('keys2'), '--name', 'k']);
check('6 keygen', 'refused keygen (existing .pub)', r, 2, /exist/i, !existsSync(at('keys2/k.key')));

// Crashes, hangs, silent answers
const deep = `${'{"type":"library","name":"c","components":['.repeat(6000)}{"type":"library","name":"leaf"}${']}'.repeat(6000)}`;
writeFileSync(at('deep.cdx.json'), `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[${deep}]}`);
r = stella(['function-map', 'generate', '--sbom', at('deep.cdx.json'), '--service', 'd', '--output', at('deep.json')]);
check('crash', 'components nested 6000 deep', r, r.code, null, r.code !== 70);
r = stella(['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--hot-functions', '', '--output', '-']);
check('crash', "--hot-functions ''", r, 2, /hot-functions/);
const big = JSON.parse(JSON.stringify(map));
big.predicate.coverage.windowSeconds = 1e20;
writeFileSync(at('w.json'), JSON.stringify(big));
r = stella(['function-map', 'verify', '--function-map', at('w.json'), '--offline', '--observations', at('obs')]);
check('crash', 'coverage.windowSeconds 1e20', r, 2, /windowSeconds/);
writeFileSync(at('stella.config.mjs'), 'export default new Promise(() => {});\n');
r = stella(
  ['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--config', at('stella.config.mjs'), '--output', '-'],
  { env: { STELLA_CONFIG_TIMEOUT_MS: '1500' }, timeout: 30_000 },
);
check('hang', 'config that never settles', r, 2, /settle|time/i);
rmSync(at('stella.config.mjs'));
writeFileSync(at('long.ndjson'), `${'x'.repeat(40 * 1024 * 1024)}\n${line()}\n`);
r = stella([
  'function-map',
  'verify',
  '--function-map',
  at('map.json'),
  '--offline',
  '--observations',
  at('long.ndjson'),
  '--format',
  'json',
]);
check('long lines', '40 MB line', r, r.code, /"malformed":\s*1/, r.code !== 70);
execFileSync('sh', ['-c', `head -c 1073741824 /dev/zero | gzip -1 > ${at('bomb.ndjson.gz')}`]);
const t0 = Date.now();
r = stella(
  [
    'function-map',
    'verify',
    '--function-map',
    at('map.json'),
    '--offline',
    '--observations',
    at('bomb.ndjson.gz'),
    '--format',
    'json',
  ],
  { timeout: 120_000 },
);
check(
  'long lines',
  `1 GB NUL gzip bomb (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  r,
  r.code,
  /"malformed":\s*1/,
  r.code !== 70 && r.signal === null,
);
r = stella(['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--rootfs', '/nonexistent', '--output', '-']);
check('silent', '--rootfs /nonexistent', r, 2, /rootfs/);
r = stella(['function-map', 'generate', '--sbom', SBOM, '--service', 'd', '--rootfs', SBOM, '--output', '-']);
check('silent', '--rootfs <a file>', r, 2, /rootfs/);
writeFileSync(at('notjson.json'), 'nope');
r = stella([
  'bundle',
  'create',
  '--function-map',
  at('notjson.json'),
  '--observations',
  at('obs'),
  '--output',
  at('nj.tgz'),
]);
check('silent', 'bundle create with a non-JSON map', r, 2, /JSON|map/i, !existsSync(at('nj.tgz')));
writeFileSync(at('h.ndjson'), `${line({}).replace('"hitCount":1', '"hitCount":1e400')}\n`);
r = stella([
  'function-map',
  'verify',
  '--function-map',
  at('map.json'),
  '--offline',
  '--observations',
  at('h.ndjson'),
  '--format',
  'json',
]);
check('silent', 'hitCount 1e400', r, r.code, /"malformed":\s*1/, !/"hitCount":\s*null/.test(r.out));
const empty = JSON.parse(JSON.stringify(map));
empty.predicate.expectedPaths = [];
writeFileSync(at('empty.json'), JSON.stringify(empty));
r = stella(['function-map', 'verify', '--function-map', at('empty.json'), '--offline', '--observations', at('obs')]);
check('silent', 'map with no paths', r, 2, /path/i);
r = stella([
  'function-map',
  'verify',
  '--function-map',
  at('map.json'),
  '--offline',
  '--observations',
  at('obs'),
  '--from',
  '-1h',
]);
check('silent', '--from -1h', r, 2, /--from/);
writeFileSync(at('obj.cdx.json'), JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: { a: 1 } }));
r = stella(['function-map', 'generate', '--sbom', at('obj.cdx.json'), '--service', 'd', '--output', '-']);
check('silent', 'SBOM components is an object', r, 2, /components/);
writeFileSync(
  at('null.cdx.json'),
  JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [null, 3] }),
);
r = stella(['function-map', 'generate', '--sbom', at('null.cdx.json'), '--service', 'd', '--output', '-']);
check('silent', 'SBOM components [null, 3]', r, 2, /components/);
mkdirSync(at('none'));
r = stella(['function-map', 'verify', '--function-map', at('map.json'), '--offline', '--observations', at('none')]);
check('silent', 'empty observations directory', r, r.code, /no .*(file|observation)/i);
const many = Array.from({ length: 100_000 }, () => ({
  type: 'library',
  name: 'libssl3',
  version: '3.0',
  purl: 'pkg:deb/debian/libssl3@3.0?arch=amd64',
}));
writeFileSync(at('many.cdx.json'), JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: many }));
r = stella(['function-map', 'generate', '--sbom', at('many.cdx.json'), '--service', 'd', '--output', at('many.json')]);
check('silent', '100k identical components', r, r.code, null, r.err.split('\n').length < 30);

// /metrics binds loopback unless configured (agent --print-config shows host)
r = stella(['agent', '--print-config'], { cwd: at('none') });
check('agent', '/metrics default host', r, 0, /"host": "127\.0\.0\.1"/);

console.log('| item | input | exit | ok | first line of stderr |');
console.log('|---|---|---|---|---|');
for (const x of rows)
  console.log(`| ${x.item} | ${x.input} | ${x.code} | ${x.ok ? 'yes' : '**NO**'} | ${x.msg.replace(/\|/g, '\\|')} |`);
rmSync(W, { recursive: true, force: true });
if (rows.some((x) => !x.ok)) process.exitCode = 1;

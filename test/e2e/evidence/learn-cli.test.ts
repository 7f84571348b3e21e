// SPDX-License-Identifier: Apache-2.0
/** `stella function-map learn` as users run it: the built CLI as a subprocess (workload.ts says on what). */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBC, SBOM, setUpWorkload, WINDOW, type Workload } from './workload.js';

let w: Workload;
const at = (...parts: string[]) => join(w.dir, ...parts);
beforeAll(() => {
  w = setUpWorkload();
}, 120_000);
afterAll(() => {
  if (w) rmSync(w.dir, { recursive: true, force: true });
});

const verify = (map: string) =>
  w.stella(`function-map verify --function-map ${map} --offline --observations obs --format json`, ...WINDOW);

describe('stella function-map learn', () => {
  it('learns a map under which the same observations verify pass, and says how it was made', () => {
    expect(verify('map.json').code).toBe(1);
    const r = w.stella(
      'function-map learn --function-map map.json --observations obs --output learned.json',
      ...WINDOW,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'stella: learned from 5 record(s) of web in 2026-03-01T10:00:00.000Z/2026-03-01T11:00:00.000Z (2 file(s)):\n',
    );
    expect(r.stderr).toContain('\n  = tls-handshake:libssl.so.3: stays required, observed (5 hits)\n');
    expect(r.stderr).toContain('\n  ~ crypto-cipher:libcrypto.so.3: required → optional, never observed (0 hits)\n');
    expect(r.stderr).toContain(`\n  ? net/connect in ${LIBC}: observed but undeclared (2 hits), not added\n`);
    expect(r.stderr).toContain(
      '\nrequired paths 22 → 3: 3 observed and kept, 21 optional unchanged, 19 made optional, 0 dropped',
    );
    const learned = JSON.parse(readFileSync(at('learned.json'), 'utf8'));
    const digest = createHash('sha256');
    for (const f of readdirSync(at('obs')).sort()) digest.update(readFileSync(at('obs', f)));
    expect(learned.predicate.generatedFrom).toEqual({
      sbomRef: SBOM,
      sbomDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      learning: {
        from: '2026-03-01T10:00:00.000Z',
        to: '2026-03-01T11:00:00.000Z',
        observationsDigest: `sha256:${digest.digest('hex')}`,
        observationsInWindow: 5,
        baseMapDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      },
    });
    const after = verify('learned.json');
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ verdict: 'pass', observationRate: 1, unexpectedSymbolsCount: 1 });
    // A learned map is signed like any map.
    expect(w.stella('attest sign --input learned.json --output learned.dsse.json --key auditor.key').code).toBe(0);
  });

  it('--accept-unexpected net/* adds the undeclared connect(2), --drop-unobserved drops the unseen paths', () => {
    const r = w.stella(
      'function-map learn --function-map map.json --observations obs --accept-unexpected net/* --drop-unobserved --output strict.json',
      ...WINDOW,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `\n  + net/connect:libc.so.6: added as required, observed but undeclared (2 hits) in ${LIBC}\n`,
    );
    expect(r.stderr).toContain('\n  - crypto-cipher:libcrypto.so.3: dropped, never observed (0 hits)\n');
    const paths = JSON.parse(readFileSync(at('strict.json'), 'utf8')).predicate.expectedPaths as {
      pathId: string;
      optional: boolean;
    }[];
    expect(
      paths
        .filter((p) => !p.optional)
        .map((p) => p.pathId)
        .sort(),
    ).toEqual([
      'crypto-digest:libcrypto.so.3',
      'crypto-kex:libcrypto.so.3',
      'net/connect:libc.so.6',
      'tls-handshake:libssl.so.3',
    ]);
    const after = verify('strict.json');
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ verdict: 'pass', unexpectedSymbolsCount: 0 });
  });

  it('refuses bad input in one sentence, exit 2, nothing written', () => {
    const cases: [string, RegExp][] = [
      ['--function-map missing.json --observations obs', /^stella: .*missing\.json/],
      [
        '--function-map map.json --observations nowhere',
        /^stella: --observations nowhere: no such file or directory\n$/,
      ],
      [
        '--function-map map.json --observations obs --from 2020-01-01T00:00:00Z --to 2020-01-02T00:00:00Z',
        /^stella: --observations: no record of service "web" in 2020-01-01T00:00:00\.000Z\/2020-01-02T00:00:00\.000Z \(6 read: 6 outside the window, 0 of other services, 0 malformed\); nothing to learn from\n$/,
      ],
      [
        '--function-map map.json --observations -',
        /^stella: --observations -: learning records a digest of its inputs/,
      ],
      [
        '--function-map map.json --observations obs --from 1h --to 2h',
        /^stella: --from .* is not before --to .*: the window is empty\n$/,
      ],
    ];
    for (const [flags, message] of cases) {
      const r = w.stella(`function-map learn ${flags} --output bad.json`);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    }
    expect(readdirSync(w.dir).filter((f) => f.includes('bad.json'))).toEqual([]);
    const help = w.stella('function-map learn --help');
    expect(help.code).toBe(0);
    for (const flag of [
      '--function-map',
      '--observations',
      '--from',
      '--to',
      '--drop-unobserved',
      '--accept-unexpected',
      '--output',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});

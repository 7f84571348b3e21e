// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, runStella } from '../../support/cli.js';

const MAP = join(REPO, 'core/test/function-map/fixtures/golden/trivy-debian.map.json');

describe('stella function-map verify on several CPUs', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives the same report with 2 parallel readers as with one (input large enough to split)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stella-parallel-'));
    const data = join(dir, 'obs.ndjson');
    // ~70 MB: above 2 × MIN_BYTES_PER_WORKER, so the file is cut into byte slices.
    execFileSync(process.execPath, [join(REPO, 'bench/gen-observations.mjs'), MAP, data, '200000'], {
      stdio: 'ignore',
    });
    const reports: unknown[] = [];
    for (const workers of ['1', '2']) {
      const out = join(dir, `report-${workers}.json`);
      const r = await runStella([
        'function-map',
        'verify',
        '--function-map',
        MAP,
        '--offline',
        '--observations',
        data,
        '--from',
        '2000-01-01T00:00:00Z',
        '--to',
        '2100-01-01T00:00:00Z',
        '--workers',
        workers,
        '--output',
        out,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const { generatedAt: _g, ...report } = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
      reports.push(report);
    }
    type Report = {
      observationsRead: number;
      observationsSkipped: { malformedSamples: { location: string; reason: string }[] };
    };
    const [one, two] = reports as Report[];
    expect(one!.observationsRead).toBe(200_000);
    // Samples from a slice after the file's first name the byte offset (file@offset), not the line.
    const locations = (r: Report) => r.observationsSkipped.malformedSamples.map((m) => m.location);
    expect(locations(two!).some((l) => /obs\.ndjson@\d+$/.test(l))).toBe(true);
    const strip = (r: Report) => ({
      ...r,
      observationsSkipped: {
        ...r.observationsSkipped,
        malformedSamples: r.observationsSkipped.malformedSamples.map((m) => m.reason),
      },
    });
    expect(strip(two!)).toEqual(strip(one!));
    const bad = await runStella([
      'function-map',
      'verify',
      '--function-map',
      MAP,
      '--offline',
      '--observations',
      data,
      '--workers',
      'two',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('stella: --workers "two" is not a count: expected a whole number ≥ 1\n');
  });
});

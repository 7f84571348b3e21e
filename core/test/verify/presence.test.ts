// SPDX-License-Identifier: Apache-2.0
/**
 * Records of probes in presence mode (`countMode: presence`, placed before `hitCount` as the agent
 * writes them) make the path's hit count a lower bound, on the reader's fast lane, its general
 * path and `add`, and the report says so.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VerificationAccumulator } from '../../src/verify/accumulator.js';
import { formatReport } from '../../src/verify/format.js';
import { readObservationFiles } from '../../src/verify/ndjson.js';
import { call, LIBSSL, makeMap, obs, path } from '../function-map/helpers.js';

const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const sslConnect = call('tls/SSL_connect', LIBSSL, SSL);
const sslRead = call('tls/SSL_read', LIBSSL, SSL);
const map = makeMap([path('tls-connect', ['tls'], [sslConnect]), path('tls-read', ['tls'], [sslRead])]);
const window = { from: new Date('2024-05-01T12:00:00Z'), to: new Date('2024-05-01T13:00:00Z') };
const IN = '2024-05-01T12:30:00.000Z';

/** The agent's key order: every field, then countMode, then hitCount last. */
function agentLine(c: typeof sslRead, presence: boolean): string {
  const { hitCount, ...rest } = obs(c, IN);
  return JSON.stringify({ ...rest, ...(presence ? { countMode: 'presence' } : {}), hitCount });
}

async function reportOf(lines: string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'presence-'));
  await writeFile(join(dir, 'a.ndjson'), lines.join('\n') + '\n');
  const acc = new VerificationAccumulator(map, window);
  await readObservationFiles([join(dir, 'a.ndjson')], acc);
  return acc.report();
}

describe('hit counts from presence mode', () => {
  it('mark the path a lower bound on the fast lane and leave count-mode paths exact', async () => {
    const report = await reportOf([agentLine(sslRead, true), agentLine(sslRead, true), agentLine(sslConnect, false)]);
    const byId = Object.fromEntries(report.paths.map((p) => [p.pathId, p]));
    expect(byId['tls-read']).toMatchObject({ observed: true, hitCount: 2, hitCountIsLowerBound: true });
    expect(byId['tls-connect']).toMatchObject({ observed: true, hitCount: 1 });
    expect(byId['tls-connect']).not.toHaveProperty('hitCountIsLowerBound');
    expect(formatReport(report, 'table')).toMatch(/tls-read\s+tls\s+≥2/);
    expect(formatReport(report, 'table')).toContain('lower bound');
    expect(formatReport(report, 'markdown')).toContain('| yes | ≥2 |');
  });

  it('decide the same on the general path (another key order) and through add()', async () => {
    const { hitCount, ...rest } = obs(sslRead, IN);
    const reordered = JSON.stringify({ hitCount, countMode: 'presence', ...rest });
    const report = await reportOf([reordered]);
    expect(report.paths.find((p) => p.pathId === 'tls-read')).toMatchObject({ hitCountIsLowerBound: true });

    const acc = new VerificationAccumulator(map, window);
    acc.add(obs(sslRead, IN, { countMode: 'presence' }));
    acc.add(obs(sslConnect, IN));
    const paths = acc.report().paths;
    expect(paths.find((p) => p.pathId === 'tls-read')?.hitCountIsLowerBound).toBe(true);
    expect(paths.find((p) => p.pathId === 'tls-connect')?.hitCountIsLowerBound).toBeUndefined();
  });
});

// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { VerificationAccumulator } from '../../src/verify/accumulator.js';
import { formatReport, parseReportFormat, summaryLine } from '../../src/verify/format.js';
import { call, LIBSSL, makeMap, obs, path } from '../function-map/helpers.js';

const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const a = call('tls/SSL_connect', LIBSSL, SSL);
const b = call('tls/SSL_accept', LIBSSL, SSL);
const map = makeMap(
  [
    path('tls<connect>', ['tls'], [a]),
    path('tls-accept', ['tls'], [b]),
    path('tls-read', ['tls'], [call('tls/SSL_read', LIBSSL, SSL)], true),
  ],
  { failOnUnexpected: true, perTag: { tls: 0.9 } },
);
const window = { from: new Date('2024-05-01T12:00:00Z'), to: new Date('2024-05-01T13:00:00Z') };

function report() {
  const acc = new VerificationAccumulator(map, window);
  acc.add(obs(a, '2024-05-01T12:10:00Z'));
  acc.add(obs(call('crypto/RC4', LIBSSL, SSL), '2024-05-01T12:11:00Z', { comm: 'evil&co', pid: 5 }));
  return acc.report({ generatedAt: new Date('2024-05-01T13:00:01Z') });
}

describe('report formats', () => {
  it('summary line', () => {
    expect(summaryLine(report())).toBe(
      'FAIL checkout: 1/2 required paths observed (50%, minimum 95%), 1 unexpected symbol(s), 2 record(s) read',
    );
  });

  it('junit: a case per path (optional unseen = skipped), rate, tag minimum and unexpected, XML-escaped', () => {
    const xml = formatReport(report(), 'junit');
    expect(xml).toContain('<testsuites name="stella function-map verify checkout" tests="6" failures="4" skipped="1">');
    expect(xml).toContain('<testcase classname="paths" name="tls&lt;connect&gt;"/>');
    expect(xml).toContain(
      `<testcase classname="paths" name="tls-accept"><failure message="not observed (not observable: no target process showed the canary of ${SSL} (wrong binary path, another copy of the library, statically linked, a container path not reached, a probe that failed, or a library without a canary)); missing tls/SSL_accept in ${SSL}"/></testcase>`,
    );
    expect(xml).toContain(
      '<testcase classname="paths" name="tls-read"><skipped message="optional path not observed"/></testcase>',
    );
    expect(xml).toContain(
      '<testcase classname="coverage" name="tag tls"><failure message="rate 50% below minimum 90%"/></testcase>',
    );
    expect(xml).toContain(`<failure message="1 unexpected symbol(s)">crypto/RC4 in ${SSL} (1 hits)</failure>`);
  });

  it('table and markdown name the missing calls and the unexpected processes', () => {
    const table = formatReport(report(), 'table');
    expect(table).toMatch(/MISSING\s+tls-accept\s+tls\s+0\s+-\s+not observable\s+tls\/SSL_accept/);
    expect(table).toContain('evil&co[5]');
    expect(table).toContain('fail: 1 unexpected symbol(s) observed and the map sets failOnUnexpected');
    const md = formatReport(report(), 'markdown');
    expect(md).toContain('| tls-read _(optional)_ | tls | no | 0 | — | `tls/SSL_read` |');
    expect(md).toContain('| tls&lt;connect&gt; | tls | yes | 1 |');
    expect(md).toContain('| `crypto/RC4` |');
    expect(JSON.parse(formatReport(report(), 'json')).verdict).toBe('fail');
  });

  it('rejects unknown formats', () => {
    expect(() => parseReportFormat('xml')).toThrow(
      '--format "xml" is not a report format: expected one of json, table, markdown, junit',
    );
  });
});

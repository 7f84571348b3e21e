// SPDX-License-Identifier: Apache-2.0
/**
 * Terminal and XML injection (issue #13, item 4): whatever a map or an observation carries in its
 * path ids, function names, binary paths and `comm`, the table and markdown reports hold no control
 * character (no ESC/BEL sequence reaches a terminal, no field forges a line) and the JUnit report is
 * well-formed XML (checked with a real parser). fast-check draws the strings, with a fixed seed.
 */
import fc from 'fast-check';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { VerificationAccumulator } from '../../src/verify/accumulator.js';
import { formatReport, terminalSafe } from '../../src/verify/format.js';
import { call, LIBSSL, makeMap, obs, path } from '../function-map/helpers.js';

const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const window = { from: new Date('2024-05-01T12:00:00Z'), to: new Date('2024-05-01T13:00:00Z') };
/** Control characters, bidi overrides, lone surrogates and markup, mixed into ordinary text. */
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      '\x1b',
      '\x07',
      '\n',
      '\r',
      '\t',
      '\0',
      '\x9b',
      '\u202e',
      '\ud800',
      '<',
      '&',
      '"',
      "'",
      '|',
      '`',
      ']]>',
      'a',
    ),
    maxLength: 30,
  }),
  fc.constant('\x1b]0;pwned\x07\x1b[2J'),
);
// Lines of a human report may hold no C0/C1 control but the newline between lines.
const CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function hostileReport(pathId: string, fn: string, binary: string, comm: string) {
  const expected = call('tls/SSL_connect', LIBSSL, SSL);
  const map = makeMap(
    [path(pathId || 'p', ['tls'], [expected]), path('missing', ['tls'], [call(`tls/${fn}`, LIBSSL, binary || SSL)])],
    {
      failOnUnexpected: true,
    },
  );
  const acc = new VerificationAccumulator(map, window);
  acc.add(obs(expected, '2024-05-01T12:10:00Z', { comm }));
  acc.add(obs({ function: `crypto/${fn}`, binaryPath: binary || SSL }, '2024-05-01T12:11:00Z', { comm, pid: 7 }));
  return acc.report({ generatedAt: new Date('2024-05-01T13:00:01Z') });
}

describe('human report formats escape hostile fields', () => {
  it('table and markdown carry no control character for any field value (fast-check, fixed seed)', () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, hostile, (pathId, fn, binary, comm) => {
        const report = hostileReport(pathId, fn, binary, comm);
        for (const format of ['table', 'markdown'] as const) {
          const text = formatReport(report, format);
          expect(text).not.toMatch(CONTROL);
        }
      }),
      { seed: 1313, numRuns: 300 },
    );
  });

  it('an OSC retitle sequence in comm is shown as visible text', () => {
    const table = formatReport(hostileReport('p', 'RC4', SSL, '\x1b]0;pwned\x07'), 'table');
    expect(table).toContain('\\x1b]0;pwned\\x07[7]');
    expect(terminalSafe('a\nb\u202ec')).toBe('a\\x0ab\\u202ec');
  });

  it('a field with a newline and a pipe cannot add a markdown table row', () => {
    const md = formatReport(hostileReport('x|y\n| forged | row |', 'RC4', SSL, 'node'), 'markdown');
    expect(md).not.toContain('\n| forged');
    // The escape's own backslash is escaped too, so markdown renders it as the text `\x0a`.
    expect(md).toContain('x\\|y\\\\x0a\\| forged \\| row \\|');
  });
});

describe('junit is well-formed XML for any input', () => {
  const parser = new XMLParser({ ignoreAttributes: false });
  it('parses with a real XML parser and keeps the visible text (fast-check, fixed seed)', () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, hostile, (pathId, fn, binary, comm) => {
        const xml = formatReport(hostileReport(pathId, fn, binary, comm), 'junit');
        expect(XMLValidator.validate(xml)).toBe(true);
        const doc = parser.parse(xml);
        expect(doc.testsuites.testsuite).toBeDefined();
      }),
      { seed: 1313, numRuns: 300 },
    );
  });

  it('characters XML 1.0 cannot hold become visible escapes, others stay as references', () => {
    const xml = formatReport(hostileReport('a\x1bb\tc', 'RC4', SSL, 'node'), 'junit');
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain('name="a\\x1bb&#9;c"');
  });
});

// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { parseDurationArg, parseDurationMs, parseTimeArg } from '../../src/time.js';

const now = new Date('2024-05-01T12:00:00.000Z');

describe('parseTimeArg', () => {
  it.each([
    ['1h', '2024-05-01T11:00:00.000Z'],
    ['30m', '2024-05-01T11:30:00.000Z'],
    ['90s', '2024-05-01T11:58:30.000Z'],
    ['1h30m', '2024-05-01T10:30:00.000Z'],
    ['2d', '2024-04-29T12:00:00.000Z'],
    ['now', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T10:00:00Z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T10:00:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T10:00:00.250Z', '2024-05-01T10:00:00.250Z'],
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
  ])('%s', (text, expected) => {
    expect(parseTimeArg(text, '--from', now).toISOString()).toBe(expected);
  });

  it.each(['yesterday', '1x', '2024-13-45T00:00:00Z', '', '5'])('rejects %j naming the flag', (text) => {
    expect(() => parseTimeArg(text, '--to', now)).toThrow(
      `--to "${text}" is not a time: expected ISO-8601 (2024-05-01T12:00:00Z) or a duration before now (1h, 30m, 2d)`,
    );
  });

  // `-1h` was read as 1h ago with the sign dropped: a silent guess between "ago" and "ahead".
  it.each(['-1h', ' -90s', '+30m', '-1h30m'])('refuses the signed duration %j, naming the flag', (text) => {
    expect(() => parseTimeArg(text, '--from', now)).toThrow(
      `--from "${text}" has a sign: a duration already means that long before now, so write ${text.trim().slice(1)} (or an ISO-8601 time)`,
    );
  });
});

describe('durations', () => {
  it('parses units and rejects the rest', () => {
    expect(parseDurationMs('72h')).toBe(72 * 3_600_000);
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('1.5h')).toBe(5_400_000);
    expect(parseDurationMs('h')).toBeUndefined();
    expect(parseDurationMs('-1h')).toBeUndefined();
    expect(() => parseDurationArg('-72h', '--older-than')).toThrow('--older-than "-72h" is not a duration');
    expect(() => parseDurationArg('0s', '--older-than')).toThrow(
      '--older-than "0s" is not a duration: expected a number with a unit (ms, s, m, h, d, w), e.g. 72h',
    );
  });
});

describe('the CLI', () => {
  it('function-map verify --from -1h: exit 2 and one sentence naming the flag, nothing verified', async () => {
    const { runCli, withTempDir } = await import('../attest/cli-harness.js');
    const tmp = await withTempDir();
    try {
      const map = new URL('../../demo/function-map.json', import.meta.url).pathname;
      const r = await runCli(
        'function-map',
        'verify',
        '--function-map',
        map,
        '--observations',
        tmp.dir,
        '--from',
        '-1h',
      );
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('--from "-1h" has a sign');
    } finally {
      await tmp.remove();
    }
  });
});

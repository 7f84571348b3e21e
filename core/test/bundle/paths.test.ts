// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { checkBundlePath } from '../../src/bundle/extract.js';

describe('checkBundlePath', () => {
  it.each([
    ['observations/node-1/a.ndjson', 'observations/node-1/a.ndjson'],
    ['./manifest.json', 'manifest.json'],
    ['observations/', 'observations'],
    ['a..b/c', 'a..b/c'],
  ])('accepts %s as %s', (raw, normalised) => {
    expect(checkBundlePath(raw, 'b.tgz')).toBe(normalised);
  });

  it.each([
    ['../x', 'escapes the bundle directory (".." segment)'],
    ['a/../../x', 'escapes the bundle directory (".." segment)'],
    ['a/..', 'escapes the bundle directory (".." segment)'],
    ['/etc/passwd', 'is an absolute path'],
    ['C:/Windows/x', 'is an absolute path'],
    ['a\\..\\x', 'contains a backslash'],
    ['a\0b', 'contains a NUL byte'],
    ['a//b', 'has an empty or "." path segment'],
    ['a/./b', 'has an empty or "." path segment'],
    ['./', 'has an empty path'],
    [`${'a'.repeat(256)}`, 'has a path longer than 255 characters'],
  ])('refuses %j', (raw, why) => {
    expect(() => checkBundlePath(raw, 'b.tgz')).toThrow(
      `unsafe bundle b.tgz: entry "${raw}" ${why}; refusing to extract`,
    );
  });
});

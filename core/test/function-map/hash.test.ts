// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { canonicalJson, nodeHash, normalizePurl, pathHash } from '../../src/function-map/hash.js';

describe('normalizePurl', () => {
  it.each([
    ['pkg:deb/debian/libssl3@3.0.15-1?arch=amd64&distro=debian-12', 'pkg:deb/debian/libssl3'],
    ['pkg:deb/libssl3@3.0.19-1~deb12u2#/var/lib/dpkg', 'pkg:deb/libssl3'],
    ['pkg:APK/Alpine/LibSSL3@3.1.4-r5?arch=x86_64', 'pkg:apk/alpine/libssl3'],
    ['pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1', 'pkg:rpm/redhat/openssl-libs'],
    ['pkg:generic/node@20.20.2', 'pkg:generic/node'],
    ['pkg:npm/%40scope/Pkg@1.0.0', 'pkg:npm/%40scope/pkg'],
  ])('%s → %s', (input, expected) => {
    expect(normalizePurl(input)).toBe(expected);
  });

  it('rejects a string that is not a purl, naming it', () => {
    expect(() => normalizePurl('libssl3')).toThrow(InputError);
    expect(() => normalizePurl('libssl3')).toThrow(/^invalid purl "libssl3": /);
  });
});

describe('nodeHash / pathHash (values computed with sha256sum, the docs/FUNCTION-MAP.md formulas)', () => {
  // printf '%s' 'pkg:deb/debian/libssl3:SSL_connect' | sha256sum
  const sink = 'sha256:6f111c98ff65690ab1231aefb1b008b0907a998ea1b3231282b4e08182eff6a4';
  // printf '%s' 'pkg:generic/my-svc:main' | sha256sum
  const entry = 'sha256:044da078145fac66ed988ea3d60bcfd38c2604baabb6ef03c6b699d10a03102d';

  it('nodeHash ignores version, qualifiers, subpath and case', () => {
    expect(nodeHash('pkg:deb/debian/libssl3@3.0.15-1?arch=amd64&distro=debian-12', 'SSL_connect')).toBe(sink);
    expect(nodeHash('pkg:deb/Debian/LIBSSL3@3.0.19#/var/lib/dpkg', 'SSL_connect')).toBe(sink);
    expect(nodeHash('pkg:generic/my-svc', 'main')).toBe(entry);
  });

  it('the symbol stays case-sensitive, and a different library is a different node', () => {
    expect(nodeHash('pkg:deb/debian/libssl3', 'ssl_connect')).not.toBe(sink);
    expect(nodeHash('pkg:deb/debian/nodejs', 'SSL_connect')).not.toBe(sink);
  });

  it('pathHash with no intermediates hashes "entry::sink"', () => {
    // printf '%s' "$E::$S" | sha256sum
    expect(pathHash([entry, sink])).toBe('sha256:3f1d84984b5b0f6ba01ac294335218815237c06dec278edb9f0f17a9b667f5d5');
  });

  it('pathHash joins intermediates with ":"', () => {
    // printf '%s' "$E:$S:$S:$E" | sha256sum
    expect(pathHash([entry, sink, sink, entry])).toBe(
      'sha256:13502b8653a9603041d5d3e3118d619273684b8c5698f9bb84ff221e6d4476b3',
    );
  });

  it('pathHash needs an entry and a sink', () => {
    expect(() => pathHash([entry])).toThrow('pathHash needs an entry and a sink node hash, got 1');
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 'x', c: null }], u: undefined })).toBe('{"a":[{"c":null,"d":"x"}],"b":1}');
  });
});

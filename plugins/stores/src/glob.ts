// SPDX-License-Identifier: Apache-2.0
/**
 * Function-id globs (`tls/*`, `crypto/EVP_*`, `**`), with the same meaning as `--hot-functions`
 * (picomatch): `*` and `?` stay inside one path segment, `**` crosses segments.
 * Kept tiny and dependency-free so every store (and SQL) applies identical semantics.
 */
export function hasWildcard(glob: string): boolean {
  return /[*?]/.test(glob);
}

/** Regular expression source, anchored, valid both in JavaScript and PostgreSQL (ARE) syntax. */
export function globToRegexSource(glob: string): string {
  let out = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i++;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else out += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return `${out}$`;
}

export function globToRegExp(glob: string): RegExp {
  return new RegExp(globToRegexSource(glob));
}

/** The literal text before the first wildcard: lets an index narrow the scan. */
export function literalPrefix(glob: string): string {
  const i = glob.search(/[*?]/);
  return i < 0 ? glob : glob.slice(0, i);
}

// SPDX-License-Identifier: Apache-2.0
/**
 * The repository explains itself: no tracked file sends the reader to a document that is not in
 * it, and every repository path a document or a code comment names exists. Pure file reading, no
 * build needed (build outputs are recognised by .gitignore, not by having been built).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20 });

const tracked = git('ls-files', '-z').split('\0').filter(Boolean);
const trackedFiles = new Set(tracked);
const trackedDirs = new Set(tracked.flatMap((file) => ancestors(file)));
const trackedBasenames = new Set(tracked.map((file) => posix.basename(file)));

/**
 * Documents the engineers keep outside the repository: a reader of the repository cannot open them.
 * Cited by file name in any case, or by the bare upper-case name before a section title. This
 * test file is the one place that names them, to forbid them, and is not checked for them.
 */
const OUTSIDE_DOCUMENTS = ['MACHINE', 'SPEC', 'RUNBOOK', 'STYLE'];
/** A bare file name with one of these extensions names a file of the repository (or a build output). */
const SOURCE_FILE = /^[\w.-]+\.(?:ts|mjs|cjs|c|h|cc|md|py|sh)$/;
const TEXT_FILES = /\.(?:md|ts|mjs|cjs|js|c|h|cc|sh|py|ya?ml)$|(?:^|\/)Dockerfile$|^\.ci\/run$/;
const HASH_COMMENTED = /\.(?:sh|py|ya?ml)$|(?:^|\/)Dockerfile$|^\.ci\/run$/;

/**
 * Where a relative path may start: the naming file's directory, the repository root, any package
 * root (a guide walking through `examples/third-party-plugin` names its `src/plugin.ts`) or its
 * `src/` (`agent/compose.ts` in core), and the BPF include directories (`stella/common.bpf.h`, as
 * an `#include` spells it).
 */
const packageRoots = tracked
  .filter((file) => posix.basename(file) === 'package.json' && !file.includes('/fixtures/'))
  .map((file) => posix.dirname(file));
const includeDirs = [...trackedDirs].filter((dir) => posix.basename(dir) === 'include');
const bases = [
  ...packageRoots,
  ...packageRoots.map((root) => posix.join(root, 'src')).filter((dir) => trackedDirs.has(dir)),
  ...includeDirs,
];

/** Build outputs, which exist once built: anchored .gitignore entries and the directories above them. */
const buildOutputs = tracked
  .filter((file) => posix.basename(file) === '.gitignore')
  .flatMap((file) =>
    readFileSync(`${repo}/${file}`, 'utf8')
      .split('\n')
      .filter((line) => /^[\w.-]+\/[\w./-]+$/.test(line))
      .map((line) => posix.join(posix.dirname(file), line).replace(/\/$/, '')),
  );
const buildOutputNames = new Set(buildOutputs.map((path) => posix.basename(path)));

function ancestors(file: string): string[] {
  const dirs: string[] = [];
  for (let dir = posix.dirname(file); dir !== '.'; dir = posix.dirname(dir)) dirs.push(dir);
  return dirs;
}

/** What a reader reads as prose: Markdown outside code blocks (examples of the user's own files), code comments. */
function readableText(file: string, text: string): Array<{ line: number; text: string }> {
  const lines = text.split('\n').map((line, index) => ({ line: index + 1, text: line }));
  if (file.endsWith('.md')) {
    let fenced = false;
    return lines.filter(({ text: line }) => {
      if (/^\s*```/.test(line)) fenced = !fenced;
      return !fenced && !/^\s*```/.test(line);
    });
  }
  if (HASH_COMMENTED.test(file)) return lines.filter(({ text: line }) => line.trimStart().startsWith('#'));
  const comments: Array<{ line: number; text: string }> = [];
  const lineStarts = [0, ...[...text.matchAll(/\n/g)].map((newline) => newline.index + 1)];
  const lineOf = (offset: number) => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (lineStarts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  };
  const add = (start: number, end: number) => {
    const firstLine = lineOf(start);
    for (const [offset, line] of text.slice(start, end).split('\n').entries()) {
      comments.push({ line: firstLine + offset, text: line });
    }
  };
  if (/\.(?:c|h|cc)$/.test(file)) {
    // C has no template or regex literals, so the TypeScript scanner alone tells its comments from
    // its strings.
    const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text);
    for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
      if (token === ts.SyntaxKind.SingleLineCommentTrivia || token === ts.SyntaxKind.MultiLineCommentTrivia) {
        add(scanner.getTokenStart(), scanner.getTokenEnd());
      }
    }
    return comments;
  }
  // TypeScript and JavaScript: the parser knows where templates and regular expressions end (a
  // glob like '**/test/*.ts' or /\/\*/ is no comment); every comment is some token's trivia.
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const seen = new Set<number>();
  const collect = (ranges: ts.CommentRange[] | undefined) => {
    for (const range of ranges ?? []) {
      if (seen.has(range.pos)) continue;
      seen.add(range.pos);
      add(range.pos, range.end);
    }
  };
  const visit = (node: ts.Node) => {
    collect(ts.getLeadingCommentRanges(text, node.pos));
    collect(ts.getTrailingCommentRanges(text, node.end));
    // getChildren includes tokens: a comment alone before a `}` is that token's trivia.
    for (const child of node.getChildren(source)) visit(child);
  };
  visit(source);
  collect(ts.getLeadingCommentRanges(text, source.endOfFileToken.pos));
  return comments.sort((a, b) => a.line - b.line);
}

/**
 * Words that claim to be repository paths: a relative path whose first directory exists where such
 * a path may start, or a bare source file name. Not claims: a word touching a template or glob
 * character (`${x}`, `<pkg>`, `*`) names a family of paths; an absolute path a file of the machine;
 * `scheme:` a URL or purl; a one-letter name (`./x.js`) a placeholder; `tls/SSL_connect` a function id.
 */
function pathClaims(text: string): string[] {
  const claims: string[] = [];
  for (const match of text.matchAll(/[\w./-]+/g)) {
    const before = text[match.index - 1] ?? ' ';
    const after = text[match.index + match[0].length] ?? ' ';
    if (/[$*<>{}@:~%=]/.test(before) || /[$*<>{}]/.test(after)) continue;
    const word = match[0].replace(/[.,;]+$/, '');
    if (word.startsWith('/') || /^\.[^./]/.test(word) || /(?:^|\/)\w(?:\.\w+)?$/.test(word)) continue;
    if (word.includes('/') ? startsAtABase(word) : SOURCE_FILE.test(word)) claims.push(word);
  }
  return claims;
}

/**
 * A path from the root (`core/src/...`, `bpf/vmlinux`) or `./`, `../`; a relative file path whose first
 * directory exists where paths start (`test/decoder-btf.test.ts` in bpf/, `stella/event.h`). Not
 * `demo/sidecar`, which is prose for "demo or sidecar".
 */
function startsAtABase(word: string): boolean {
  if (/^\.\.?\//.test(word) || trackedDirs.has(word.split('/')[0]!)) return true;
  const first = word.split('/')[0]!;
  const isFile = /\/[\w-]+(?:\.[\w-]+)*\.\w+$/.test(word);
  return isFile && bases.some((base) => trackedDirs.has(posix.join(base, first)));
}

/** Why the path `word`, named in `file`, does not exist; undefined when it does. */
function missing(file: string, word: string): string | undefined {
  if (!word.includes('/')) {
    return trackedBasenames.has(word) || buildOutputNames.has(word) ? undefined : 'no tracked file has this name';
  }
  const candidates = [posix.dirname(file), ...bases].map((base) =>
    posix.normalize(posix.join(base, word)).replace(/\/$/, ''),
  );
  const exists = (path: string) =>
    trackedFiles.has(path) ||
    trackedDirs.has(path) ||
    buildOutputs.some((output) => output === path || output.startsWith(`${path}/`) || path.startsWith(`${output}/`));
  if (candidates.some(exists) || candidates.some(ignoredByGit)) return undefined;
  return 'no such tracked file or directory, nor a build output';
}

/** A build output by an unanchored .gitignore pattern (`dist/`, `build/`, `*.bpf.o`). */
function ignoredByGit(path: string): boolean {
  try {
    git('check-ignore', '--no-index', '-q', path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sections cited as `docs/X.md §N` or `docs/X.md "Title"`: the document must have a heading
 * `## N.` or a heading containing the title. Unresolvable names are the previous test's business.
 */
function missingSections(file: string, text: string): string[] {
  const problems: string[] = [];
  for (const match of text.matchAll(/([\w./-]+\.md)`?,? (?:§(\d+)|"([^"]+)")/g)) {
    const [, document, number, title] = match;
    const path = [posix.dirname(file), '.', ...bases]
      .map((base) => posix.normalize(posix.join(base, document!)))
      .find((candidate) => trackedFiles.has(candidate));
    if (!path) continue;
    const headings = readFileSync(`${repo}/${path}`, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('#'));
    const found = number
      ? headings.some((heading) => heading.startsWith(`## ${number}.`))
      : headings.some((heading) => heading.includes(title!));
    if (!found) problems.push(`${document} has no section ${number ? `§${number}` : `"${title}"`}`);
  }
  return problems;
}

/** The prose of every text file, read and parsed once for the tests below. */
const prose = tracked
  .filter((file) => TEXT_FILES.test(file))
  .map((file) => ({ file, lines: readableText(file, readFileSync(`${repo}/${file}`, 'utf8')) }));

describe('the repository explains itself', () => {
  it('no tracked file refers to a document kept outside the repository', () => {
    const names = OUTSIDE_DOCUMENTS.join('|');
    const byFileName = new RegExp(`\\b(?:${names})\\.md\\b`, 'i');
    const byName = new RegExp(`\\b(?:${names})\\b`);
    const thisFile = posix.relative(repo, fileURLToPath(import.meta.url));
    const offenders = tracked
      .filter((file) => file !== thisFile)
      .flatMap((file) =>
        readFileSync(`${repo}/${file}`, 'utf8')
          .split('\n')
          .flatMap((line, index) =>
            byFileName.test(line) || byName.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [],
          ),
      );
    expect(offenders).toEqual([]);
  });

  it('every repository path a document or a code comment names exists', () => {
    const unresolved = prose.flatMap(({ file, lines }) =>
      lines.flatMap(({ line, text }) =>
        pathClaims(text).flatMap((word) => {
          const reason = missing(file, word);
          return reason ? [`${file}:${line}: ${word}: ${reason}`] : [];
        }),
      ),
    );
    expect(unresolved).toEqual([]);
  });

  it('every section a document or a code comment cites exists', () => {
    const unresolved = prose.flatMap(({ file, lines }) =>
      lines.flatMap(({ line, text }) => missingSections(file, text).map((problem) => `${file}:${line}: ${problem}`)),
    );
    expect(unresolved).toEqual([]);
  });
});

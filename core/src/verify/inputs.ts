// SPDX-License-Identifier: Apache-2.0
import { readdir, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { InputError } from '../errors.js';
import { observationFilesOf } from '../ndjson/contract.js';
import { STDIN } from './ndjson.js';

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(full, out);
    else if (e.isFile()) out.push(full);
  }
}

/**
 * Expands `--observations` arguments into files, in a stable order: a file as is, a directory
 * recursively (`*.ndjson`, `*.jsonl`, `*.json`, each optionally `.gz`), a glob (picomatch syntax,
 * `**` included) by walking its literal prefix; `-` (standard input), a pipe or a device as is.
 * Throws InputError for an argument that names nothing.
 */
export async function expandObservationInputs(args: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    if (arg === STDIN) {
      files.push(arg);
      continue;
    }
    const info = await stat(arg).catch(() => undefined);
    if (info?.isFile() || info?.isFIFO() || info?.isCharacterDevice()) {
      files.push(arg);
      continue;
    }
    if (info?.isDirectory()) {
      const found: string[] = [];
      await walk(arg, found);
      const inDir = observationFilesOf(found);
      // An empty directory would verify as "rate 0%" with no word why: say that nothing was found.
      if (inDir.length === 0) {
        throw new InputError(
          `--observations ${arg}: no observation files (*.ndjson, *.jsonl, *.json, optionally .gz) in this directory`,
        );
      }
      files.push(...inDir);
      continue;
    }
    const scan = picomatch.scan(arg);
    if (!scan.isGlob) throw new InputError(`--observations ${arg}: no such file or directory`);
    const base = scan.base === '' ? '.' : scan.base;
    const baseInfo = await stat(base).catch(() => undefined);
    const matches: string[] = [];
    if (baseInfo?.isDirectory()) {
      const isMatch = picomatch(resolve(arg).split(sep).join('/'), { dot: false });
      const found: string[] = [];
      await walk(base, found);
      for (const f of found) if (isMatch(resolve(f).split(sep).join('/'))) matches.push(f);
    }
    if (matches.length === 0) throw new InputError(`--observations ${arg}: the pattern matches no file`);
    files.push(...matches);
  }
  return [...new Set(files)];
}

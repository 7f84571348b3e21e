// SPDX-License-Identifier: Apache-2.0
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { InputError } from '../errors.js';

/** Limits applied while reading a bundle; every one is checked before a byte is written. */
export interface BundleLimits {
  /** Largest single file, in bytes. Default 1 GiB (about ten million observation records). */
  maxFileBytes: number;
  /** Sum of all file sizes, in bytes. Default 4 GiB. */
  maxTotalBytes: number;
  /** Number of tar entries (files and directories). Default 10,000. */
  maxEntries: number;
  /** Longest entry path, in characters. Default 255. */
  maxPathLength: number;
}

export const DEFAULT_BUNDLE_LIMITS: Readonly<BundleLimits> = Object.freeze({
  maxFileBytes: 1024 ** 3,
  maxTotalBytes: 4 * 1024 ** 3,
  maxEntries: 10_000,
  maxPathLength: 255,
});

export interface ExtractedFile {
  size: number;
  sha256: string;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const TYPE_WORDS: Record<string, string> = {
  SymbolicLink: 'a symbolic link',
  Link: 'a hard link',
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a FIFO',
};

/**
 * A bundle path is relative, uses "/" only, has no "." or ".." segment and no NUL: what is
 * left cannot name anything outside the extraction directory. A leading "./" is tolerated
 * (archives made with `tar -C dir .`). Returns the normalised path or throws.
 */
export function checkBundlePath(raw: string, bundle: string, maxLength = DEFAULT_BUNDLE_LIMITS.maxPathLength): string {
  const unsafe = (why: string) => new InputError(`unsafe bundle ${bundle}: entry "${raw}" ${why}; refusing to extract`);
  if (raw.includes('\0')) throw unsafe('contains a NUL byte');
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) throw unsafe('is an absolute path');
  if (raw.includes('\\')) throw unsafe('contains a backslash');
  const path = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (path === '') throw unsafe('has an empty path');
  if (path.length > maxLength) throw unsafe(`has a path longer than ${maxLength} characters`);
  const segments = path.split('/');
  if (segments.includes('..')) throw unsafe('escapes the bundle directory (".." segment)');
  if (segments.some((s) => s === '' || s === '.')) throw unsafe('has an empty or "." path segment');
  return path;
}

/**
 * Extracts a tar.gz into `destination` (an empty directory this process created), writing only
 * regular files and directories it creates itself, and hashing each file as it streams by.
 * Symbolic links, hard links, devices and FIFOs, unsafe paths, duplicates and anything over the
 * limits are refused (InputError, exit 2) before their data is written.
 */
export async function extractBundle(
  bundle: string,
  destination: string,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<Map<string, ExtractedFile>> {
  const files = new Map<string, ExtractedFile>();
  const directories = new Set<string>();
  let entries = 0;
  let declaredTotal = 0;
  let openFd: number | undefined;
  let failure: Error | undefined;

  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({ strict: true });
    const input = createReadStream(bundle);
    const fail = (error: Error) => {
      if (failure) return;
      failure = error;
      if (openFd !== undefined) closeSync(openFd);
      openFd = undefined;
      input.destroy();
      reject(error);
    };
    const unsafe = (entry: ReadEntry, why: string) =>
      new InputError(`unsafe bundle ${bundle}: entry "${entry.path}" ${why}; refusing to extract`);

    parser.on('entry', (entry: ReadEntry) => {
      if (failure) {
        entry.resume();
        return;
      }
      try {
        entries += 1;
        if (entries > limits.maxEntries) {
          throw new InputError(`unsafe bundle ${bundle}: more than ${limits.maxEntries} entries; refusing to extract`);
        }
        const path = checkBundlePath(entry.path, bundle, limits.maxPathLength);
        if (entry.type === 'Directory') {
          directories.add(path);
          mkdirSync(join(destination, path), { recursive: true });
          entry.resume();
          return;
        }
        if (!FILE_TYPES.has(entry.type)) {
          const word = TYPE_WORDS[entry.type] ?? `of tar type ${entry.type}`;
          const target = entry.linkpath ? ` (to "${entry.linkpath}")` : '';
          throw unsafe(entry, `is ${word}${target}; bundles hold regular files only`);
        }
        if (files.has(path) || directories.has(path)) throw unsafe(entry, 'appears twice');
        const size = entry.size ?? 0;
        if (size > limits.maxFileBytes) {
          throw unsafe(entry, `is ${size} bytes, over the limit of ${limits.maxFileBytes} bytes per file`);
        }
        declaredTotal += size;
        if (declaredTotal > limits.maxTotalBytes) {
          throw new InputError(
            `unsafe bundle ${bundle}: files add up to more than ${limits.maxTotalBytes} bytes; refusing to extract`,
          );
        }
        const target = join(destination, path);
        mkdirSync(dirname(target), { recursive: true });
        const fd = openSync(target, 'wx', 0o600);
        openFd = fd;
        const hash = createHash('sha256');
        let written = 0;
        entry.on('data', (chunk: Buffer) => {
          if (failure) return;
          written += chunk.length;
          // The header's size bounds the data tar hands us; this guards the sum anyway.
          if (written > limits.maxFileBytes) {
            fail(unsafe(entry, `is over the limit of ${limits.maxFileBytes} bytes per file`));
            return;
          }
          hash.update(chunk);
          writeSync(fd, chunk);
        });
        entry.on('end', () => {
          if (failure) return;
          closeSync(fd);
          openFd = undefined;
          files.set(path, { size: written, sha256: hash.digest('hex') });
        });
      } catch (error) {
        entry.resume();
        fail(
          error instanceof InputError
            ? error
            : new InputError(`cannot extract bundle ${bundle}: ${(error as Error).message}`, { cause: error }),
        );
      }
    });
    parser.on('error', (error: Error) => {
      // tar aborts past 1000× expansion (its default maxDecompressionRatio): a gzip bomb.
      if (/max decompression ratio exceeded/.test(error.message)) {
        fail(
          new InputError(
            `unsafe bundle ${bundle}: it expands to over 1000 times its compressed size (a decompression bomb?); refusing to extract`,
            { cause: error },
          ),
        );
        return;
      }
      fail(new InputError(`bundle ${bundle} is not a valid tar.gz archive: ${error.message}`, { cause: error }));
    });
    parser.on('end', () => {
      if (!failure) resolve();
    });
    input.on('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'ENOENT' ? 'no such file' : error.code === 'EISDIR' ? 'it is a directory' : error.code;
      fail(new InputError(`cannot read bundle ${bundle}: ${reason ?? error.message}`, { cause: error }));
    });
    input.pipe(parser);
  });
  return files;
}

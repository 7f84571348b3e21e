// SPDX-License-Identifier: Apache-2.0
/**
 * The one way a command writes a file the user named (`--output`, `--payload-output`, ...):
 *
 * - `-` is stdout.
 * - A regular file is replaced atomically: a temp file in the same directory, written, fsync'ed,
 *   renamed over the target, then the directory fsync'ed. On any failure (ENOSPC, EIO, a signal
 *   between steps) the old file is intact and the temp is removed, so a full disk never truncates
 *   a good map or report.
 * - A character device or FIFO is written in place, never replaced: the user pointed at a consumer
 *   (`/dev/stdout`, `/dev/null`, a pipe another process reads), and replacing `/dev/full` with a
 *   regular file as root breaks the machine. A FIFO without a reader is refused rather than waited on.
 * - A block device, socket or directory is refused: no command's output is meant for those.
 * - An output that is one of the command's inputs (same device and inode), or lies inside an input
 *   directory being read, is refused before anything is written.
 *
 * Symlinks are followed to the file they name (as the shell's `>` does) and that file is replaced,
 * not the link. write-file-atomic was considered: it replaces devices and FIFOs, and does not fsync
 * the directory, which is what this module exists for.
 */
import { randomBytes } from 'node:crypto';
import { constants, createReadStream, type Stats } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InputError } from './errors.js';

export interface OutputOptions {
  /** How the user named it, for messages: `--output`, `--payload-output`. */
  flag: string;
  /** Files and directories the command reads; the output must be none of them nor inside one. */
  inputs?: readonly (string | undefined)[];
}

/** Bytes, or a producer that writes the whole output to the path it is given (e.g. a tar writer). */
export type OutputContent = string | Uint8Array | ((path: string) => Promise<void>);

const ERRNO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such directory',
  ENOTDIR: 'a parent is not a directory',
  EISDIR: 'it is a directory',
  EIO: 'input/output error',
  EPIPE: 'the reader closed the pipe',
};

function writeError(target: string, flag: string, error: unknown): InputError {
  if (error instanceof InputError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const why = code ? (ERRNO_WORDS[code] ?? code) : (error as Error).message;
  return new InputError(`cannot write ${flag} ${target}: ${why}`, { cause: error });
}

const statOrUndefined = (p: string) => stat(p).catch(() => undefined);

/** Refuses an output that is an input, or lies inside an input directory (checked on real paths). */
async function refuseInputs(target: string, targetStat: Stats | undefined, options: OutputOptions): Promise<void> {
  const realTarget = targetStat
    ? await realpath(target)
    : join(await realpath(dirname(resolve(target))).catch(() => dirname(resolve(target))), basename(target));
  for (const input of options.inputs ?? []) {
    if (input === undefined || input === '-') continue;
    const st = await statOrUndefined(input);
    if (!st) continue;
    if (targetStat && st.dev === targetStat.dev && st.ino === targetStat.ino) {
      throw new InputError(`${options.flag} ${target} is also an input (${input}); write the output elsewhere`);
    }
    if (st.isDirectory()) {
      const rel = relative(await realpath(input), realTarget);
      if (rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep))) {
        throw new InputError(
          `${options.flag} ${target} is inside the input directory ${input}, which is being read; write the output elsewhere`,
        );
      }
    }
  }
}

async function writeAll(handle: FileHandle, content: string | Uint8Array): Promise<void> {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Stdout, waiting for it to drain; a closed pipe becomes one sentence instead of an EPIPE crash. */
async function toStdout(content: OutputContent): Promise<void> {
  if (typeof content === 'function') {
    const scratch = join(tmpdir(), `.stella-out-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await content(scratch);
      await pipeline(createReadStream(scratch), process.stdout, { end: false });
      return;
    } finally {
      await rm(scratch, { force: true });
    }
  }
  const bytes = content;
  await new Promise<void>((done, fail) => {
    // A broken stdout emits 'error' after the write callback too: the listener stays for that
    // second emission, which would otherwise crash the process with a stack trace.
    const onError = (error: Error) => fail(error);
    process.stdout.on('error', onError);
    process.stdout.write(bytes, (error) => {
      if (error) fail(error);
      else {
        process.stdout.off('error', onError);
        done();
      }
    });
  });
}

/** A character device or a FIFO that has a reader: opened without O_CREAT/O_TRUNC and written. */
async function inPlace(target: string, st: Stats, content: OutputContent, flag: string): Promise<void> {
  // For a FIFO, O_NONBLOCK first only to learn whether a reader exists (ENXIO) instead of waiting
  // forever; the blocking descriptor is opened while the probe still holds the pipe, so the reader
  // never sees a writer-less moment (EOF) in between.
  const probe = st.isFIFO()
    ? await open(target, constants.O_WRONLY | constants.O_NONBLOCK).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENXIO')
          throw new InputError(`${flag} ${target} is a FIFO with no reader; start the reader first`);
        throw error;
      })
    : undefined;
  let handle: FileHandle;
  try {
    handle = await open(target, constants.O_WRONLY);
  } finally {
    await probe?.close();
  }
  try {
    if (typeof content === 'function') {
      const scratch = join(tmpdir(), `.stella-out-${process.pid}-${randomBytes(6).toString('hex')}`);
      try {
        await content(scratch);
        await writeAll(handle, await readFile(scratch));
      } finally {
        await rm(scratch, { force: true });
      }
    } else await writeAll(handle, content);
  } finally {
    await handle.close();
  }
}
/** Temp file beside the target, fsync, rename, fsync the directory; the temp never survives a failure. */
async function replaceRegular(target: string, existing: Stats | undefined, content: OutputContent): Promise<void> {
  const dir = dirname(target);
  const temporary = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const mode = existing ? existing.mode & 0o7777 : 0o666;
    const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      if (typeof content !== 'function') await writeAll(handle, content);
      if (existing && process.getuid?.() === 0) await handle.chown(existing.uid, existing.gid).catch(() => {});
    } finally {
      await handle.close();
    }
    if (typeof content === 'function') await content(temporary);
    // The producer wrote through its own descriptor: fsync the finished file before it replaces the old.
    const synced = await open(temporary, constants.O_RDONLY);
    try {
      await synced.sync();
    } finally {
      await synced.close();
    }
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  const dirHandle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** Writes `content` to the output the user named, by the rules at the top of this file. */
export async function writeOutput(target: string, content: OutputContent, options: OutputOptions): Promise<void> {
  const { flag } = options;
  if (target === '') throw new InputError(`${flag} is empty: expected a file name or "-" for stdout`);
  try {
    if (target === '-') return await toStdout(content);
    const st = await statOrUndefined(target);
    await refuseInputs(target, st, options);
    if (st?.isDirectory()) throw new InputError(`${flag} ${target} is a directory; expected a file name`);
    if (st?.isCharacterDevice() || st?.isFIFO()) return await inPlace(target, st, content, flag);
    if (st && !st.isFile()) {
      throw new InputError(
        `${flag} ${target} is a ${st.isBlockDevice() ? 'block device' : 'socket'}; refusing to write to it`,
      );
    }
    const real = st ? await realpath(target) : target;
    if (!st) await mkdir(dirname(target), { recursive: true });
    await replaceRegular(real, st, content);
  } catch (error) {
    throw writeError(target, flag, error);
  }
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Paths inside a root filesystem resolved the way `openat2(RESOLVE_IN_ROOT)` or a container runtime
 * resolves them: every component is looked at with lstat, a symlink's target is re-read relative to
 * the root (an absolute target starts again at the root, not at the host's `/`), and `..` never climbs
 * above the root. Node has no openat2 and no maintained package does this component walk, hence this
 * file. A rootfs is untrusted input (an image someone else built), so nothing outside it is ever opened.
 */
import { constants } from 'node:fs';
import { type FileHandle, lstat, open, readlink, realpath, stat } from 'node:fs/promises';
import { InputError } from '../errors.js';

/** The kernel's own limit on symlinks followed in one lookup (ELOOP past it). */
export const MAX_SYMLINKS = 40;

const components = (path: string) => path.split('/').filter((c) => c !== '' && c !== '.');

export type InRoot =
  /** `path` is the canonical absolute path inside the root; `host` is the same file on this machine. */
  { kind: 'file' | 'directory' | 'other'; path: string; host: string } | { kind: 'missing' | 'loop' };

/** A root directory checked once: it exists and is a directory (a file or nothing is bad input). */
export class Root {
  private constructor(readonly host: string) {}

  static async open(dir: string, flag = '--rootfs'): Promise<Root> {
    const st = await stat(dir).catch((error: NodeJS.ErrnoException) => {
      throw new InputError(
        `${flag} ${dir} ${error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code})`}`,
      );
    });
    if (!st.isDirectory()) throw new InputError(`${flag} ${dir} is not a directory`);
    // The root itself may be a symlink the operator chose: that one is followed, once, here.
    return new Root(await realpath(dir));
  }

  /** The host path of an already-canonical in-root path. */
  hostOf(inRoot: string): string {
    return this.host === '/' ? inRoot : inRoot === '/' ? this.host : this.host + inRoot;
  }

  /** Resolves `path` (absolute or not: both are taken from the root) component by component. */
  async resolve(path: string): Promise<InRoot> {
    const pending = components(path);
    const done: string[] = [];
    let links = 0;
    let kind: 'file' | 'directory' | 'other' = 'directory';
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === '..') {
        // Clamped: `..` of the root is the root, as with chroot.
        done.pop();
        kind = 'directory';
        continue;
      }
      if (kind !== 'directory') return { kind: 'missing' }; // ENOTDIR
      const here = this.hostOf(`/${[...done, name].join('/')}`);
      const st = await lstat(here).catch(() => undefined);
      if (!st) return { kind: 'missing' };
      if (st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) return { kind: 'loop' };
        const target = await readlink(here).catch(() => undefined);
        if (target === undefined) return { kind: 'missing' };
        if (target.startsWith('/')) done.length = 0;
        pending.unshift(...components(target));
        kind = 'directory';
        continue;
      }
      done.push(name);
      kind = st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
    }
    const canonical = `/${done.join('/')}`;
    return { kind, path: canonical, host: this.hostOf(canonical) };
  }

  /**
   * Opens the regular file `path` resolves to, read-only. The last component is opened with
   * O_NOFOLLOW and the opened descriptor's own path (/proc/self/fd) is checked to lie inside the
   * root, so a component swapped for a symlink between resolve() and open() (the TOCTOU window that
   * openat2 would close in the kernel) is caught after the fact and the file is never read. What
   * remains: a file renamed within the root in that window is read under its new name, which is
   * still inside the root.
   */
  async openFile(path: string): Promise<{ handle: FileHandle; path: string } | undefined> {
    const resolved = await this.resolve(path);
    if (resolved.kind !== 'file') return undefined;
    const handle = await open(resolved.host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
      () => undefined,
    );
    if (!handle) return undefined;
    try {
      const opened = await readlink(`/proc/self/fd/${handle.fd}`);
      const inside = this.host === '/' || opened.startsWith(`${this.host}/`);
      if (inside && (await handle.stat()).isFile()) return { handle, path: resolved.path };
    } catch {
      // an unreadable /proc: refuse rather than trust the walk alone
    }
    await handle.close();
    return undefined;
  }

  /** Reads a whole text file inside the root, or '' when it is absent or not a regular file. */
  async readText(path: string): Promise<string> {
    const opened = await this.openFile(path);
    if (!opened) return '';
    try {
      return await opened.handle.readFile('utf8');
    } finally {
      await opened.handle.close();
    }
  }
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Finds the file that carries a catalogue library inside a root filesystem, the way the package
 * manager knows it: dpkg `var/lib/dpkg/info/<pkg>[:<arch>].list`, apk `lib/apk/db/installed`;
 * then by soname in the standard library directories. The rpm database (sqlite/BDB) is not read:
 * RPM-based roots resolve by soname only.
 */
import { lstat, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import type { CatalogueLibrary } from '@stella/sdk';
import type { SbomComponent } from './sbom.js';

export type ResolvedVia = 'dpkg' | 'apk' | 'sbom-evidence' | 'catalogue-path' | 'soname-search';

export interface ResolvedLibrary {
  /** Absolute path as processes see it (inside the rootfs). */
  binaryPath: string;
  /** The same file on this machine (rootfs joined). */
  hostPath: string;
  via: ResolvedVia;
}

const LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/lib64',
  '/usr/lib',
  '/lib',
  '/usr/local/lib64',
  '/usr/local/lib',
];

export class RootfsResolver {
  private readonly dpkgLists = new Map<string, string[]>();
  private dpkgInfoNames: string[] | undefined;
  private apkFiles: Map<string, string[]> | undefined;

  constructor(readonly rootfs: string) {}

  private host(p: string): string {
    return join(this.rootfs, p);
  }

  /** Regular file at `p` (inside the rootfs), following symlinks within the rootfs; else undefined. */
  private async existingFile(p: string, depth = 0): Promise<boolean> {
    if (depth > 16) return false;
    const st = await lstat(this.host(p)).catch(() => undefined);
    if (!st) return false;
    if (st.isFile()) return true;
    if (!st.isSymbolicLink()) return false;
    const target = await readlink(this.host(p));
    return this.existingFile(posix.isAbsolute(target) ? target : posix.join(posix.dirname(p), target), depth + 1);
  }

  private async dpkgFiles(pkg: string, arch: string | undefined): Promise<string[]> {
    const key = `${pkg}:${arch ?? ''}`;
    const cached = this.dpkgLists.get(key);
    if (cached) return cached;
    if (!this.dpkgInfoNames) {
      this.dpkgInfoNames = await readdir(this.host('/var/lib/dpkg/info')).catch(() => []);
    }
    const candidates = this.dpkgInfoNames.filter(
      (f) =>
        f === `${pkg}.list` ||
        (f.startsWith(`${pkg}:`) && f.endsWith('.list') && (!arch || f === `${pkg}:${arch}.list`)),
    );
    const files: string[] = [];
    for (const c of candidates.sort()) {
      const text = await readFile(this.host(`/var/lib/dpkg/info/${c}`), 'utf8').catch(() => '');
      files.push(...text.split('\n').filter((l) => l.startsWith('/')));
    }
    this.dpkgLists.set(key, files);
    return files;
  }

  private async apkPackageFiles(pkg: string): Promise<string[]> {
    if (!this.apkFiles) {
      this.apkFiles = new Map();
      const text = await readFile(this.host('/lib/apk/db/installed'), 'utf8').catch(() => '');
      let name = '';
      let folder = '';
      for (const line of text.split('\n')) {
        if (line === '') {
          name = '';
          continue;
        }
        const tag = line.slice(0, 2);
        const value = line.slice(2);
        if (tag === 'P:') {
          name = value;
          this.apkFiles.set(name, []);
        } else if (tag === 'F:') folder = value;
        else if (tag === 'R:' && name) this.apkFiles.get(name)!.push('/' + posix.join(folder, value));
      }
    }
    return this.apkFiles.get(pkg) ?? [];
  }

  /**
   * `p` with its directory's symlinks resolved (usrmerge: `/lib/x86_64-linux-gnu/libc.so.6` is
   * mapped as `/usr/lib/x86_64-linux-gnu/libc.so.6`), keeping the file name the package gives it.
   */
  private async canonicalDir(p: string): Promise<string> {
    const dir = await realpath(this.host(posix.dirname(p))).catch(() => undefined);
    if (!dir) return p;
    const root = await realpath(this.rootfs);
    const inside = root === '/' ? dir : dir.startsWith(root + '/') ? dir.slice(root.length) : undefined;
    return inside === undefined ? p : posix.join(inside, posix.basename(p));
  }

  /** The file of `library` (its soname or an alternative) for `component`, or undefined. */
  async resolve(component: SbomComponent, library: CatalogueLibrary): Promise<ResolvedLibrary | undefined> {
    const names = new Set([library.library, ...(library.alternatives ?? [])]);
    const found = async (p: string, via: ResolvedVia): Promise<ResolvedLibrary | undefined> =>
      (await this.existingFile(p))
        ? { binaryPath: await this.canonicalDir(p), hostPath: this.host(p), via }
        : undefined;
    const pick = async (files: string[], via: ResolvedVia) => {
      for (const name of names) {
        for (const f of files)
          if (basename(f) === name) {
            const r = await found(f, via);
            if (r) return r;
          }
      }
      return undefined;
    };
    if (library.binaryPath) {
      const r = await found(library.binaryPath, 'catalogue-path');
      if (r) return r;
    }
    if (component.type === 'deb') {
      const arch = component.qualifiers.arch;
      const r =
        (await pick(await this.dpkgFiles(component.name, arch), 'dpkg')) ??
        (await pick(await this.dpkgFiles(component.name, undefined), 'dpkg'));
      if (r) return r;
    }
    if (component.type === 'apk') {
      const r = await pick(await this.apkPackageFiles(component.name), 'apk');
      if (r) return r;
    }
    const fromEvidence = await pick(component.files, 'sbom-evidence');
    if (fromEvidence) return fromEvidence;
    if (library.binaryPath) return undefined; // an executable is where the catalogue says, or absent
    for (const name of names) {
      for (const dir of LIB_DIRS) {
        const r = await found(posix.join(dir, name), 'soname-search');
        if (r) return r;
      }
    }
    return undefined;
  }
}

/** Where a library most likely lives when there is no rootfs to look in. */
export function defaultLibraryPath(component: SbomComponent, library: CatalogueLibrary): string {
  if (library.binaryPath) return library.binaryPath;
  const evidence = component.files.find((f) => basename(f) === library.library);
  if (evidence) return evidence;
  const arch = component.qualifiers.arch;
  switch (component.type) {
    case 'deb': {
      const triplet = arch === 'arm64' ? 'aarch64-linux-gnu' : arch === 'i386' ? 'i386-linux-gnu' : 'x86_64-linux-gnu';
      return `/usr/lib/${triplet}/${library.library}`;
    }
    case 'rpm':
      return `/usr/lib64/${library.library}`;
    default:
      return `/usr/lib/${library.library}`;
  }
}

// SPDX-License-Identifier: Apache-2.0
/**
 * Finds the file that carries a catalogue library inside a root filesystem, the way the package
 * manager knows it: dpkg `var/lib/dpkg/info/<pkg>[:<arch>].list`, apk `lib/apk/db/installed`;
 * then by soname in the standard library directories. The rpm database (sqlite/BDB) is not read:
 * RPM-based roots resolve by soname only.
 */
import { readdir } from 'node:fs/promises';
import { basename, posix } from 'node:path';
import type { CatalogueLibrary } from '@stella/sdk';
import { type ElfInfo, readElf } from './elf.js';
import { Root } from './root-path.js';
import type { SbomComponent } from './sbom.js';

export type ResolvedVia = 'dpkg' | 'apk' | 'sbom-evidence' | 'catalogue-path' | 'soname-search';

export interface ResolvedLibrary {
  /** Absolute path as processes see it (inside the rootfs). */
  binaryPath: string;
  /** The same file on this machine, for messages; it is read through the resolver only. */
  hostPath: string;
  /** Where `binaryPath` really leads inside the rootfs (every symlink resolved). */
  filePath: string;
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

/**
 * Every path read here (package databases, SBOM evidence, catalogue paths, soname candidates) is
 * resolved inside the rootfs by `Root`: symlinks re-rooted, `..` clamped, so neither a symlink to a
 * host file nor a `/../../etc/passwd` line in a dpkg list can make it read the host.
 */
export class RootfsResolver {
  private readonly dpkgLists = new Map<string, string[]>();
  private dpkgInfoNames: string[] | undefined;
  private apkFiles: Map<string, string[]> | undefined;

  private constructor(
    readonly rootfs: string,
    private readonly root: Root,
  ) {}

  /** Bad input (exit 2) when `rootfs` does not exist or is not a directory. */
  static async open(rootfs: string): Promise<RootfsResolver> {
    return new RootfsResolver(rootfs, await Root.open(rootfs));
  }

  private async dpkgFiles(pkg: string, arch: string | undefined): Promise<string[]> {
    const key = `${pkg}:${arch ?? ''}`;
    const cached = this.dpkgLists.get(key);
    if (cached) return cached;
    if (!this.dpkgInfoNames) {
      const info = await this.root.resolve('/var/lib/dpkg/info');
      this.dpkgInfoNames = info.kind === 'directory' ? await readdir(info.host).catch(() => []) : [];
    }
    const candidates = this.dpkgInfoNames.filter(
      (f) =>
        f === `${pkg}.list` ||
        (f.startsWith(`${pkg}:`) && f.endsWith('.list') && (!arch || f === `${pkg}:${arch}.list`)),
    );
    const files: string[] = [];
    for (const c of candidates.sort()) {
      const text = await this.root.readText(`/var/lib/dpkg/info/${c}`);
      files.push(...text.split('\n').filter((l) => l.startsWith('/')));
    }
    this.dpkgLists.set(key, files);
    return files;
  }

  private async apkPackageFiles(pkg: string): Promise<string[]> {
    if (!this.apkFiles) {
      this.apkFiles = new Map();
      const text = await this.root.readText('/lib/apk/db/installed');
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
   * The file behind `p` when it is a regular file inside the rootfs. `binaryPath` has its directory
   * resolved (usrmerge: `/lib/x86_64-linux-gnu/libc.so.6` is mapped as `/usr/lib/...`) but keeps the
   * file name the package gives it, the name processes map.
   */
  private async found(p: string, via: ResolvedVia): Promise<ResolvedLibrary | undefined> {
    const file = await this.root.resolve(p);
    if (file.kind !== 'file') return undefined;
    const dir = await this.root.resolve(posix.dirname(p));
    const binaryPath = dir.kind === 'directory' ? posix.join(dir.path, posix.basename(p)) : file.path;
    return { binaryPath, hostPath: file.host, filePath: file.path, via };
  }

  /** The ELF facts of a resolved library, read through a descriptor checked to lie inside the rootfs. */
  async readElf(library: ResolvedLibrary): Promise<ElfInfo> {
    const opened = await this.root.openFile(library.filePath);
    if (!opened) throw new Error(`${library.hostPath} is no longer a regular file inside ${this.rootfs}`);
    const viaFd = `/proc/self/fd/${opened.handle.fd}`;
    try {
      return await readElf(viaFd);
    } catch (error) {
      (error as Error).message = (error as Error).message.replaceAll(viaFd, library.hostPath);
      throw error;
    } finally {
      await opened.handle.close();
    }
  }

  /** The file of `library` (its soname or an alternative) for `component`, or undefined. */
  async resolve(component: SbomComponent, library: CatalogueLibrary): Promise<ResolvedLibrary | undefined> {
    const names = new Set([library.library, ...(library.alternatives ?? [])]);
    const pick = async (files: string[], via: ResolvedVia) => {
      for (const name of names) {
        for (const f of files)
          if (basename(f) === name) {
            const r = await this.found(f, via);
            if (r) return r;
          }
      }
      return undefined;
    };
    if (library.binaryPath) {
      const r = await this.found(library.binaryPath, 'catalogue-path');
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
        const r = await this.found(posix.join(dir, name), 'soname-search');
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

// SPDX-License-Identifier: Apache-2.0
/**
 * Where a uprobe session's libraries are: the map's own paths (and whether an upgrade replaced the
 * file there) and every target's /proc/PID/maps, through /proc/PID/root so a container's or a
 * private mount namespace's copy is its own file.
 */
import { basename } from 'node:path';
import { type LibraryFile, LibraryFileCache } from './library-files.js';
import { isLibrary, mappedFiles } from './proc-maps.js';
import type { Logger } from './types/logger.js';
import type { ProbeRequest } from './types/probe-requests.js';

export interface Candidate {
  file: LibraryFile;
  /** Target pids that map this file (empty: found on the host path only). */
  pids: Set<number>;
}

const LIBC = /^libc\.so(\.\d+)?$/;

export class LibraryDiscovery {
  readonly files = new LibraryFileCache();
  /** Host path of each request's binaryPath → the file last seen there (replacement detection). */
  readonly #lastAtPath = new Map<string, { key: string; inode: bigint; buildId?: string }>();
  /** File key → one sentence on the file it replaced. */
  readonly #replacements = new Map<string, string>();

  constructor(
    private readonly requests: readonly ProbeRequest[],
    private readonly log: Logger,
  ) {}

  /**
   * One pass: the map's paths, then the mapped files of `pids` that some request names.
   * `onLibc` sees each libc a scanned process maps (to watch its dlopen).
   */
  scan(pids: Iterable<number>, onLibc?: (libc: LibraryFile) => void): Map<string, Candidate> {
    const candidates = new Map<string, Candidate>();
    const add = (hostPath: string, path: string, pid?: number) => {
      const file = this.files.open(hostPath, path);
      if (!file) return undefined;
      let candidate = candidates.get(file.key);
      if (!candidate) {
        candidate = { file, pids: new Set() };
        candidates.set(file.key, candidate);
      }
      if (pid !== undefined) candidate.pids.add(pid);
      return file;
    };
    for (const request of this.requests)
      this.#noteReplacement(request.binaryPath, add(request.binaryPath, request.binaryPath));
    for (const pid of pids) {
      for (const mapped of mappedFiles(pid)) {
        if (onLibc && LIBC.test(basename(mapped.path))) {
          const libc = this.files.open(mapped.hostPath, mapped.path);
          if (libc) onLibc(libc);
        }
        if (this.requests.some((r) => isLibrary(mapped, r.library, r.binaryPath)))
          add(mapped.hostPath, mapped.path, pid);
      }
    }
    return candidates;
  }

  replacementOf(fileKey: string): string | undefined {
    return this.#replacements.get(fileKey);
  }

  /** Drops cached files no pass needs any more. */
  forget(unused: (fileKey: string) => boolean): void {
    for (const key of this.files.keys()) if (unused(key)) this.files.forget(key);
  }

  #noteReplacement(path: string, file: LibraryFile | undefined): void {
    if (!file) return;
    const previous = this.#lastAtPath.get(path);
    if (previous && previous.key !== file.key && !this.#replacements.has(file.key)) {
      const how = previous.inode === file.inode ? 'rewritten in place' : 'replaced on disk';
      const buildIds =
        previous.buildId !== file.buildId ? `, build-id ${previous.buildId ?? '?'} → ${file.buildId ?? '?'}` : '';
      const detail = `${path} was ${how} (inode ${previous.inode} → ${file.inode}${buildIds}): re-attached`;
      this.#replacements.set(file.key, detail);
      this.log.info(detail);
    }
    this.#lastAtPath.set(path, { key: file.key, inode: file.inode, buildId: file.buildId });
  }
}

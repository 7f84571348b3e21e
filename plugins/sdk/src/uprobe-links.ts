// SPDX-License-Identifier: Apache-2.0
/**
 * The attachment set of a uprobe session: one link per (request, library file, pid), bounded by
 * `probes.max_concurrent`, each reported on its attach point.
 */
import { type AttachPointStatuses, linkPoint } from './attach-points.js';
import type { LibraryFile } from './library-files.js';
import { destroyQuietly } from './session-common.js';
import type { BpfLink, BpfObjectHandle, Logger, ProbeRequest } from './types.js';

interface Attachment {
  link: BpfLink;
  fileKey: string;
  /** -1 for a global attach. */
  pid: number;
}

export class UprobeLinks {
  readonly #attachments = new Map<string, Attachment>();

  constructor(
    private readonly handle: BpfObjectHandle,
    private readonly program: string,
    private readonly points: AttachPointStatuses,
    private readonly maxConcurrent: number,
    private readonly log: Logger,
    /** One sentence on the file a key replaced, for the re-attach status. */
    private readonly replacementOf: (fileKey: string) => string | undefined,
  ) {}

  /** Attaches `request` (the cookie is its index) at `offset` of `file`, in `pid` (-1: all). */
  attach(index: number, request: ProbeRequest, file: LibraryFile, offset: number, pid: number): void {
    const key = `${file.key}#${index}#${pid}`;
    if (this.#attachments.has(key)) return;
    const point = linkPoint(file, pid);
    if (this.#attachments.size >= this.maxConcurrent) {
      this.points.report(index, request, point, {
        resolvedPath: file.path,
        state: 'failed',
        reason: 'limit-reached',
        detail: `probes.max_concurrent (${this.maxConcurrent}) reached: ${request.symbol} in ${file.path} not attached`,
      });
      return;
    }
    try {
      const link = this.handle.attachUprobe({
        program: this.program,
        binaryPath: file.hostPath,
        offset,
        pid,
        cookie: BigInt(index),
      });
      this.#attachments.set(key, { link, fileKey: file.key, pid });
      const replaced = this.replacementOf(file.key);
      this.points.report(index, request, point, {
        resolvedPath: file.path,
        probeType: 'uprobe',
        state: 'attached',
        ...(pid >= 0 ? { pid } : {}),
        ...(replaced ? { detail: replaced } : {}),
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      this.points.report(index, request, point, {
        resolvedPath: file.path,
        probeType: 'uprobe',
        state: 'failed',
        reason: code === 'ENOENT' ? 'symbol-missing' : 'attach-error',
        detail: (error as Error).message,
      });
    }
  }

  /** Destroys the links `gone(fileKey, pid)` names. */
  release(gone: (fileKey: string, pid: number) => boolean): void {
    for (const [key, attachment] of this.#attachments) {
      if (!gone(attachment.fileKey, attachment.pid)) continue;
      destroyQuietly(attachment.link, this.log);
      this.#attachments.delete(key);
    }
  }

  links(): BpfLink[] {
    return [...this.#attachments.values()].map((a) => a.link);
  }
}

// SPDX-License-Identifier: Apache-2.0
import type { LibraryFile } from './library-files.js';
import type { PluginContext } from './types/probe-plugin.js';
import type { ProbeFailureReason, ProbeRequest, ProbeState, ProbeStatus } from './types/probe-requests.js';

/** What a session says about one point; the call's identity comes from the request. */
export type PointFields = Omit<ProbeStatus, 'plugin' | 'service' | 'functionId' | 'nodeHash' | 'attachPoint'>;

/** Where a report is about: a library file, one link on it, or the search for the library. */
export interface PointPlace {
  /** The `attachPoint` reported. */
  id: string;
  /** The file's key (`dev:inode:mtime:size`, see LibraryFile), when the point is on a file. */
  fileKey?: string;
  /** Set for links: the target pid, or -1 for a global link. */
  pid?: number;
  /** The file as the process (or the map) names it, for release sentences. */
  path?: string;
  inode?: bigint;
}

interface PointRecord extends PointPlace {
  index: number;
  request: ProbeRequest;
  state: ProbeState;
  reason?: ProbeFailureReason;
}

type FileRef = Pick<LibraryFile, 'key' | 'path' | 'inode'>;

/** A library file's point (its key): its resolve verdict (resolvable, build-id mismatch, stripped, …). */
export const filePoint = (file: FileRef): PointPlace => ({
  id: file.key,
  fileKey: file.key,
  path: file.path,
  inode: file.inode,
});

/** One uprobe link's point: `<file key>@pidN`, or `<file key>@all` for a global link (pid -1). */
export const linkPoint = (file: FileRef, pid: number): PointPlace => ({
  ...filePoint(file),
  id: `${file.key}@${pid >= 0 ? `pid${pid}` : 'all'}`,
  pid,
});

/**
 * The statuses of a session's attach points: each point is reported when its state or reason
 * changes (not on every rescan), and points whose file or process went away are reported
 * `detached` and forgotten. Forgetting is what lets a point that failed, attached, was released and
 * fails again be reported again; a point that is attached is never retried (its link is kept until
 * released), so it cannot fail in between.
 */
export class AttachPointStatuses {
  private readonly points = new Map<string, PointRecord>();

  constructor(
    private readonly ctx: Pick<PluginContext, 'reportStatus'>,
    private readonly plugin: string,
  ) {}

  /** Reports `fields` for `place` of request `index` unless its last report had the same state and reason. */
  report(index: number, request: ProbeRequest, place: PointPlace, fields: PointFields): void {
    const key = `${index}#${place.id}`;
    const last = this.points.get(key);
    if (last && last.state === fields.state && last.reason === fields.reason) return;
    this.points.set(key, { ...place, index, request, state: fields.state, reason: fields.reason });
    this.send(request, place.id, fields);
  }

  /** Reports `detached` (with `detail(point)`) for every known point `gone` selects, and forgets them. */
  release(gone: (point: Readonly<PointRecord>) => boolean, detail: (point: Readonly<PointRecord>) => string): void {
    for (const [key, point] of this.points) {
      if (!gone(point)) continue;
      this.points.delete(key);
      this.send(point.request, point.id, {
        ...(point.path !== undefined ? { resolvedPath: point.path } : {}),
        ...(point.pid !== undefined && point.pid >= 0 ? { pid: point.pid } : {}),
        state: 'detached',
        detail: detail(point),
      });
    }
  }

  private send(request: ProbeRequest, attachPoint: string, fields: PointFields): void {
    this.ctx.reportStatus({
      plugin: this.plugin,
      service: request.service,
      functionId: request.functionId,
      nodeHash: request.nodeHash,
      attachPoint,
      ...fields,
    });
  }
}

/** One sentence on why a point went away: its process left, or no target maps its file any more. */
export function releaseDetail(point: PointPlace, fileMapped: boolean): string {
  const file = `${point.path ?? '?'} (inode ${point.inode ?? '?'})`;
  return !fileMapped || point.pid === undefined || point.pid < 0
    ? `released: no target maps ${file} any more`
    : `released: process ${point.pid} left the targets (${file})`;
}

// SPDX-License-Identifier: Apache-2.0
/**
 * The attachment set of a uprobe session: each (request, library file, pid) attached once, bounded
 * by `probes.max_concurrent`, each reported on its attach point with where the probe sits and why.
 *
 * Where the kernel has uprobe_multi (Linux >= 6.6), one link per (library file, pid scope) carries
 * every symbol a pass attaches there, each with its request index as cookie: one registration and,
 * on release, one RCU-tasks-trace grace period instead of one per probe (~50 ms each, serialised
 * kernel-wide). Elsewhere, one perf-event uprobe per probe. Links are made and released on the
 * addon's worker threads, never on the event loop.
 */
import { type AttachPointStatuses, linkPoint } from './attach-points.js';
import type { LibraryFile } from './library-files.js';
import { destroyLink } from './session-common.js';
import type { BpfLink, BpfObjectHandle } from './types/bpf-api.js';
import type { Logger } from './types/logger.js';
import type { ProbeRequest } from './types/probe-requests.js';

/** One probe a pass wants: `offset` is where it attaches, `placement` why there. */
export interface WantedProbe {
  index: number;
  request: ProbeRequest;
  file: LibraryFile;
  offset: number;
  /** -1 for every process mapping the file. */
  pid: number;
  placement: string;
}

interface Group {
  link: BpfLink;
  fileKey: string;
  pid: number;
  /** Probe keys the link carries. */
  keys: string[];
}

export class UprobeLinks {
  /** Probe key → the group (link) carrying it. */
  readonly #byProbe = new Map<string, Group>();
  readonly #groups = new Set<Group>();

  constructor(
    private readonly handle: BpfObjectHandle,
    private readonly program: string,
    private readonly multi: boolean,
    private readonly points: AttachPointStatuses,
    private readonly maxConcurrent: number,
    private readonly log: Logger,
    /** One sentence on the file a key replaced, for the re-attach status. */
    private readonly replacementOf: (fileKey: string) => string | undefined,
  ) {}

  /** Attaches the probes not attached yet; resolves when every link is made or has failed. */
  async attach(wanted: readonly WantedProbe[]): Promise<void> {
    const fresh: WantedProbe[] = [];
    const seen = new Set<string>();
    for (const probe of wanted) {
      const key = probeKey(probe);
      if (this.#byProbe.has(key) || seen.has(key)) continue;
      seen.add(key);
      if (this.#byProbe.size + fresh.length >= this.maxConcurrent) {
        this.points.report(probe.index, probe.request, linkPoint(probe.file, probe.pid), {
          resolvedPath: probe.file.path,
          state: 'failed',
          reason: 'limit-reached',
          detail: `probes.max_concurrent (${this.maxConcurrent}) reached: ${probe.request.symbol} in ${probe.file.path} not attached`,
        });
        continue;
      }
      fresh.push(probe);
    }
    const groups = new Map<string, WantedProbe[]>();
    for (const probe of fresh) {
      const id = this.multi ? `${probe.file.key}@${probe.pid}` : probeKey(probe);
      groups.set(id, [...(groups.get(id) ?? []), probe]);
    }
    await Promise.all([...groups.values()].map((probes) => this.#attachGroup(probes)));
  }

  async #attachGroup(probes: WantedProbe[]): Promise<void> {
    const { file, pid } = probes[0]!;
    let link: BpfLink;
    try {
      link = this.multi
        ? await this.handle.attachUprobeMulti({
            program: this.program,
            binaryPath: file.hostPath,
            offsets: probes.map((p) => p.offset),
            cookies: probes.map((p) => BigInt(p.index)),
            pid,
          })
        : await this.handle.attachUprobeAsync({
            program: this.program,
            binaryPath: file.hostPath,
            offset: probes[0]!.offset,
            pid,
            cookie: BigInt(probes[0]!.index),
          });
    } catch (error) {
      const code = (error as { code?: string }).code;
      for (const probe of probes)
        this.points.report(probe.index, probe.request, linkPoint(file, pid), {
          resolvedPath: file.path,
          probeType: 'uprobe',
          state: 'failed',
          reason: code === 'ENOENT' ? 'symbol-missing' : 'attach-error',
          detail: (error as Error).message,
        });
      return;
    }
    const group: Group = { link, fileKey: file.key, pid, keys: probes.map(probeKey) };
    this.#groups.add(group);
    const replaced = this.replacementOf(file.key);
    for (const probe of probes) {
      this.#byProbe.set(probeKey(probe), group);
      this.points.report(probe.index, probe.request, linkPoint(file, pid), {
        resolvedPath: file.path,
        probeType: 'uprobe',
        state: 'attached',
        ...(pid >= 0 ? { pid } : {}),
        detail: [`${this.multi ? 'uprobe_multi' : 'perf-event uprobe'} at ${probe.placement}`, replaced]
          .filter(Boolean)
          .join('; '),
      });
    }
  }

  /** Releases, in parallel and off the event loop, the links `gone(fileKey, pid)` names. */
  async release(gone: (fileKey: string, pid: number) => boolean): Promise<void> {
    const going = [...this.#groups].filter((g) => gone(g.fileKey, g.pid));
    for (const group of going) {
      this.#groups.delete(group);
      for (const key of group.keys) this.#byProbe.delete(key);
    }
    await Promise.all(going.map((g) => destroyLink(g.link, this.log)));
  }

  /** Every link, for the session's stop. */
  links(): BpfLink[] {
    return [...this.#groups].map((g) => g.link);
  }
}

const probeKey = (p: { file: LibraryFile; index: number; pid: number }) => `${p.file.key}#${p.index}#${p.pid}`;

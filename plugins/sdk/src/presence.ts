// SPDX-License-Identifier: Apache-2.0
/**
 * Presence mode, user side: each probe in presence mode has its own pid-scoped uprobe_multi link
 * per (library file, process). The kernel reports the probe's first hit in the window at once
 * (presence.bpf.h); that releases its link, which takes the breakpoint out of that process within
 * milliseconds, other processes and other tools untouched (docs/KERNEL.md "Disarming a uprobe").
 * When the window rolls over every disarmed probe is attached again, so a hot function costs a
 * handful of traps per window instead of one per call.
 *
 * One link per probe rather than one per (file, process) carrying every unseen probe: a disarm is
 * then a single release, with no replacement link to make (7–40 ms) before the old one may go,
 * during which the seen function would keep trapping. The price is one attach per disarmed probe
 * at the roll-over, made on worker threads; releases made together share one grace period.
 *
 * Bounded work: at most one release and one attach per (probe, process) and window. Nothing here
 * waits on the kernel on the event loop; the window's number is one 8-byte map write.
 */
import { PresenceNames } from './abi.js';
import type { LibraryFile } from './library-files.js';
import type { BpfLink, BpfObjectHandle } from './types/bpf-api.js';
import type { Logger } from './types/logger.js';

export interface PresenceProbeOutcome {
  index: number;
  fileKey: string;
  pid: number;
  /** Undefined when the link was made. */
  error?: Error;
}

export interface PresenceControllerOptions {
  handle: BpfObjectHandle;
  /** A uprobe.multi program (`stella_uprobe_presence`). */
  program: string;
  /** Milliseconds between roll-overs. */
  windowMs: number;
  log: Logger;
  /** Each first attach of a probe, made or failed (re-arms are not reported: their point stays attached). */
  onArmed?(outcome: PresenceProbeOutcome): void;
}

export interface PresenceStats {
  /** Probes (request, file, process) under control. */
  probes: number;
  /** Of those, trapping now. */
  armed: number;
  /** Links released after a first hit, since start. */
  disarms: number;
  /** Links made again at a roll-over, since start. */
  rearms: number;
  /** Roll-overs since start. */
  windows: number;
}

interface Probe {
  index: number;
  fileKey: string;
  hostPath: string;
  offset: number;
  pid: number;
  link?: BpfLink;
  attaching?: Promise<void>;
  /** Seen in this window: released (or to be released as soon as its attach finishes). */
  seen: boolean;
  /** False once the process left or the file went: nothing may attach it again. */
  wanted: boolean;
  everArmed: boolean;
}

export class PresenceController {
  readonly #probes = new Map<string, Probe>();
  /** `${pid}#${index}` -> its probes (one per library file the process maps that carries the symbol). */
  readonly #byHit = new Map<string, Set<Probe>>();
  readonly #releases = new Set<Promise<void>>();
  readonly #timer: NodeJS.Timeout;
  #window = 0;
  /** CLOCK_MONOTONIC, as bpf_ktime_get_ns(): hits stamped before it belong to the previous window. */
  #windowStartNs = Number(process.hrtime.bigint());
  #disarms = 0;
  #rearms = 0;
  #stopped = false;

  constructor(private readonly options: PresenceControllerOptions) {
    this.#timer = setInterval(() => this.rollOver(), options.windowMs);
    this.#timer.unref();
  }

  /**
   * Puts request `index` at `offset` of `file` under presence control in `pid`. Idempotent.
   * Resolves once its link is made (or failed, reported through `onArmed`); never rejects.
   */
  arm(index: number, file: Pick<LibraryFile, 'key' | 'hostPath'>, offset: number, pid: number): Promise<void> {
    const key = `${file.key}#${index}#${pid}`;
    if (this.#stopped) return Promise.resolve();
    const known = this.#probes.get(key);
    if (known) return known.attaching ?? Promise.resolve();
    const probe: Probe = {
      index,
      fileKey: file.key,
      hostPath: file.hostPath,
      offset,
      pid,
      seen: false,
      wanted: true,
      everArmed: false,
    };
    this.#probes.set(key, probe);
    const hitKey = `${pid}#${index}`;
    const group = this.#byHit.get(hitKey) ?? new Set<Probe>();
    this.#byHit.set(hitKey, group);
    group.add(probe);
    this.#attach(probe);
    return probe.attaching ?? Promise.resolve();
  }

  /**
   * A first-hit record of request `index` in `pid`, stamped `tsNs` (kernel monotonic ns): release
   * its links there. A record from before the current window is late news; acting on it would
   * disarm a probe the new window has not seen yet.
   */
  firstHit(index: number, pid: number, tsNs: number): void {
    if (tsNs < this.#windowStartNs) return;
    const group = this.#byHit.get(`${pid}#${index}`);
    if (!group) return;
    for (const probe of group) {
      if (probe.seen) continue;
      probe.seen = true;
      if (probe.link) this.#disarm(probe);
    }
  }

  /** Starts the next window: every probe seen in this one traps again. */
  rollOver(): void {
    if (this.#stopped) return;
    this.#window++;
    this.#windowStartNs = Number(process.hrtime.bigint());
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(BigInt(this.#window));
    try {
      this.options.handle.mapUpdate(PresenceNames.window, new Uint8Array(4), value);
    } catch (error) {
      this.options.log.warn('presence window not advanced: seen probes stay disarmed', {
        error: (error as Error).message,
      });
      return;
    }
    for (const probe of this.#probes.values()) {
      if (!probe.seen) continue;
      probe.seen = false;
      if (!probe.link && !probe.attaching) {
        this.#rearms++;
        this.#attach(probe);
      }
    }
  }

  /** Stops controlling the probes `gone(fileKey, pid)` names and releases their links. */
  release(gone: (fileKey: string, pid: number) => boolean): void {
    for (const [key, probe] of this.#probes) {
      if (!gone(probe.fileKey, probe.pid)) continue;
      probe.wanted = false;
      this.#probes.delete(key);
      const hitKey = `${probe.pid}#${probe.index}`;
      const group = this.#byHit.get(hitKey);
      group?.delete(probe);
      if (group?.size === 0) this.#byHit.delete(hitKey);
      if (probe.link) this.#releaseLink(probe.link);
      probe.link = undefined;
    }
  }

  stats(): PresenceStats {
    let armed = 0;
    for (const probe of this.#probes.values()) if (probe.link) armed++;
    return { probes: this.#probes.size, armed, disarms: this.#disarms, rearms: this.#rearms, windows: this.#window };
  }

  /** Releases every link (together: one grace period) once pending attaches have settled. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    await Promise.all([...this.#probes.values()].map((p) => p.attaching));
    this.release(() => true);
    await Promise.all(this.#releases);
  }

  #attach(probe: Probe): void {
    const { handle, program, log, onArmed } = this.options;
    probe.attaching = handle
      .attachUprobeMulti({
        program,
        binaryPath: probe.hostPath,
        offsets: [probe.offset],
        cookies: [BigInt(probe.index)],
        pid: probe.pid,
      })
      .then(
        (link) => {
          probe.attaching = undefined;
          if (!probe.wanted || this.#stopped) {
            this.#releaseLink(link);
            return;
          }
          probe.link = link;
          if (!probe.everArmed) {
            probe.everArmed = true;
            onArmed?.({ index: probe.index, fileKey: probe.fileKey, pid: probe.pid });
          }
          if (probe.seen) this.#disarm(probe);
        },
        (error: Error) => {
          probe.attaching = undefined;
          if (probe.everArmed) {
            // ESRCH: the process left between the roll-over and the re-arm; nothing is missed.
            if ((error as { code?: string }).code === 'ESRCH') return;
            log.warn('presence probe not re-armed: it stays silent until the next window', {
              path: probe.hostPath,
              pid: probe.pid,
              error: error.message,
            });
          } else onArmed?.({ index: probe.index, fileKey: probe.fileKey, pid: probe.pid, error });
        },
      );
  }

  #disarm(probe: Probe): void {
    const link = probe.link!;
    probe.link = undefined;
    this.#disarms++;
    this.#releaseLink(link);
  }

  #releaseLink(link: BpfLink): void {
    const done = link
      .destroyAsync()
      .catch((error: Error) => this.options.log.warn('detach failed', { link: link.description, error: error.message }))
      .finally(() => this.#releases.delete(done));
    this.#releases.add(done);
  }
}

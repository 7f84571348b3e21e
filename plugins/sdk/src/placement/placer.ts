// SPDX-License-Identifier: Apache-2.0
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
// Type only: the decoder (iced-x86, ~26 MB of RSS once loaded) must stay out of the agent's main
// thread, which only ever talks to the worker; the in-process fallback imports it when first used.
import type { FilePlacementCache } from './file-placement.js';
import type { PlacementRequest, PlacementResponse } from './protocol.js';
import type { PlacementOptions, PlacementTarget, UprobePlacement } from './types.js';

/**
 * The compiled worker beside this module; when running from TypeScript sources (tests) the
 * package's compiled copy, which the test set-up builds.
 */
const WORKER_CANDIDATES = [
  new URL('./placement-worker.js', import.meta.url),
  new URL('../../dist/placement/placement-worker.js', import.meta.url),
];

export interface UprobePlacerOptions extends PlacementOptions {
  /**
   * Decode on the calling thread instead of a worker thread. Blocks the event loop for the
   * first placement in each file (~100–150 ms for libcrypto here): for tools and tests, not the
   * agent. Default false; also the fallback when no compiled worker is found.
   */
  inProcess?: boolean;
  /**
   * Stop the worker after this long without a request, releasing its scans (node's executable
   * holds ~100 MB while decoded); the next request starts a new one and scans again. Default 30 s.
   */
  idleMs?: number;
  /** Called after an idle worker has been stopped (e.g. to hand its freed memory back). */
  onWorkerStopped?: () => void;
}

const DEFAULT_IDLE_MS = 30_000;

/**
 * Chooses entry-uprobe placements off the event loop. One worker thread, started on first use,
 * holds each file's scan (cached per inode and content) and answers requests in order; it does
 * not keep the process alive while idle. `close()` stops it.
 */
export class UprobePlacer {
  private worker: Worker | undefined;
  private local: Promise<FilePlacementCache> | undefined;
  private readonly pending = new Map<number, { resolve: (p: PlacementResponse) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private readonly workerUrl: URL | undefined;
  private readonly idleMs: number;
  private readonly policy: PlacementOptions;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly onWorkerStopped: (() => void) | undefined;

  constructor(options: UprobePlacerOptions = {}) {
    this.workerUrl = options.inProcess ? undefined : WORKER_CANDIDATES.find((url) => existsSync(fileURLToPath(url)));
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.onWorkerStopped = options.onWorkerStopped;
    this.policy = { allowFaultingAccess: options.allowFaultingAccess ?? false };
  }

  /** Whether placements are decoded on a worker thread (false: in-process fallback). */
  get usesWorker(): boolean {
    return this.workerUrl !== undefined;
  }

  /** Whether a worker thread is running now (it stops after `idleMs` without requests). */
  get workerRunning(): boolean {
    return this.worker !== undefined;
  }

  /**
   * One placement per target, in order; undefined for a symbol `path` does not define.
   * Rejects with an Error naming the file when it cannot be read as ELF64.
   */
  async place(path: string, targets: readonly PlacementTarget[]): Promise<(UprobePlacement | undefined)[]> {
    if (!this.workerUrl) {
      this.local ??= import('./file-placement.js').then((module) => module.createFilePlacementCache());
      return (await this.local).place(path, targets, this.policy);
    }
    const response = await this.request({ id: this.nextId++, path, targets: [...targets], options: this.policy });
    if (response.error !== undefined) throw new Error(response.error);
    return response.placements;
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    this.local = undefined;
    if (worker) await worker.terminate();
  }

  private request(message: PlacementRequest): Promise<PlacementResponse> {
    const worker = this.startedWorker();
    clearTimeout(this.idleTimer);
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      worker.ref();
      worker.postMessage(message);
    });
  }

  private startedWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.workerUrl!);
    const failAll = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('message', (response: PlacementResponse) => {
      const waiter = this.pending.get(response.id);
      this.pending.delete(response.id);
      if (this.pending.size === 0) {
        worker.unref();
        this.idleTimer = setTimeout(() => {
          if (this.worker === worker && this.pending.size === 0) {
            this.worker = undefined;
            void worker.terminate().then(() => this.onWorkerStopped?.());
          }
        }, this.idleMs).unref();
      }
      waiter?.resolve(response);
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`the uprobe placement worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

let shared: UprobePlacer | undefined;

/**
 * Where to attach the entry uprobe of one function of `path` (x86-64: the first instruction the
 * kernel emulates when provably equivalent, else the entry, with the reason). Undefined when the
 * symbol is not defined in the file. Uses one shared worker thread for the process.
 */
export async function choosePlacement(path: string, target: PlacementTarget): Promise<UprobePlacement | undefined> {
  shared ??= new UprobePlacer();
  const [placement] = await shared.place(path, [target]);
  return placement;
}

/** `choosePlacement` for many functions of one file in one round trip. */
export function choosePlacements(
  path: string,
  targets: readonly PlacementTarget[],
): Promise<(UprobePlacement | undefined)[]> {
  shared ??= new UprobePlacer();
  return shared.place(path, targets);
}

// SPDX-License-Identifier: Apache-2.0
import type { Logger, Observation } from '@stella/sdk';

/**
 * Bytes one queued observation holds on the V8 heap. The per-call strings (function, symbol,
 * binaryPath, purl, nodeHash) are shared references to the probe request's strings, so a record
 * costs its object (17 slots) plus its own `observedAt`/`comm` strings: measured at 203-242 bytes
 * (bench/pipeline-memory.mjs, docs/BENCHMARKS.md); 256 keeps the 64 MiB default an upper bound.
 */
export const OBSERVATION_HEAP_BYTES = 256;

/** Where flushed batches go, in order: the window index, NDJSON, the store, telemetry. */
export interface ObservationSink {
  readonly name: string;
  /** Receives each flushed batch once; may be async (the pipeline awaits it before the next). */
  write(batch: Observation[]): void | Promise<void>;
  flush?(): Promise<void>;
  close?(): Promise<void>;
}

export interface PipelineEvents {
  /** Observations refused because the buffer was full. */
  dropped(reason: 'buffer_full', count: number): void;
  bufferFull(full: boolean): void;
  accepted(batch: Observation[]): void;
}

export interface PipelineOptions {
  maxBytes: number;
  flushIntervalMs: number;
  logger: Logger;
  events: PipelineEvents;
  /**
   * Observation bytes held downstream that count against the same budget (the store writer's
   * queue while the store is down), so the whole agent, not each part, stays under `maxBytes`.
   */
  downstreamBytes?: () => number;
  /** Queue size that starts a flush before the timer does. Default an eighth of `maxBytes`. */
  earlyFlushBytes?: number;
}

/**
 * The one-directional path from probes to sinks: probes `emit` into a bounded queue (never
 * blocking, never growing past `maxBytes`); every `flushIntervalMs` the queue is handed, whole,
 * to each sink in turn. A full queue refuses new records, counts them, and raises
 * `observation_buffer_full` until a flush interval passes without a refusal.
 */
export class ObservationPipeline {
  private queue: Observation[] = [];
  private queuedBytes = 0;
  private droppedSinceFlush = 0;
  private full = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  /** A flush started early because the queue passed a share of the budget, not by the timer. */
  private earlyFlush: Promise<void> | undefined;

  constructor(
    private readonly sinks: ObservationSink[],
    private readonly options: PipelineOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** Called by probes (through the plugin context). Never throws, never blocks. */
  emit(batch: Observation[]): void {
    if (this.closed || batch.length === 0) return;
    const budget = this.options.maxBytes - (this.options.downstreamBytes?.() ?? 0);
    const room = Math.floor(budget / OBSERVATION_HEAP_BYTES) - this.queue.length;
    const accepted = room >= batch.length ? batch : batch.slice(0, Math.max(0, room));
    for (const observation of accepted) this.queue.push(observation);
    this.queuedBytes += accepted.length * OBSERVATION_HEAP_BYTES;
    if (accepted.length > 0) this.options.events.accepted(accepted);
    // At high rates, waiting for the timer lets one interval's records pile up to the whole
    // budget (and their JSON and store copies on top): hand them on once an eighth is queued.
    if (this.queuedBytes >= (this.options.earlyFlushBytes ?? this.options.maxBytes / 8) && !this.earlyFlush) {
      this.earlyFlush = this.flush().finally(() => {
        this.earlyFlush = undefined;
      });
    }
    const refused = batch.length - accepted.length;
    if (refused > 0) {
      this.droppedSinceFlush += refused;
      this.options.events.dropped('buffer_full', refused);
      if (!this.full) {
        this.full = true;
        this.options.events.bufferFull(true);
        this.options.logger.warn('observation buffer full: dropping observations until the next flush', {
          maxBytes: this.options.maxBytes,
        });
      }
    }
  }

  get bytesQueued(): number {
    return this.queuedBytes;
  }

  /** Hands everything queued so far to every sink; concurrent calls are serialised. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    const hadDrops = this.droppedSinceFlush > 0;
    this.droppedSinceFlush = 0;
    for (const sink of this.sinks) {
      try {
        if (batch.length > 0) await sink.write(batch);
        await sink.flush?.();
      } catch (error) {
        // A sink that fails owns its retry policy (the store writer queues and counts); the
        // pipeline only makes sure one sink cannot starve the others.
        this.options.logger.error(`sink ${sink.name} failed`, { error: (error as Error).message });
      }
    }
    if (this.full && !hadDrops) {
      this.full = false;
      this.options.events.bufferFull(false);
    }
  }

  /** Final flush, then close every sink. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.flushing;
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    for (const sink of this.sinks) {
      try {
        await sink.close?.();
      } catch (error) {
        this.options.logger.error(`closing sink ${sink.name} failed`, { error: (error as Error).message });
      }
    }
  }
}

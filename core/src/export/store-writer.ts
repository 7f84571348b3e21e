// SPDX-License-Identifier: Apache-2.0
import type { Logger, Observation, ObservationStore } from '@stella/sdk';
import { approxObservationBytes, isStoreUnavailableError } from '@stella/stores';

export interface StoreWriterOptions {
  store: ObservationStore;
  /** Observations per `append` (config `observation_store.max_batch_size`). */
  maxBatchSize: number;
  logger: Logger;
  /** Bound on what is held while the store is down; beyond it the oldest are dropped as `store_error`. Default 16 MiB. */
  maxPendingBytes?: number;
  /** A partial batch waits at most this long before it is sent (ms). Default 1000. */
  lingerMs?: number;
  /** Backoff while the store is unavailable: first delay, cap (ms). Defaults 200 and 30000. */
  retryInitialDelayMs?: number;
  retryMaxDelayMs?: number;
  /** A batch the store rejects for a reason other than being down is retried this often, then dropped. Default 3. */
  maxAttemptsOnRejection?: number;
  /** Called for every observation that must be given up (metric `observations_dropped{reason}`). */
  onDrop?: (reason: 'store_error', count: number) => void;
}

export interface StoreWriterStats {
  pending: number;
  pendingBytes: number;
  written: number;
  dropped: { store_error: number };
  retries: number;
  /** False from the first failed append until one succeeds again. */
  storeAvailable: boolean;
  lastError?: string;
}

interface Chunk {
  items: Observation[];
  bytes: number;
  /** Appends the store refused for a reason other than being unavailable. */
  rejections: number;
}

/**
 * Puts the store behind a bounded queue so observing never waits for it: batches of
 * `maxBatchSize`, one append in flight, retries with capped exponential backoff with full jitter
 * (delay = random(0, min(cap, initial·2^n)), the AWS architecture blog's variant, which spreads
 * the agents of a fleet apart when the database comes back). A small loop rather than a retry
 * library, because the queue must keep accepting and bounding work while one append is retried.
 * A chunk being retried is passed again as the same array, which stores use to make the retry
 * idempotent.
 */
export class StoreWriter {
  /** Not yet attempted, oldest first; `head` avoids O(n) shifts. */
  private queue: Observation[] = [];
  private sizes: number[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** The batch being appended (and retried, as the same array). */
  private inflight?: Chunk;
  private readonly counters = { written: 0, dropped: 0, retries: 0 };
  private storeAvailable = true;
  private lastError?: string;
  private running?: Promise<void>;
  private wake?: () => void;
  private hurry = false;
  private closing = false;
  private failures = 0;
  private readonly o: Required<Omit<StoreWriterOptions, 'onDrop' | 'store' | 'logger'>>;

  constructor(private readonly options: StoreWriterOptions) {
    this.o = {
      maxBatchSize: Math.max(1, options.maxBatchSize),
      maxPendingBytes: options.maxPendingBytes ?? 16 * 1024 * 1024,
      lingerMs: options.lingerMs ?? 1000,
      retryInitialDelayMs: options.retryInitialDelayMs ?? 200,
      retryMaxDelayMs: options.retryMaxDelayMs ?? 30_000,
      maxAttemptsOnRejection: options.maxAttemptsOnRejection ?? 3,
    };
  }

  /** Queues observations; never blocks. Over the bound the oldest queued ones are dropped and counted. */
  write(batch: Observation[]): void {
    if (this.closing) throw new Error('StoreWriter: write after close');
    for (const o of batch) {
      const bytes = approxObservationBytes(o);
      this.queue.push(o);
      this.sizes.push(bytes);
      this.queuedBytes += bytes;
    }
    this.enforceBound();
    this.kick();
  }

  /** Heap held by queued and in-flight observations, for the agent's 64 MB buffer accounting. */
  approxBytes(): number {
    return this.queuedBytes + (this.inflight?.bytes ?? 0);
  }

  stats(): StoreWriterStats {
    return {
      pending: this.queue.length - this.head + (this.inflight?.items.length ?? 0),
      pendingBytes: this.approxBytes(),
      written: this.counters.written,
      dropped: { store_error: this.counters.dropped },
      retries: this.counters.retries,
      storeAvailable: this.storeAvailable,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Resolves once everything queued so far is in the store (waits through outages). */
  async flush(): Promise<void> {
    while (this.stats().pending > 0) {
      this.hurry = true;
      this.kick();
      this.wake?.();
      await this.running;
    }
    this.hurry = false;
  }

  /**
   * Sends what is queued, waiting at most `timeoutMs` (SIGTERM path); what is still queued then is
   * dropped and counted as `store_error`. Does not close the store.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.flush().then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      const left = this.stats().pending;
      this.queue = [];
      this.sizes = [];
      this.head = 0;
      this.queuedBytes = 0;
      this.inflight = undefined;
      this.drop(left, 'store unavailable at shutdown');
      this.wake?.();
    }
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.stats().pending > 0 && !this.closing) this.kick();
    });
  }

  private take(): Chunk | undefined {
    const n = Math.min(this.o.maxBatchSize, this.queue.length - this.head);
    if (n <= 0) return undefined;
    const items = this.queue.slice(this.head, this.head + n);
    const bytes = this.sizes.slice(this.head, this.head + n).reduce((a, b) => a + b, 0);
    this.head += n;
    this.queuedBytes -= bytes;
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    return { items, bytes, rejections: 0 };
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (!this.inflight) {
        const queued = this.queue.length - this.head;
        if (queued === 0) return;
        if (queued < this.o.maxBatchSize && !this.hurry && !this.closing) {
          await this.sleep(this.o.lingerMs); // let a partial batch fill up
        }
        this.inflight = this.take();
        if (!this.inflight) return;
      }
      const chunk = this.inflight;
      try {
        await this.options.store.append(chunk.items);
        if (this.inflight === chunk) this.inflight = undefined;
        this.counters.written += chunk.items.length;
        // The store's acknowledgement (a committed transaction, a Valkey reply): docs/OPERATIONS.md
        // "What survives a crash" promises these survive the agent.
        this.options.logger.debug('store: acknowledged', {
          observations: chunk.items.length,
          hits: chunk.items.reduce((n, o) => n + o.hitCount, 0),
          written: this.counters.written,
        });
        if (!this.storeAvailable) this.options.logger.info('store available again', { store: this.options.store.name });
        this.storeAvailable = true;
        this.failures = 0;
      } catch (error) {
        this.lastError = error instanceof Error ? error.message : String(error);
        if (this.inflight !== chunk) continue; // given up by close() meanwhile
        // Only rejections count towards giving up: a chunk held through a long outage is not a
        // step closer to being dropped for it.
        if (!isStoreUnavailableError(error) && ++chunk.rejections >= this.o.maxAttemptsOnRejection) {
          this.inflight = undefined;
          this.drop(chunk.items.length, `store rejected the batch: ${this.lastError}`);
          continue;
        }
        if (this.storeAvailable) {
          this.options.logger.warn('store unavailable; holding observations and retrying', {
            store: this.options.store.name,
            error: this.lastError,
          });
        }
        this.storeAvailable = false;
        this.counters.retries++;
        const cap = Math.min(this.o.retryMaxDelayMs, this.o.retryInitialDelayMs * 2 ** Math.min(this.failures++, 20));
        await this.sleep(Math.random() * cap);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private enforceBound(): void {
    // While the store takes batches, the backlog is at most what the pipeline handed over in one
    // flush, and the agent's buffer budget already counts it; the bound is for outages.
    if (this.storeAvailable) return;
    let dropped = 0;
    // The oldest queued observations go first; the in-flight batch is left to finish.
    while (this.approxBytes() > this.o.maxPendingBytes && this.head < this.queue.length) {
      this.queuedBytes -= this.sizes[this.head]!;
      this.head++;
      dropped++;
    }
    if (dropped > 0) this.drop(dropped, 'pending bound reached while the store is unavailable');
  }

  private drop(count: number, why: string): void {
    if (count <= 0) return;
    this.counters.dropped += count;
    this.options.onDrop?.('store_error', count);
    this.options.logger.warn('observations dropped', {
      reason: 'store_error',
      count,
      why,
      store: this.options.store.name,
    });
  }
}

// SPDX-License-Identifier: Apache-2.0
/** The handles an attach or a ring-buffer consumer returns: releasing them, blocking or not. */
import type { BpfLink, RingBufferConsumer } from '@stella/sdk';
import { rethrowNative } from './errors.js';
import type { NativeConsumer, NativeLink } from './native.js';

export class LibbpfLink implements BpfLink {
  #native: NativeLink | undefined;
  readonly description: string;

  constructor(native: NativeLink, description: string, onDestroy: (link: LibbpfLink) => void) {
    this.#native = native;
    this.description = description;
    this.#onDestroy = onDestroy;
  }
  #onDestroy: (link: LibbpfLink) => void;

  #destroying: Promise<void> | undefined;

  get destroyed(): boolean {
    return this.#native === undefined;
  }

  /**
   * Detaches on the calling thread; idempotent. Blocking: a uprobe or tracepoint release waits for
   * an RCU-tasks-trace grace period, 50-130 ms on 6.18 (docs/KERNEL.md). Prefer `destroyAsync()`.
   */
  destroy(): void {
    const native = this.#native;
    if (!native) return;
    this.#native = undefined;
    this.#onDestroy(this);
    try {
      native.destroy();
    } catch (error) {
      rethrowNative(error);
    }
  }

  /** Detaches on a worker thread; every call returns the same promise. */
  destroyAsync(): Promise<void> {
    if (this.#destroying) return this.#destroying;
    const native = this.#native;
    if (!native) return Promise.resolve();
    this.#native = undefined;
    this.#onDestroy(this);
    this.#destroying = native.destroyAsync().catch(rethrowNative);
    return this.#destroying;
  }
}

export class LibbpfRingBufferConsumer implements RingBufferConsumer {
  #stopping: Promise<void> | undefined;
  constructor(
    private readonly native: NativeConsumer,
    private readonly onStopped: (consumer: LibbpfRingBufferConsumer) => void,
  ) {}

  stop(): Promise<void> {
    this.#stopping ??= this.native.stop().finally(() => this.onStopped(this));
    return this.#stopping;
  }
}

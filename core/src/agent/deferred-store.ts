// SPDX-License-Identifier: Apache-2.0
import type { FunctionSummary, Logger, Observation, ObservationQuery, ObservationStore } from '@stella/sdk';
import { isStoreUnavailableError, StoreUnavailableError } from '@stella/sdk';

/**
 * A store whose server was down when the agent started. The agent must not refuse to observe
 * because PostgreSQL or Valkey is restarting: this stands in, answers every call with
 * StoreUnavailableError (which the StoreWriter holds and retries with backoff) and connects on
 * the first call after the server is back; from then on it is the real store.
 */
export class DeferredStore implements ObservationStore {
  private store: ObservationStore | undefined;
  private connecting: Promise<ObservationStore> | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly connect: () => Promise<ObservationStore>,
    private readonly logger: Logger,
  ) {}

  /** Opens the store now if it can; otherwise returns a DeferredStore that keeps trying. */
  static async open(name: string, connect: () => Promise<ObservationStore>, logger: Logger): Promise<ObservationStore> {
    try {
      return await connect();
    } catch (error) {
      if (!isStoreUnavailableError(error)) throw error;
      logger.warn(
        'observation store unreachable at start: observing and exporting anyway, connecting when it returns',
        {
          store: name,
          error: (error as Error).message,
        },
      );
      return new DeferredStore(name, connect, logger);
    }
  }

  private async ready(): Promise<ObservationStore> {
    if (this.store) return this.store;
    if (this.closed) throw new StoreUnavailableError(this.name, `${this.name} store is closed`);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    this.store = await this.connecting;
    this.logger.info('observation store connected', { store: this.name });
    return this.store;
  }

  async append(batch: Observation[]): Promise<void> {
    await (await this.ready()).append(batch);
  }

  async *query(q: ObservationQuery): AsyncIterable<Observation> {
    yield* (await this.ready()).query(q);
  }

  async summary(q: ObservationQuery): Promise<FunctionSummary[]> {
    return (await this.ready()).summary(q);
  }

  async prune(cutoff: Date): Promise<number> {
    return (await this.ready()).prune(cutoff);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.store?.close();
  }
}

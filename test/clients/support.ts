// Support for the client tests: a real gateway (HTTP + ws + change feed) on a fresh test database,
// restartable on the same port, raw-SQL writes on a separate connection, and a collector that lets
// a test wait for an Observable's values.
import type { Observable, Subscription } from 'rxjs';
import type { Dialect } from '../../src/config.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

export { pubkey, signature } from '../support/keys.ts';

export { startGateway, Writer, type Gateway, type GatewayOptions } from '../support/gateway.ts';

export { createTestDatabase, type TestDatabase, type Dialect };

/** Records an Observable's values, error and completion; tests wait for what they expect. */
export class Collector<V> {
  readonly values: V[] = [];
  error: unknown = undefined;
  completed = false;
  private readonly subscription: Subscription;
  private waiters: (() => void)[] = [];

  constructor(source: Observable<V>) {
    this.subscription = source.subscribe({
      next: (value) => {
        this.values.push(value);
        this.wake();
      },
      error: (error: unknown) => {
        this.error = error;
        this.wake();
      },
      complete: () => {
        this.completed = true;
        this.wake();
      },
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Waits until `predicate` holds over what was collected (or the source ended). */
  async until(predicate: (values: readonly V[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.values)) {
      if (this.error !== undefined) throw new Error(`source failed while waiting for ${what}: ${String(this.error)}`);
      if (this.completed) throw new Error(`source completed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.values.length} values`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the source to fail and returns the error. */
  async failure(timeoutMs = 20_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    while (this.error === undefined) {
      if (this.completed) throw new Error('source completed instead of failing');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for an error');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.error;
  }

  unsubscribe(): void {
    this.subscription.unsubscribe();
  }
}

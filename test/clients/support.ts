// Support for the client tests: a real gateway (HTTP + ws + change feed) on a fresh test database,
// restartable on the same port, raw-SQL writes on a separate connection, and a collector that lets
// a test wait for an Observable's values.
import type { Observable, Subscription } from 'rxjs';
import { openChangeFeed } from '../../src/capture/index.ts';
import type { ChangeFeed } from '../../src/capture/types.ts';
import { loadConfig, type Config, type Dialect } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { silentLogger } from '../../src/log.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

export { pubkey, signature } from '../support/keys.ts';
import { pubkey, signature } from '../support/keys.ts';

export interface Gateway {
  readonly server: RunningServer;
  readonly feed: ChangeFeed;
  readonly db: Database;
  readonly config: Config;
  /** ws://host:port/ws */
  readonly wsUrl: string;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** Listen on this port (to restart a gateway where clients expect it); 0 picks a free one. */
  readonly port?: number;
  readonly env?: Record<string, string>;
  readonly staticDir?: string;
}

/** Everything a `solstream serve` process would start, in-process, on an existing database. */
export async function startGateway(database: TestDatabase, options: GatewayOptions = {}): Promise<Gateway> {
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: String(options.port ?? 0),
    LOG_LEVEL: 'silent',
    SOLSTREAM_SQLITE_POLL_MS: '10',
    ...options.env,
  });
  const db = await openDatabase({
    databaseUrl: database.url,
    dialect: database.dialect,
    sqlitePath: database.sqlitePath,
  });
  const feed = await openChangeFeed(db, config, silentLogger);
  const server = await startServer({
    config,
    db,
    feed,
    logger: silentLogger,
    ...(options.staticDir !== undefined ? { staticDir: options.staticDir } : {}),
  });
  return {
    server,
    feed,
    db,
    config,
    wsUrl: `${server.url.replace(/^http/, 'ws')}/ws`,
    close: async () => {
      await server.close(500);
      await feed.close();
      await db.close();
    },
  };
}

/** Raw SQL writes on their own connection, the way any other writer would make them. */
export class Writer {
  private constructor(readonly db: Database) {}

  static async open(database: TestDatabase): Promise<Writer> {
    return new Writer(
      await openDatabase({ databaseUrl: database.url, dialect: database.dialect, sqlitePath: database.sqlitePath }),
    );
  }

  async sql(sql: string, bind: unknown[] = []): Promise<void> {
    await this.db.sequelize.query(sql, { bind });
  }

  async insertEscrow(fields: { maker: string; state?: string; amount_a?: string; pubkey?: string }): Promise<string> {
    const key = fields.pubkey ?? pubkey();
    await this.sql(
      `INSERT INTO escrows (pubkey, escrow_id, maker, mint_a, mint_b, amount_a, amount_b, vault, state, created_slot)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        key,
        '1',
        fields.maker,
        pubkey(),
        pubkey(),
        fields.amount_a ?? '1000',
        '2000',
        pubkey(),
        fields.state ?? 'created',
        1,
      ],
    );
    return key;
  }

  async setEscrowState(key: string, state: string): Promise<void> {
    await this.sql(`UPDATE escrows SET state = $1 WHERE pubkey = $2`, [state, key]);
  }

  async deleteEscrow(key: string): Promise<void> {
    await this.sql(`DELETE FROM escrows WHERE pubkey = $1`, [key]);
  }

  async insertPool(key: string = pubkey()): Promise<string> {
    await this.sql(
      `INSERT INTO pools (pubkey, token_a_mint, token_b_mint, token_a_vault, token_b_vault, lp_mint, fee_rate, created_slot)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [key, pubkey(), pubkey(), pubkey(), pubkey(), pubkey(), 30, 1],
    );
    return key;
  }

  /** Inserts a swap and returns its signature. */
  async insertSwap(
    pool: string,
    fields: { slot?: number; input_amount?: string; output_amount?: string; signature?: string } = {},
  ): Promise<string> {
    const sig = fields.signature ?? signature();
    await this.sql(
      `INSERT INTO swaps (pool_pubkey, user_address, input_mint, output_mint, input_amount, output_amount, fee_amount, signature, slot)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        pool,
        pubkey(),
        pubkey(),
        pubkey(),
        fields.input_amount ?? '10',
        fields.output_amount ?? '20',
        '1',
        sig,
        fields.slot ?? 1,
      ],
    );
    return sig;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

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

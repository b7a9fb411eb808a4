// A real gateway for tests (HTTP + ws + change feed, what `solstream serve` starts) on a test
// database, restartable on the same port, and raw-SQL writes on a separate connection, the way any
// other writer's changes reach it.
import { openChangeFeed } from '../../src/capture/index.ts';
import type { ChangeFeed } from '../../src/capture/types.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/log.ts';
import type { TestDatabase } from './database.ts';
import { pubkey, signature } from './keys.ts';

/** Configuration of a test gateway: any free port, silent, a fast SQLite poll. */
export function testConfig(database: { url: string }, env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    LOG_LEVEL: 'silent',
    SOLSTREAM_SQLITE_POLL_MS: '10',
    ...env,
  });
}

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
  const config = testConfig(database, { PORT: String(options.port ?? 0), ...options.env });
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

  async insertEscrow(
    fields: { maker?: string; state?: string; amount_a?: string; pubkey?: string } = {},
  ): Promise<string> {
    const key = fields.pubkey ?? pubkey();
    await this.sql(
      `INSERT INTO escrows (pubkey, escrow_id, maker, mint_a, mint_b, amount_a, amount_b, vault, state, created_slot)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        key,
        '1',
        fields.maker ?? pubkey(),
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

  /** Inserts a swap and returns its signature; a number for `fields` is the slot. */
  async insertSwap(
    pool: string,
    options: number | { slot?: number; input_amount?: string; output_amount?: string; signature?: string } = {},
  ): Promise<string> {
    const fields = typeof options === 'number' ? { slot: options } : options;
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

// Test harness for the gateway: a real server on a fresh database, real websocket clients, and a
// separate connection for writes (so changes reach the gateway the way anyone's writes would).
import WebSocket from 'ws';
import { openChangeFeed } from '../../src/capture/index.ts';
import type { ChangeFeed } from '../../src/capture/types.ts';
import { loadConfig, type Config, type Dialect } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { silentLogger } from '../../src/log.ts';
import type { ServerMessage } from '../../src/gateway/protocol.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

export { pubkey, signature } from '../support/keys.ts';
import { pubkey, signature } from '../support/keys.ts';

export function testConfig(database: { url: string }, env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    LOG_LEVEL: 'silent',
    SOLSTREAM_SQLITE_POLL_MS: '10',
    ...env,
  });
}

export interface GatewayUnderTest {
  readonly server: RunningServer;
  readonly feed: ChangeFeed;
  readonly db: Database;
  readonly wsUrl: string;
  close(): Promise<void>;
}

/** A gateway process's worth of parts (own connection, own feed, own server) on an existing database. */
export async function startGateway(
  database: TestDatabase,
  env: Record<string, string> = {},
): Promise<GatewayUnderTest> {
  const config = testConfig(database, env);
  const db = await openDatabase({
    databaseUrl: database.url,
    dialect: database.dialect,
    sqlitePath: database.sqlitePath,
  });
  const feed = await openChangeFeed(db, config, silentLogger);
  const server = await startServer({ config, db, feed, logger: silentLogger });
  return {
    server,
    feed,
    db,
    wsUrl: `${server.url.replace(/^http/, 'ws')}/ws`,
    close: async () => {
      await server.close(1000);
      await feed.close();
      await db.close();
    },
  };
}

/** A fresh database with a separate writer connection. */
export async function freshDatabase(dialect: Dialect): Promise<{ database: TestDatabase; writer: Writer }> {
  const database = await createTestDatabase(dialect);
  const writerDb = await openDatabase({ databaseUrl: database.url, dialect, sqlitePath: database.sqlitePath });
  return { database, writer: new Writer(writerDb) };
}

/** Raw SQL writes on their own connection. */
export class Writer {
  constructor(readonly db: Database) {}

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

  /** Inserts a pool (swaps reference one) and returns its pubkey. */
  async insertPool(): Promise<string> {
    const key = pubkey();
    await this.sql(
      `INSERT INTO pools (pubkey, token_a_mint, token_b_mint, token_a_vault, token_b_vault, lp_mint, fee_rate, created_slot)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [key, pubkey(), pubkey(), pubkey(), pubkey(), pubkey(), 30, 1],
    );
    return key;
  }

  async insertSwap(pool: string, slot = 1): Promise<void> {
    await this.sql(
      `INSERT INTO swaps (pool_pubkey, user_address, input_mint, output_mint, input_amount, output_amount, fee_amount, signature, slot)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [pool, pubkey(), pubkey(), pubkey(), '10', '20', '1', signature(), slot],
    );
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/** A websocket client that queues every server message for the test to take in order. */
export class TestClient {
  readonly messages: ServerMessage[] = [];
  private waiters: (() => void)[] = [];
  readonly closed: Promise<Closed>;
  readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as ServerMessage);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.wake();
        resolve({ code, reason: reason.toString() });
      }),
    );
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    ws.on('error', () => undefined);
  }

  static async connect(
    url: string,
    options: WebSocket.ClientOptions & { protocols?: string[] } = {},
  ): Promise<TestClient> {
    const client = new TestClient(new WebSocket(url, options.protocols ?? [], options));
    await client.opened;
    return client;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Removes and returns the first queued message that satisfies `match`, waiting for it. */
  async take<M extends ServerMessage = ServerMessage>(
    match: (m: ServerMessage) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<M> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.messages.findIndex(match);
      if (index >= 0) return this.messages.splice(index, 1)[0] as M;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('connection closed while waiting for a message');
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no matching message within ${timeoutMs} ms; queued: ${JSON.stringify(this.messages).slice(0, 500)}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a ping and waits for its pong: every message sent before it has been answered. */
  async roundTrip(): Promise<void> {
    this.send({ type: 'ping' });
    await this.take((m) => m.type === 'pong');
  }

  close(): void {
    this.ws.close();
  }
}

export const byType =
  (type: string, id?: string) =>
  (m: ServerMessage): boolean =>
    m.type === type && (id === undefined || ('id' in m && m.id === id));

// Test harness for the gateway: a real server on a fresh database, real websocket clients, and a
// separate connection for writes (so changes reach the gateway the way anyone's writes would).
import WebSocket from 'ws';
import type { Dialect } from '../../src/config.ts';
import type { ServerMessage } from '../../src/wire/protocol.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

export { pubkey, signature } from '../support/keys.ts';

import { Writer } from '../support/gateway.ts';
export { startGateway, testConfig, Writer, type Gateway as GatewayUnderTest } from '../support/gateway.ts';

/** A fresh database with a separate writer connection. */
export async function freshDatabase(dialect: Dialect): Promise<{ database: TestDatabase; writer: Writer }> {
  const database = await createTestDatabase(dialect);
  return { database, writer: await Writer.open(database) };
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

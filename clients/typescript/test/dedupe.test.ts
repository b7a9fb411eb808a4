// A server that misbehaves on purpose (it repeats changes and replays from before the cursor after
// a reconnect), speaking the real wire format: the client's cursor check keeps each change once.
import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { createClient, type SubscriptionEvent } from '../src/index.ts';
import { Collector } from '../../../test/clients/support.ts';

describe('client dedupe by cursor', () => {
  let server: WebSocketServer;
  let connections = 0;

  before(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    server.on('connection', (socket) => {
      connections += 1;
      const first = connections === 1;
      socket.on('message', (data) => {
        const message = JSON.parse(data.toString()) as { type: string; id: string; since?: string };
        if (message.type === 'ping') return socket.send(JSON.stringify({ type: 'pong' }));
        if (message.type !== 'subscribe') return undefined;
        const change = (cursor: number) =>
          JSON.stringify({
            type: 'change',
            id: message.id,
            topic: 'escrows',
            op: 'insert',
            row: { pubkey: `k${cursor}` },
            cursor: String(cursor),
          });
        socket.send(
          JSON.stringify({ type: 'subscribed', id: message.id, topic: 'escrows', cursor: message.since ?? '10' }),
        );
        if (first) {
          for (const cursor of [11, 12, 12, 13]) socket.send(change(cursor));
          socket.close(1001, 'going away');
        } else {
          // Resumed with since=13, yet replays from 12.
          for (const cursor of [12, 13, 14, 15]) socket.send(change(cursor));
        }
        return undefined;
      });
    });
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('delivers each cursor once across a repeat and an overlapping replay', async () => {
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = createClient({ url, WebSocket, retry: { initialDelayMs: 10, maxDelayMs: 50 } });
    try {
      const events = new Collector<SubscriptionEvent<'escrows'>>(client.subscribe('escrows', { snapshot: false }));
      await events.until((v) => v.some((e) => e.type === 'change' && e.cursor === '15'), 'cursor 15');
      const cursors = events.values.flatMap((e) => (e.type === 'change' ? [e.cursor] : []));
      expect(cursors).to.deep.equal(['11', '12', '13', '14', '15']);
      const subscribed = events.values.filter((e) => e.type === 'subscribed');
      expect(subscribed.map((e) => e.type === 'subscribed' && [e.cursor, e.resumed])).to.deep.equal([
        ['10', false],
        ['13', true],
      ]);
    } finally {
      await client.close();
    }
  });
});

import { expect } from 'chai';
import type WebSocket from 'ws';
import type { ChangeMessage, ErrorMessage } from '../../src/wire/protocol.ts';
import { DIALECTS, type TestDatabase } from '../support/database.ts';
import {
  byType,
  freshDatabase,
  pubkey,
  startGateway,
  TestClient,
  type GatewayUnderTest,
  type Writer,
} from './harness.ts';

const API_KEY = 'key-for-escrows-only-0001';
const ADMIN_KEY = 'key-for-everything-00001';

// Limits are small so each one can be crossed quickly; the dialect matters only for the changes.
const ENV = {
  SOLSTREAM_WS_MAX_SUBSCRIPTIONS: '3',
  SOLSTREAM_WS_MAX_FRAME_BYTES: '4096',
  SOLSTREAM_WS_MAX_MESSAGES_PER_SECOND: '20',
  SOLSTREAM_WS_MAX_BUFFERED_BYTES: '65536',
  SOLSTREAM_API_KEYS: `${API_KEY}:escrows,pools;${ADMIN_KEY}:*`,
  SOLSTREAM_ALLOWED_ORIGINS: 'https://app.example.com',
};

for (const dialect of DIALECTS) {
  describe(`gateway limits, auth and malformed input (${dialect})`, function () {
    this.timeout(60_000);
    let database: TestDatabase;
    let writer: Writer;
    let gateway: GatewayUnderTest;
    /** A well-behaved client that must keep receiving whatever the others do. */
    let bystander: TestClient;
    const opened: TestClient[] = [];

    const connect = async (key = ADMIN_KEY, options: WebSocket.ClientOptions = {}): Promise<TestClient> => {
      const client = await TestClient.connect(gateway.wsUrl, {
        headers: { Authorization: `Bearer ${key}` },
        ...options,
      });
      opened.push(client);
      return client;
    };

    /** The bystander's own maker: it subscribed once and sends nothing, so no limit can touch it. */
    const bystanderMaker = pubkey();

    /** The bystander still gets a change, and the server still answers new connections. */
    const othersUnaffected = async (): Promise<void> => {
      const key = await writer.insertEscrow({ maker: bystanderMaker });
      const change = await bystander.take<ChangeMessage>((m) => m.type === 'change' && m.id === 'bystander');
      expect(change.row.pubkey).to.equal(key);
      const fresh = await connect();
      await fresh.roundTrip();
    };

    before(async () => {
      ({ database, writer } = await freshDatabase(dialect));
      gateway = await startGateway(database, { env: ENV });
      bystander = await connect();
      bystander.send({ type: 'subscribe', id: 'bystander', topic: 'escrows', filter: { maker: bystanderMaker } });
      await bystander.take(byType('subscribed', 'bystander'));
    });
    afterEach(() => {
      for (const client of opened.splice(0)) if (client !== bystander) client.close();
    });
    after(async () => {
      bystander?.close();
      await gateway?.close();
      await writer?.close();
      await database?.drop();
    });

    const errors: [string, unknown, string][] = [
      ['text that is not JSON', 'subscribe escrows please', 'bad_json'],
      ['a JSON array', '[{"type":"ping"}]', 'invalid_message'],
      ['a subscribe with a numeric id', { type: 'subscribe', id: 5, topic: 'escrows' }, 'invalid_message'],
      ['a subscribe with the topic as a list', { type: 'subscribe', id: 'x', topic: ['escrows'] }, 'invalid_message'],
      ['an unknown message type', { type: 'publish', id: 'x' }, 'unknown_type'],
      ['an unknown topic', { type: 'subscribe', id: 'x', topic: 'users' }, 'unknown_topic'],
      [
        'an unknown column',
        { type: 'subscribe', id: 'x', topic: 'escrows', filter: { owner: pubkey() } },
        'invalid_filter',
      ],
      ['a bad pubkey', { type: 'subscribe', id: 'x', topic: 'escrows', filter: { maker: 'O0Il' } }, 'invalid_filter'],
      [
        'a u64 as a float',
        { type: 'subscribe', id: 'x', topic: 'escrows', filter: { amount_a: { gte: 1.5 } } },
        'invalid_filter',
      ],
      [
        'a range on text',
        { type: 'subscribe', id: 'x', topic: 'escrows', filter: { state: { gte: 'a' } } },
        'invalid_filter',
      ],
      [
        'a snapshot limit over the maximum',
        { type: 'subscribe', id: 'x', topic: 'swaps', snapshot: { limit: 10_000_000 } },
        'invalid_snapshot',
      ],
      ['a malformed cursor', { type: 'subscribe', id: 'x', topic: 'escrows', since: 'abc' }, 'invalid_cursor'],
      ['an unsubscribe of an unknown id', { type: 'unsubscribe', id: 'nope' }, 'unknown_subscription'],
    ];
    for (const [name, message, code] of errors) {
      it(`answers ${name} with ${code}, creates nothing and keeps serving`, async () => {
        const client = await connect();
        client.send(message);
        const error = await client.take<ErrorMessage>(byType('error'));
        expect(error.code).to.equal(code);
        expect(error.message).to.be.a('string').and.have.length.greaterThan(0);
        await client.roundTrip();
        expect(client.messages.filter((m) => m.type === 'subscribed')).to.have.length(0);
        await othersUnaffected();
      });
    }

    it('answers a binary frame with invalid_message', async () => {
      const client = await connect();
      client.ws.send(Buffer.from([1, 2, 3]));
      expect((await client.take<ErrorMessage>(byType('error'))).code).to.equal('invalid_message');
    });

    it('refuses a duplicate subscription id and a subscription over the limit', async () => {
      const client = await connect();
      for (const id of ['a', 'b', 'c']) {
        client.send({ type: 'subscribe', id, topic: 'escrows' });
        await client.take(byType('subscribed', id));
      }
      client.send({ type: 'subscribe', id: 'a', topic: 'pools' });
      expect((await client.take<ErrorMessage>(byType('error', 'a'))).code).to.equal('duplicate_id');
      client.send({ type: 'subscribe', id: 'd', topic: 'pools' });
      expect((await client.take<ErrorMessage>(byType('error', 'd'))).code).to.equal('too_many_subscriptions');
      client.send({ type: 'unsubscribe', id: 'b' });
      await client.take(byType('unsubscribed', 'b'));
      client.send({ type: 'subscribe', id: 'd', topic: 'pools' });
      await client.take(byType('subscribed', 'd'));
    });

    it('closes the connection with 1009 on a frame over the size limit', async () => {
      const client = await connect();
      client.send({
        type: 'subscribe',
        id: 'big',
        topic: 'escrows',
        filter: { maker: { in: Array(400).fill(pubkey()) } },
      });
      expect((await client.closed).code).to.equal(1009);
      await othersUnaffected();
    });

    it('answers flooding with rate_limited, then closes with 4429 when it goes on', async () => {
      const client = await connect();
      for (let i = 0; i < 200; i++) client.send({ type: 'ping' });
      const closed = await client.closed;
      expect(closed.code).to.equal(4429);
      expect(client.messages.filter((m) => m.type === 'pong').length).to.be.within(1, 40);
      expect(client.messages.some((m) => m.type === 'error' && m.code === 'rate_limited')).to.equal(true);
      await othersUnaffected();
    });

    it('closes a connection without a valid API key with 4401', async () => {
      const anonymous = await TestClient.connect(gateway.wsUrl);
      expect((await anonymous.closed).code).to.equal(4401);
      const wrong = await TestClient.connect(gateway.wsUrl, {
        headers: { Authorization: 'Bearer not-a-real-key-000000' },
      });
      expect((await wrong.closed).code).to.equal(4401);
    });

    it('accepts the key as a subprotocol entry or a query parameter, and enforces its topics', async () => {
      const viaProtocol = await TestClient.connect(gateway.wsUrl, {
        protocols: ['solstream.v1', `solstream.key.${API_KEY}`],
      });
      opened.push(viaProtocol);
      expect(viaProtocol.ws.protocol).to.equal('solstream.v1');
      viaProtocol.send({ type: 'subscribe', id: 'e', topic: 'escrows' });
      await viaProtocol.take(byType('subscribed', 'e'));
      viaProtocol.send({ type: 'subscribe', id: 's', topic: 'swaps' });
      expect((await viaProtocol.take<ErrorMessage>(byType('error', 's'))).code).to.equal('forbidden_topic');
      const viaQuery = await TestClient.connect(`${gateway.wsUrl}?api_key=${API_KEY}`);
      opened.push(viaQuery);
      await viaQuery.roundTrip();
    });

    it('refuses a browser Origin outside the allow-list with HTTP 403', async () => {
      let status = 0;
      await TestClient.connect(gateway.wsUrl, {
        headers: { Authorization: `Bearer ${ADMIN_KEY}`, Origin: 'https://evil.example.com' },
      }).catch((error: Error) => (status = Number(error.message.replace('HTTP ', ''))));
      expect(status).to.equal(403);
      const allowed = await connect(ADMIN_KEY, {
        headers: { Authorization: `Bearer ${ADMIN_KEY}`, Origin: 'https://app.example.com' },
      });
      await allowed.roundTrip();
    });

    it('cuts off a slow consumer while the others keep receiving every change', async () => {
      const program = pubkey();
      const slow = await connect();
      const fast = await connect();
      for (const client of [slow, fast]) {
        client.send({ type: 'subscribe', id: 'tx', topic: 'transactions', filter: { program_id: program } });
        await client.take(byType('subscribed', 'tx'));
      }
      slow.ws.pause(); // stops reading: the server's send buffer for it can only grow
      const blob = 'y'.repeat(60_000);
      const count = 300;
      for (let i = 0; i < count; i++) {
        await writer.sql(
          `INSERT INTO transactions (signature, slot, fee, status, program_id, raw_data) VALUES ($1, $2, $3, $4, $5, $6)`,
          [`${pubkey()}${pubkey()}`.slice(0, 88), i, '5000', 'success', program, JSON.stringify({ blob })],
        );
      }
      for (let i = 0; i < count; i++) {
        const change = await fast.take<ChangeMessage>((m) => m.type === 'change');
        expect(change.row.slot).to.equal(i);
      }
      slow.ws.resume();
      const closed = await slow.closed;
      // The close frame sits behind the unread data; if the grace period ends first the socket is destroyed.
      expect([4408, 1006]).to.include(closed.code);
      expect(slow.messages.filter((m) => m.type === 'change').length).to.be.lessThan(count);
      await othersUnaffected();
    });
  });
}

import { expect } from 'chai';
import { pruneChanges } from '../../src/capture/change-log.ts';
import type { ChangeMessage, ErrorMessage, SnapshotMessage, SubscribedMessage } from '../../src/wire/protocol.ts';
import { DIALECTS, type TestDatabase } from '../support/database.ts';
import {
  byType,
  freshDatabase,
  pubkey,
  signature,
  startGateway,
  TestClient,
  type GatewayUnderTest,
  type Writer,
} from './harness.ts';

const isChange = (id: string) => (m: { type: string; id?: string }) => m.type === 'change' && m.id === id;

for (const dialect of DIALECTS) {
  describe(`gateway over websockets (${dialect})`, function () {
    this.timeout(60_000);
    let database: TestDatabase;
    let writer: Writer;
    let gateway: GatewayUnderTest;
    const clients: TestClient[] = [];

    const connect = async (): Promise<TestClient> => {
      const client = await TestClient.connect(gateway.wsUrl);
      clients.push(client);
      return client;
    };

    const subscribe = async (client: TestClient, message: Record<string, unknown>): Promise<SubscribedMessage> => {
      client.send({ type: 'subscribe', ...message });
      return client.take<SubscribedMessage>(byType('subscribed', message.id as string));
    };

    before(async () => {
      ({ database, writer } = await freshDatabase(dialect));
      gateway = await startGateway(database);
    });
    afterEach(() => {
      for (const client of clients.splice(0)) client.close();
    });
    after(async () => {
      await gateway?.close();
      await writer?.close();
      await database?.drop();
    });

    it('delivers inserts, updates and deletes made through SQL on another connection to exactly the matching subscribers', async () => {
      const [makerA, makerB] = [pubkey(), pubkey()];
      const a = await connect();
      const b = await connect();
      const funded = await connect();
      const everything = await connect();
      await subscribe(a, { id: 'a', topic: 'escrows', filter: { maker: makerA } });
      await subscribe(b, { id: 'b', topic: 'escrows', filter: { maker: makerB } });
      await subscribe(funded, {
        id: 'f',
        topic: 'escrows',
        filter: { state: 'funded', maker: { in: [makerA, makerB] } },
      });
      await subscribe(everything, { id: 'all', topic: 'escrows' });

      const key = await writer.insertEscrow({ maker: makerA, amount_a: '18446744073709551615' });
      await writer.sql(`UPDATE escrows SET state = 'funded' WHERE pubkey = $1`, [key]);
      await writer.sql(`DELETE FROM escrows WHERE pubkey = $1`, [key]);
      // A marker every subscriber but `a` matches, so "b saw nothing before it" is observable.
      const marker = await writer.insertEscrow({ maker: makerB, state: 'funded' });

      const ops = async (client: TestClient, id: string, n: number): Promise<ChangeMessage[]> => {
        const got: ChangeMessage[] = [];
        for (let i = 0; i < n; i++) got.push(await client.take<ChangeMessage>(isChange(id)));
        return got;
      };
      const gotA = await ops(a, 'a', 3);
      expect(gotA.map((m) => m.op)).to.deep.equal(['insert', 'update', 'delete']);
      expect(gotA.every((m) => m.row.pubkey === key && m.topic === 'escrows')).to.equal(true);
      expect(gotA[0]?.row.amount_a).to.equal('18446744073709551615');
      expect(gotA[1]?.row.state).to.equal('funded');
      const cursors = gotA.map((m) => BigInt(m.cursor));
      expect(cursors[0]! < cursors[1]! && cursors[1]! < cursors[2]!).to.equal(true);

      const gotB = await ops(b, 'b', 1);
      expect(gotB.map((m) => m.row.pubkey)).to.deep.equal([marker]);
      const gotFunded = await ops(funded, 'f', 3);
      // The update that makes the row funded is, to this view, the row arriving.
      expect(gotFunded.map((m) => [m.op, m.row.pubkey])).to.deep.equal([
        ['insert', key],
        ['delete', key],
        ['insert', marker],
      ]);
      const gotAll = await ops(everything, 'all', 4);
      expect(gotAll.map((m) => m.op)).to.deep.equal(['insert', 'update', 'delete', 'insert']);
      for (const client of [a, b, funded, everything]) {
        await client.roundTrip();
        expect(client.messages.filter((m) => m.type === 'change')).to.have.length(0);
      }
    });

    it('tells a filtered view when an update moves a row into it or out of it', async () => {
      const maker = pubkey();
      const open = await connect();
      await subscribe(open, { id: 'open', topic: 'escrows', filter: { maker, state: { in: ['created', 'funded'] } } });
      const key = await writer.insertEscrow({ maker, state: 'created' });
      await writer.sql(`UPDATE escrows SET state = 'funded' WHERE pubkey = $1`, [key]);
      await writer.sql(`UPDATE escrows SET state = 'completed' WHERE pubkey = $1`, [key]);
      await writer.sql(`UPDATE escrows SET completed_slot = 99 WHERE pubkey = $1`, [key]);
      await writer.sql(`UPDATE escrows SET state = 'funded' WHERE pubkey = $1`, [key]);
      const got: ChangeMessage[] = [];
      for (let i = 0; i < 4; i++) got.push(await open.take<ChangeMessage>(isChange('open')));
      expect(got.map((m) => [m.op, m.row.state])).to.deep.equal([
        ['insert', 'created'],
        ['update', 'funded'],
        ['delete', 'completed'],
        ['insert', 'funded'],
      ]);
      await open.roundTrip();
      expect(open.messages.filter((m) => m.type === 'change')).to.have.length(0);
    });

    it('joins the snapshot to the stream under concurrent writers: every row once, none missing', async () => {
      const pool = await writer.insertPool();
      const total = 240;
      let written = 0;
      const writers = Array.from({ length: 3 }, async () => {
        while (written < total) {
          written++;
          await writer.insertSwap(pool, written);
        }
      });
      // Subscribers join at different moments while the writers run.
      const joined: { client: TestClient; id: string }[] = [];
      for (let i = 0; i < 6; i++) {
        await new Promise((resolve) => setTimeout(resolve, 15 * i));
        const client = await connect();
        client.send({
          type: 'subscribe',
          id: `j${i}`,
          topic: 'swaps',
          filter: { pool_pubkey: pool },
          snapshot: { limit: 10_000 },
        });
        joined.push({ client, id: `j${i}` });
      }
      await Promise.all(writers);
      for (const { client, id } of joined) {
        const subscribed = await client.take<SubscribedMessage>(byType('subscribed', id));
        const snapshot = await client.take<SnapshotMessage>(byType('snapshot', id));
        expect(snapshot.cursor).to.equal(subscribed.cursor);
        const seen = snapshot.rows.map((r) => r.id as number);
        while (seen.length < total) {
          const change = await client.take<ChangeMessage>(isChange(id));
          expect(BigInt(change.cursor) > BigInt(snapshot.cursor)).to.equal(true);
          seen.push(change.row.id as number);
        }
        await client.roundTrip();
        expect(client.messages.filter((m) => m.type === 'change')).to.have.length(0);
        expect(new Set(seen).size).to.equal(total);
      }
    });

    it('resumes after a client disconnect with exactly the changes it missed, in order', async () => {
      const pool = await writer.insertPool();
      const first = await connect();
      await subscribe(first, { id: 's', topic: 'swaps', filter: { pool_pubkey: pool } });
      for (let i = 1; i <= 5; i++) await writer.insertSwap(pool, i);
      let last = '';
      for (let i = 1; i <= 5; i++) last = (await first.take<ChangeMessage>(isChange('s'))).cursor;
      first.close();
      await first.closed;
      for (let i = 6; i <= 1205; i++) await writer.insertSwap(pool, i); // more than one replay page
      await writer.insertSwap(await writer.insertPool(), 9999); // another pool: filtered out of the replay

      const second = await connect();
      const subscribed = await subscribe(second, {
        id: 's',
        topic: 'swaps',
        filter: { pool_pubkey: pool },
        since: last,
      });
      expect(subscribed.cursor).to.equal(last);
      const slots: number[] = [];
      let previous = BigInt(last);
      for (let i = 6; i <= 1205; i++) {
        const change = await second.take<ChangeMessage>(isChange('s'));
        expect(BigInt(change.cursor) > previous).to.equal(true);
        previous = BigInt(change.cursor);
        slots.push(change.row.slot as number);
      }
      expect(slots).to.deep.equal(Array.from({ length: 1200 }, (_, i) => i + 6));
      await writer.insertSwap(pool, 2000);
      expect((await second.take<ChangeMessage>(isChange('s'))).row.slot).to.equal(2000);
      await second.roundTrip();
      expect(second.messages.filter((m) => m.type === 'change')).to.have.length(0);
    });

    it('answers a cursor older than the retention with cursor_expired and creates no subscription', async () => {
      const pool = await writer.insertPool();
      await writer.insertSwap(pool, 1);
      await pruneChanges(gateway.db, Date.now() + 60_000);
      const client = await connect();
      client.send({ type: 'subscribe', id: 'old', topic: 'swaps', since: '1' });
      const error = await client.take<ErrorMessage>(byType('error', 'old'));
      expect(error.code).to.equal('cursor_expired');
      // The id is free again: no subscription exists.
      await subscribe(client, { id: 'old', topic: 'swaps', filter: { pool_pubkey: pool } });
      client.send({ type: 'subscribe', id: 'future', topic: 'swaps', since: '999999999999' });
      expect((await client.take<ErrorMessage>(byType('error', 'future'))).code).to.equal('invalid_cursor');
    });

    it('delivers a row larger than 8000 bytes whole', async () => {
      const client = await connect();
      const program = pubkey();
      await subscribe(client, { id: 'tx', topic: 'transactions', filter: { program_id: program } });
      const raw = { logs: Array.from({ length: 400 }, (_, i) => `Program log: entry ${i} ${'x'.repeat(40)}`) };
      expect(JSON.stringify(raw).length).to.be.greaterThan(8000);
      await writer.sql(
        `INSERT INTO transactions (signature, slot, fee, status, program_id, raw_data) VALUES ($1, $2, $3, $4, $5, $6)`,
        [signature(), 7, '5000', 'success', program, JSON.stringify(raw)],
      );
      const change = await client.take<ChangeMessage>(isChange('tx'));
      expect(change.row.raw_data).to.deep.equal(raw);
    });

    it('serves a snapshot of the latest N rows of an append table, oldest first, at a cursor the stream continues from', async () => {
      const pool = await writer.insertPool();
      for (let i = 1; i <= 8; i++) await writer.insertSwap(pool, i);
      const client = await connect();
      client.send({
        type: 'subscribe',
        id: 'n',
        topic: 'swaps',
        filter: { pool_pubkey: pool },
        snapshot: { limit: 3 },
      });
      await client.take(byType('subscribed', 'n'));
      const snapshot = await client.take<SnapshotMessage>(byType('snapshot', 'n'));
      expect(snapshot.rows.map((r) => r.slot)).to.deep.equal([6, 7, 8]);
      await writer.insertSwap(pool, 9);
      expect((await client.take<ChangeMessage>(isChange('n'))).row.slot).to.equal(9);
    });

    it('stops delivering after unsubscribe and confirms it', async () => {
      const pool = await writer.insertPool();
      const client = await connect();
      await subscribe(client, { id: 'u', topic: 'swaps', filter: { pool_pubkey: pool } });
      client.send({ type: 'unsubscribe', id: 'u' });
      await client.take(byType('unsubscribed', 'u'));
      await writer.insertSwap(pool, 1);
      await subscribe(client, { id: 'v', topic: 'swaps', filter: { pool_pubkey: pool } });
      await writer.insertSwap(pool, 2);
      expect((await client.take<ChangeMessage>(isChange('v'))).row.slot).to.equal(2);
      expect(client.messages.some((m) => m.type === 'change' && m.id === 'u')).to.equal(false);
    });
  });
}

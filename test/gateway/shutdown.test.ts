import { expect } from 'chai';
import type { ChangeMessage } from '../../src/wire/protocol.ts';
import type { TestDatabase } from '../support/database.ts';
import { byType, freshDatabase, startGateway, TestClient, type Writer } from './harness.ts';

// Shutdown is a transport concern: the same on both dialects, so one is enough.
describe('gateway shutdown', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let writer: Writer;

  before(async () => ({ database, writer } = await freshDatabase('sqlite')));
  after(async () => {
    await writer?.close();
    await database?.drop();
  });

  it('closes every websocket with 1001 after the frames already queued, and refuses new ones', async () => {
    const gateway = await startGateway(database);
    const pool = await writer.insertPool();
    const clients = [await TestClient.connect(gateway.wsUrl), await TestClient.connect(gateway.wsUrl)];
    for (const client of clients) {
      client.send({ type: 'subscribe', id: 's', topic: 'swaps', filter: { pool_pubkey: pool } });
      await client.take(byType('subscribed', 's'));
    }
    await writer.insertSwap(pool, 1);
    await clients[0]!.take<ChangeMessage>(byType('change', 's'));
    const closing = gateway.close();
    const codes = await Promise.all(clients.map((c) => c.closed));
    await closing;
    expect(codes.map((c) => c.code)).to.deep.equal([1001, 1001]);
    // The second client had the change queued before the close: it arrives first.
    expect(clients[1]!.messages.some((m) => m.type === 'change')).to.equal(true);
    let refused = false;
    await TestClient.connect(gateway.wsUrl).catch(() => (refused = true));
    expect(refused).to.equal(true);
    expect(gateway.server.connections).to.equal(0);
  });
});

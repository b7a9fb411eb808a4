import { expect } from 'chai';
import type { ChangeMessage, SubscribedMessage } from '../../src/wire/protocol.ts';
import { DIALECTS, type TestDatabase } from '../support/database.ts';
import { killGateway, spawnGateway, type GatewayProcess } from '../support/gateway-process.ts';
import { byType, freshDatabase, startGateway, TestClient, type Writer } from './harness.ts';

type Child = GatewayProcess;
const kill = killGateway;

for (const dialect of DIALECTS) {
  describe(`gateway processes (${dialect})`, function () {
    this.timeout(120_000);
    let database: TestDatabase;
    let writer: Writer;
    const children: Child[] = [];

    before(async () => {
      ({ database, writer } = await freshDatabase(dialect));
    });
    after(async () => {
      await Promise.all(children.map(kill));
      await writer?.close();
      await database?.drop();
    });

    it('resumes after the gateway is killed with SIGKILL: zero lost, zero duplicated', async () => {
      const pool = await writer.insertPool();
      const first = await spawnGateway(database);
      children.push(first);
      const client = await TestClient.connect(first.wsUrl);
      client.send({ type: 'subscribe', id: 'k', topic: 'swaps', filter: { pool_pubkey: pool } });
      await client.take<SubscribedMessage>(byType('subscribed', 'k'));
      const total = 150;
      let written = 0;
      // Writes go on while the gateway dies and a new one starts.
      const writing = (async () => {
        while (written < total) {
          written++;
          await writer.insertSwap(pool, written);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      const seen: number[] = [];
      let last = '';
      while (seen.length < 20) {
        const change = await client.take<ChangeMessage>(byType('change', 'k'));
        seen.push(change.row.slot as number);
        last = change.cursor;
      }
      await kill(first);
      await client.closed;
      // Everything received before the kill counts, even what arrived after the 20th.
      for (const m of client.messages.splice(0)) {
        if (m.type === 'change' && m.commitment !== 'processed') {
          seen.push(m.row.slot as number);
          last = m.cursor;
        }
      }
      const second = await spawnGateway(database);
      children.push(second);
      const resumed = await TestClient.connect(second.wsUrl);
      resumed.send({ type: 'subscribe', id: 'k', topic: 'swaps', filter: { pool_pubkey: pool }, since: last });
      await resumed.take(byType('subscribed', 'k'));
      await writing;
      while (seen.length < total) {
        const change = await resumed.take<ChangeMessage>(byType('change', 'k'));
        expect(BigInt(change.cursor) > BigInt(last)).to.equal(true);
        last = change.cursor;
        seen.push(change.row.slot as number);
      }
      await resumed.roundTrip();
      expect(resumed.messages.filter((m) => m.type === 'change')).to.have.length(0);
      expect(seen).to.deep.equal(Array.from({ length: total }, (_, i) => i + 1));
      resumed.close();
    });

    if (dialect === 'postgres') {
      it('two gateway processes on one database each deliver every change to their own clients', async () => {
        const pool = await writer.insertPool();
        const other = await spawnGateway(database);
        children.push(other);
        const local = await startGateway(database);
        try {
          const clients = [await TestClient.connect(other.wsUrl), await TestClient.connect(local.wsUrl)];
          for (const client of clients) {
            client.send({ type: 'subscribe', id: 'p', topic: 'swaps', filter: { pool_pubkey: pool } });
            await client.take(byType('subscribed', 'p'));
          }
          for (let i = 1; i <= 50; i++) await writer.insertSwap(pool, i);
          for (const client of clients) {
            const slots: number[] = [];
            for (let i = 1; i <= 50; i++)
              slots.push((await client.take<ChangeMessage>(byType('change', 'p'))).row.slot as number);
            expect(slots).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
            client.close();
          }
        } finally {
          await local.close();
        }
      });
    }
  });
}

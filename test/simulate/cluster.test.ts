import { expect } from 'chai';
import { loadSolanaConfig } from '../../src/config.ts';
import { TABLES, type Topic } from '../../src/db/schema.ts';
import { startIngester } from '../../src/ingest/ingester.ts';
import { silentLogger } from '../../src/log.ts';
import { createEscrowDecoder } from '../../src/programs/escrow.ts';
import { createRaydiumCpSwapDecoder } from '../../src/programs/raydium-cp-swap.ts';
import { runActivity } from '../../src/simulate/activity/player.ts';
import { decodeSimTransaction } from '../../src/simulate/activity/transaction-input.ts';
import { startLocalCluster } from '../../src/simulate/cluster.ts';
import { DIALECTS, createTestDatabase } from '../support/database.ts';

const APPEND_TOPICS: Topic[] = ['transactions', 'escrow_events', 'swaps', 'liquidity_events'];

for (const dialect of DIALECTS) {
  describe(`local cluster playing the real programs into the ingester (${dialect})`, function () {
    this.timeout(60_000);

    it('writes every event row the played transactions decode to, once', async () => {
      const test = await createTestDatabase(dialect);
      const cluster = await startLocalCluster({ port: 0, seed: 7, rate: 0 });
      const decoders = [createEscrowDecoder(), createRaydiumCpSwapDecoder()];
      const env = { SOLANA_RPC_URL: cluster.rpcUrl, SOLANA_WS_URL: cluster.wsUrl };
      const ingester = startIngester({
        db: test.db,
        config: { solana: loadSolanaConfig(env) },
        decoders,
        logger: silentLogger,
      });
      try {
        await ingester.ready;
        const played = runActivity(cluster.ledger, { seed: 7 }, 120);
        const expected = new Map<Topic, Set<string>>(APPEND_TOPICS.map((t) => [t, new Set()]));
        for (const { tx, submitted } of played) {
          for (const row of decodeSimTransaction(decoders, tx, submitted)) {
            const keys = expected.get(row.topic);
            const r = row.row as Record<string, unknown>;
            keys?.add(TABLES[row.topic].naturalKey.map((c) => String(r[c])).join('|'));
          }
        }
        expect(expected.get('swaps')!.size).to.be.greaterThan(0);
        expect(expected.get('escrow_events')!.size).to.be.greaterThan(0);
        const stored = async (topic: Topic) => {
          const [rows] = await test.db.sequelize.query(`SELECT ${TABLES[topic].naturalKey.join(', ')} FROM ${topic}`);
          return (rows as Record<string, unknown>[])
            .map((r) => TABLES[topic].naturalKey.map((c) => String(r[c])).join('|'))
            .sort();
        };
        const deadline = Date.now() + 30_000;
        while ((await stored('transactions')).length < expected.get('transactions')!.size && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await ingester.settled();
        for (const topic of APPEND_TOPICS)
          expect(await stored(topic), topic).to.deep.equal([...expected.get(topic)!].sort());
        expect(ingester.stats.decodeErrors).to.equal(0);
        expect(ingester.stats.failedUpdates).to.equal(0);
      } finally {
        await ingester.close();
        await cluster.close();
        await test.drop();
      }
    });
  });
}

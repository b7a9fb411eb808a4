// The whole pipeline, as `solstream serve` runs it on a first run: the offline local cluster plays
// the four real programs, the ingester reads them through an unmodified web3.js Connection, rows land
// in the database, triggers capture them, and a websocket subscriber receives them.
import { expect } from 'chai';
import WebSocket from 'ws';
import { openChangeFeed } from '../../src/capture/index.ts';
import { loadConfig } from '../../src/config.ts';
import type { Topic } from '../../src/db/schema.ts';
import type { ServerMessage } from '../../src/wire/protocol.ts';
import { startServer } from '../../src/http/server.ts';
import { startIngester } from '../../src/ingest/ingester.ts';
import { silentLogger } from '../../src/log.ts';
import { buildPrograms, parseProgramsConfig } from '../../src/programs/registry.ts';
import { startLocalCluster } from '../../src/simulate/cluster.ts';
import { DIALECTS, createTestDatabase } from '../support/database.ts';

/** One topic per program that only that program's activity fills, plus the state tables. */
const EXPECTED: readonly Topic[] = [
  'escrows',
  'escrow_events',
  'pools',
  'swaps',
  'listings',
  'sales',
  'governances',
  'proposals',
  'votes',
];

for (const dialect of DIALECTS) {
  describe(`pipeline: local cluster → ingester → database → gateway (${dialect})`, function () {
    this.timeout(120_000);

    it('delivers rows of all four programs to a websocket subscriber, each change once and in cursor order', async () => {
      const database = await createTestDatabase(dialect);
      const cluster = await startLocalCluster({ port: 0, seed: 7, rate: 40 });
      const config = loadConfig({
        DATABASE_URL: database.url,
        PORT: '0',
        LOG_LEVEL: 'silent',
        SOLANA_RPC_URL: cluster.rpcUrl,
        SOLANA_WS_URL: cluster.wsUrl,
        SOLSTREAM_SQLITE_POLL_MS: '20',
      });
      const feed = await openChangeFeed(database.db, config, silentLogger);
      const server = await startServer({ config, db: database.db, feed, logger: silentLogger });
      const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`);
      const seen = new Map<Topic, number>();
      const cursors = new Map<string, bigint[]>();
      const errors: ServerMessage[] = [];
      let ingester: ReturnType<typeof startIngester> | null = null;
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('open', resolve);
          socket.once('error', reject);
        });
        socket.on('message', (data) => {
          const message = JSON.parse(String(data)) as ServerMessage;
          if (message.type === 'error') errors.push(message);
          if (message.type !== 'change' || message.commitment === 'processed') return;
          seen.set(message.topic as Topic, (seen.get(message.topic as Topic) ?? 0) + 1);
          const list = cursors.get(message.id) ?? [];
          list.push(BigInt(message.cursor));
          cursors.set(message.id, list);
        });
        for (const topic of EXPECTED) socket.send(JSON.stringify({ type: 'subscribe', id: topic, topic }));

        const programs = buildPrograms(parseProgramsConfig(undefined), {});
        ingester = startIngester({ db: database.db, config, programs, feed, logger: silentLogger });

        const deadline = Date.now() + 100_000;
        while (EXPECTED.some((topic) => (seen.get(topic) ?? 0) === 0)) {
          if (Date.now() > deadline) {
            const missing = EXPECTED.filter((topic) => (seen.get(topic) ?? 0) === 0);
            throw new Error(`no change arrived for ${missing.join(', ')} (got ${JSON.stringify([...seen])})`);
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(errors).to.deep.equal([]);
        for (const [id, list] of cursors) {
          const sorted = [...list].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          expect(list, `cursors of ${id}`).to.deep.equal(sorted);
          expect(new Set(list).size, `no repeated cursor for ${id}`).to.equal(list.length);
        }
      } finally {
        socket.close();
        await ingester?.close();
        await cluster.close();
        await server.close();
        await feed.close();
        await database.drop();
      }
    });
  });
}

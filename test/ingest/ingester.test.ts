// The ingester in-process, with the real programs, through the real web3.js Connection against the
// local cluster's RPC server, on both databases. After each scenario the database is compared with
// the ground truth read back from the cluster (test/support/ground-truth.ts).
import { expect } from 'chai';
import { pino } from 'pino';
import { loadSolanaConfig } from '../../src/config.ts';
import { claimLease } from '../../src/db/locks.ts';
import { startIngester, type Ingester } from '../../src/ingest/ingester.ts';
import { buildPrograms, parseProgramsConfig } from '../../src/programs/registry.ts';
import { ActivityScript } from '../../src/simulate/activity/player.ts';
import { LocalLedger } from '../../src/simulate/ledger.ts';
import { startRpcServer, type RpcServer } from '../../src/simulate/rpc-server.ts';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../support/database.ts';
import { chainTruth, differences } from '../support/ground-truth.ts';
import { pubkey } from '../support/keys.ts';
import { only } from '../support/program-harness.ts';
import { eventually } from '../support/processes.ts';

for (const dialect of DIALECTS) {
  describe(`ingester through web3.js and the local cluster (${dialect})`, function () {
    this.timeout(120_000);
    let test: TestDatabase;
    let ledger: LocalLedger;
    let server: RpcServer | null;
    let ingester: Ingester | null;
    let logLines: Record<string, unknown>[];

    const logger = () =>
      pino(
        { level: 'info' },
        { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
      );

    const start = (
      options: { lease?: Parameters<typeof startIngester>[0]['lease']; onFailure?: (e: Error) => void } = {},
    ) => {
      const env = {
        SOLANA_RPC_URL: server!.rpcUrl,
        SOLANA_WS_URL: server!.wsUrl,
        SOLSTREAM_RPC_RETRY_BASE_MS: '10',
        SOLSTREAM_BACKFILL_PAGE_SIZE: '25',
      };
      ingester = startIngester({
        db: test.db,
        config: { solana: loadSolanaConfig(env) },
        programs: buildPrograms(parseProgramsConfig(undefined)),
        logger: logger(),
        ...options,
      });
      return ingester;
    };

    const play = (script: ActivityScript, n: number) => {
      for (let i = 0; i < n; i++) ledger.submit(script.next());
    };

    /** Waits until the database holds exactly what the cluster holds. */
    const expectExact = async (tables?: readonly string[]) => {
      await ingester!.settled();
      const truth = await chainTruth(server!.rpcUrl);
      let last: string[] = [];
      try {
        await eventually(
          async () => (last = await differences(test.db, truth, tables)).length === 0,
          'the database to equal the chain',
          30_000,
          100,
        );
      } catch {
        expect(last.slice(0, 30), `${last.length} differences`).to.deep.equal([]);
      }
      expect(logLines.filter((l) => Number(l.level) >= 50)).to.deep.equal([]);
    };

    beforeEach(async () => {
      test = await createTestDatabase(dialect);
      ledger = new LocalLedger({ seed: `ingest-${dialect}`, firstSlot: 500 });
      logLines = [];
      ingester = null;
      server = null;
    });

    afterEach(async () => {
      await ingester?.close();
      await server?.close();
      await test.drop();
    });

    it('stores exactly the chain: history before the first start, then live activity, with checkpoints', async () => {
      const script = new ActivityScript({ seed: 3 });
      play(script, 150);
      server = await startRpcServer({ ledger });
      await start().ready;
      play(script, 60);
      await expectExact();
      const [rows] = await test.db.sequelize.query('SELECT program_id, signature FROM solstream_checkpoints');
      expect(rows).to.have.length(4);
    });

    it('fills the gap left while it was stopped, exactly', async () => {
      const script = new ActivityScript({ seed: 4 });
      play(script, 40);
      server = await startRpcServer({ ledger });
      await start().ready;
      play(script, 20);
      await ingester!.settled();
      await ingester!.close();
      play(script, 80);
      await start().ready;
      play(script, 10);
      await expectExact();
    });

    it('misses nothing when the RPC websocket drops mid-stream', async () => {
      const script = new ActivityScript({ seed: 5 });
      play(script, 30);
      server = await startRpcServer({ ledger });
      await start().ready;
      play(script, 10);
      await ingester!.settled();
      server.dropConnections();
      // Activity while web3.js is reconnecting (it waits a second before it tries).
      play(script, 30);
      await eventually(async () => ingester!.stats.catchUps >= 2, 'a catch-up after the reconnect');
      play(script, 10);
      await expectExact();
      expect(ingester!.stats.gaps).to.be.greaterThan(0);
    });

    it('ends pool reserves at the vaults after the last event: loaded at first start, then history, live swaps and a drop', async () => {
      const script = only('cpSwap', { seed: 6 });
      play(script, 40);
      server = await startRpcServer({ ledger });
      await start().ready;
      play(script, 25);
      await ingester!.settled();
      server.dropConnections();
      play(script, 25);
      await eventually(async () => ingester!.stats.catchUps >= 2, 'a catch-up after the reconnect');
      play(script, 25);
      await expectExact(['pools', 'swaps', 'liquidity_events', 'transactions']);
    });

    it('writes no duplicate rows when every notification arrives twice', async () => {
      const script = new ActivityScript({ seed: 7 });
      server = await startRpcServer({ ledger, duplicateNotifications: true });
      await start().ready;
      play(script, 60);
      await expectExact();
    });

    it('logs account data that does not decode as an error with its pubkey, counts it, and carries on', async () => {
      const script = only('escrow', { seed: 8 });
      server = await startRpcServer({ ledger });
      await start().ready;
      const garbage = pubkey();
      ledger.submit({
        feePayer: pubkey(),
        instructions: [],
        logMessages: [],
        // The escrow program's Offer discriminator, then too few bytes for an Offer.
        accountWrites: [
          {
            pubkey: garbage,
            owner: 'qbuMdeYxYJXBjU6C6qFKjZKjXmrU83eDQomHdrch826',
            lamports: 1n,
            data: Uint8Array.from([215, 88, 60, 71, 170, 162, 73, 229, 1, 2, 3]),
          },
        ],
      });
      play(script, 10);
      await eventually(async () => logLines.some((l) => l.pubkey === garbage), 'the error line');
      const line = logLines.find((l) => l.pubkey === garbage)!;
      expect(line).to.include({ level: 50, reason: 'decode_error' });
      expect(ingester!.stats.skipped.decode_error).to.equal(1);
      logLines = logLines.filter((l) => l !== line);
      await expectExact();
    });

    it('stops writing once another process has claimed the ingest lease', async () => {
      const script = new ActivityScript({ seed: 9 });
      server = await startRpcServer({ ledger });
      const lease = await claimLease(test.db, 'ingest', 'this test');
      let failure: Error | null = null;
      await start({ lease, onFailure: (e) => (failure = e) }).ready;
      play(script, 10);
      await ingester!.settled();
      const count = async () =>
        Number(
          ((await test.db.sequelize.query('SELECT count(*) AS n FROM transactions'))[0] as { n: unknown }[])[0]?.n,
        );
      const before = await count();
      await claimLease(test.db, 'ingest', 'another process');
      play(script, 10);
      await eventually(async () => failure !== null, 'the ingester to stop');
      expect(String(failure)).to.contain('another process');
      expect(await count()).to.equal(before);
    });
  });
}

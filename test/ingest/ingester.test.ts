import { expect } from 'chai';
import { pino } from 'pino';
import { loadSolanaConfig } from '../../src/config.ts';
import { startIngester, type Ingester } from '../../src/ingest/ingester.ts';
import { LocalLedger } from '../../src/simulate/ledger.ts';
import { startRpcServer, type RpcServer } from '../../src/simulate/rpc-server.ts';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../support/database.ts';
import { offerTransaction, sampleDecoder, testKey, type Offer } from '../simulate/sample-program.ts';

async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const dialect of DIALECTS) {
  describe(`ingester through web3.js and the local cluster (${dialect})`, function () {
    this.timeout(60_000);
    const programId = testKey(`ingest-program-${dialect}`);
    let test: TestDatabase;
    let ledger: LocalLedger;
    let server: RpcServer;
    let ingester: Ingester | null;
    let logLines: Record<string, unknown>[];
    let offers: Map<string, Offer>;
    let events: { signature: string; escrow: string; kind: string; slot: number }[];
    let serial = 0;

    const logger = () =>
      pino(
        { level: 'info' },
        { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
      );

    const start = () => {
      const env = { SOLANA_RPC_URL: server.rpcUrl, SOLANA_WS_URL: server.wsUrl, SOLSTREAM_RPC_RETRY_BASE_MS: '10' };
      ingester = startIngester({
        db: test.db,
        config: { solana: loadSolanaConfig(env) },
        decoders: [sampleDecoder(programId)],
        logger: logger(),
      });
      return ingester;
    };

    /** Plays one step of an offer's life: created, then funded, then completed. */
    const play = (state: Offer['state'] = 'created', existing?: Offer): Offer => {
      const n = serial++;
      const offer: Offer = existing
        ? { ...existing, state }
        : {
            pubkey: testKey(`${dialect}-offer-${n}`),
            maker: testKey(`${dialect}-maker-${n % 3}`),
            mintA: testKey('mint-a'),
            mintB: testKey('mint-b'),
            amountA: n === 0 ? 18446744073709551615n : BigInt(1000 + n),
            amountB: BigInt(n),
            state,
          };
      const { signature, slot } = ledger.submit(offerTransaction(programId, offer));
      offers.set(offer.pubkey, offer);
      events.push({ signature, escrow: offer.pubkey, kind: state, slot });
      return offer;
    };

    const rows = async (sql: string) => (await test.db.sequelize.query(sql))[0] as Record<string, unknown>[];

    const expectExactRows = async () => {
      const escrows = await rows('SELECT pubkey, amount_a, amount_b, state, maker FROM escrows ORDER BY pubkey');
      const expected = [...offers.values()]
        .sort((a, b) => (a.pubkey < b.pubkey ? -1 : 1))
        .map((o) => ({
          pubkey: o.pubkey,
          amount_a: o.amountA.toString(),
          amount_b: o.amountB.toString(),
          state: o.state,
          maker: o.maker,
        }));
      expect(escrows.map((r) => ({ ...r, amount_a: String(r.amount_a), amount_b: String(r.amount_b) }))).to.deep.equal(
        expected,
      );
      const got = await rows('SELECT signature, escrow_pubkey, event_type, slot FROM escrow_events ORDER BY slot');
      expect(
        got.map((r) => ({ signature: r.signature, escrow: r.escrow_pubkey, kind: r.event_type, slot: Number(r.slot) })),
      ).to.deep.equal(events);
    };

    const waitForAll = async () => {
      await eventually(
        async () => (await rows('SELECT count(*) AS n FROM escrow_events'))[0]!.n == events.length,
        `${events.length} events`,
      );
      await ingester!.settled();
    };

    beforeEach(async () => {
      test = await createTestDatabase(dialect);
      ledger = new LocalLedger({ seed: `ingest-${dialect}`, firstSlot: 500 });
      logLines = [];
      offers = new Map();
      events = [];
      ingester = null;
    });

    afterEach(async () => {
      await ingester?.close();
      await server.close();
      await test.drop();
    });

    it('writes exactly the rows of live activity, and checkpoints the last transaction', async () => {
      server = await startRpcServer({ ledger });
      const before = play('created');
      await start().ready;
      const first = play('created');
      play('funded', first);
      play('completed', first);
      for (let i = 0; i < 20; i++) play('created');
      await waitForAll();
      // The offer made before the first start comes from the program's accounts and recent history.
      expect(offers.has(before.pubkey)).to.equal(true);
      await expectExactRows();
      const [checkpoint] = await rows('SELECT program_id, slot, signature FROM solstream_checkpoints');
      expect(checkpoint).to.deep.include({ program_id: programId, signature: events.at(-1)!.signature });
    });

    it('fills the gap left while it was stopped, exactly', async () => {
      server = await startRpcServer({ ledger });
      await start().ready;
      const a = play('created');
      play('created');
      await waitForAll();
      await ingester!.close();

      play('funded', a);
      for (let i = 0; i < 30; i++) play('created');
      play('completed', a);

      await start().ready;
      await waitForAll();
      await expectExactRows();
      expect(ingester!.stats.backfilledTransactions).to.equal(32);
    });

    it('misses nothing when the RPC websocket drops mid-stream', async () => {
      server = await startRpcServer({ ledger });
      await start().ready;
      for (let i = 0; i < 5; i++) play('created');
      await waitForAll();
      server.dropConnections();
      // Activity while web3.js is reconnecting (it waits a second before it tries).
      const a = play('created');
      for (let i = 0; i < 5; i++) play('created');
      play('funded', a);
      await eventually(() => ingester!.stats.catchUps >= 2, 'a catch-up after the reconnect');
      for (let i = 0; i < 5; i++) play('created');
      await waitForAll();
      await expectExactRows();
      expect(ingester!.stats.reconnects).to.equal(1);
    });

    it('writes no duplicate rows when every notification arrives twice', async () => {
      server = await startRpcServer({ ledger, duplicateNotifications: true });
      await start().ready;
      const a = play('created');
      play('funded', a);
      for (let i = 0; i < 10; i++) play('created');
      await eventually(() => ingester!.stats.transactions >= 2 * events.length, 'every duplicate processed');
      await waitForAll();
      await expectExactRows();
    });

    it('logs account data that does not decode with its pubkey and carries on', async () => {
      server = await startRpcServer({ ledger });
      await start().ready;
      const garbage = testKey(`${dialect}-garbage`);
      ledger.submit({
        feePayer: testKey('payer'),
        instructions: [],
        logMessages: [],
        accountWrites: [{ pubkey: garbage, owner: programId, lamports: 1n, data: Uint8Array.from([1, 2, 3]) }],
      });
      play('created');
      await waitForAll();
      await expectExactRows();
      await eventually(() => logLines.some((l) => l.pubkey === garbage), 'the log line');
      const line = logLines.find((l) => l.pubkey === garbage)!;
      expect(line.msg).to.match(/does not decode/);
      expect(ingester!.stats.decodeErrors).to.equal(1);
    });
  });
}

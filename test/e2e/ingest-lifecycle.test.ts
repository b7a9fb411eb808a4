// The ingester as an operator runs it, against a cluster that keeps producing in its own process:
// a first start with history on the chain, SIGTERM and restart, kill -9 and restart, and a second
// gateway taking over from a killed one. Ground truth is the cluster itself (test/support/
// ground-truth.ts: every signature and account it holds, decoded independently of solstream);
// after each scenario the database must hold exactly that, and no process may have logged an
// error (a rejected or skipped update is one). Run against `solstream simulate` and against the
// independent cluster of test/independent.
import { expect } from 'chai';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { startIndependent, startSimulate, type ClusterOptions, type TestCluster } from '../support/clusters.ts';
import { createEmptyDatabase } from '../support/database.ts';
import { chainTruth, differences } from '../support/ground-truth.ts';
import { eventually, getJson, servedUrl, SolstreamProcess } from '../support/processes.ts';

interface ReadyBody {
  readonly ready: boolean;
  readonly ingest?: { readonly role: string; readonly ingester?: { readonly phase: string } };
}

const CLUSTERS: readonly { name: string; start: (options: ClusterOptions) => Promise<TestCluster> }[] = [
  { name: 'solstream simulate', start: startSimulate },
  { name: 'the independent cluster', start: startIndependent },
];

for (const { name, start } of CLUSTERS) {
  describe(`ingest lifecycle against ${name} (postgres)`, function () {
    this.timeout(240_000);
    let cluster: TestCluster;
    let database: { url: string; remove(): Promise<void> };
    let db: Database;
    const processes: SolstreamProcess[] = [];

    const serve = (label: string, extra: Record<string, string> = {}) => {
      const process = SolstreamProcess.start(label, ['serve'], {
        DATABASE_URL: database.url,
        PORT: '0',
        SOLANA_RPC_URL: cluster.rpcUrl,
        SOLANA_WS_URL: cluster.wsUrl,
        SOLSTREAM_INGEST: 'rpc',
        SOLSTREAM_RPC_RETRY_BASE_MS: '50',
        ...extra,
      });
      processes.push(process);
      return process;
    };

    /** The gateway's /readyz once `accept` holds for it. */
    const readiness = (url: string, accept: (body: ReadyBody) => boolean, what: string) =>
      eventually(async () => {
        const { body } = await getJson<ReadyBody>(`${url}/readyz`);
        return accept(body) ? body : null;
      }, what);

    const ingestingLive = (url: string) =>
      readiness(url, (b) => b.ingest?.role === 'ingesting' && b.ingest.ingester?.phase === 'live', 'ingesting, live');

    /** Holds the chain still and waits until the database equals it; fails with the differences. */
    const expectDatabaseEqualsChain = async () => {
      await cluster.pause();
      const truth = await chainTruth(cluster.rpcUrl);
      let last: string[] = [];
      try {
        await eventually(
          async () => (last = await differences(db, truth)).length === 0,
          'the database to equal the chain',
          60_000,
          500,
        );
      } catch {
        expect(last.slice(0, 40), `${last.length} differences`).to.deep.equal([]);
      }
      for (const table of ['transactions', 'escrows', 'pools', 'swaps', 'listings', 'sales', 'proposals', 'votes'])
        expect(truth[table]?.size ?? 0, `${table} on the chain`).to.be.greaterThan(0);
      await cluster.resume();
    };

    const expectNoErrors = () => {
      for (const p of processes)
        expect(
          p.errors().map((l) => JSON.stringify(l)),
          `${p.name} logged errors`,
        ).to.deep.equal([]);
    };

    beforeEach(async () => {
      cluster = await start({ seed: 5, rate: 25, history: 200 });
      database = await createEmptyDatabase('postgres');
      db = await openDatabase({ databaseUrl: database.url, dialect: 'postgres', sqlitePath: null, poolMax: 2 });
    });

    afterEach(async () => {
      await Promise.all(processes.splice(0).map((p) => p.kill()));
      await db?.close();
      await database?.remove();
      await cluster?.close();
    });

    it('stores exactly what the chain holds across a first start with history, SIGTERM and kill -9', async () => {
      const first = serve('serve-1');
      await ingestingLive(await servedUrl(first));
      await cluster.advance(30);
      expect((await first.stop()).code, 'serve exits 0 on SIGTERM').to.equal(0);
      await cluster.advance(30); // produced while nothing ingests
      const second = serve('serve-2');
      await ingestingLive(await servedUrl(second));
      await cluster.advance(30);
      await second.kill();
      await cluster.advance(30);
      const third = serve('serve-3');
      const url = await servedUrl(third);
      await ingestingLive(url);
      await cluster.advance(30);
      await expectDatabaseEqualsChain();
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).to.match(/solstream_ingest_role\{role="ingesting"\} 1/);
      expect(metrics).to.not.match(/solstream_ingest_skipped_total\{[^}]*\} [1-9]/);
      expectNoErrors();
    });

    it('ends every pool’s reserves at its vaults after live swaps across websocket drops', async () => {
      const gateway = serve('serve');
      const url = await servedUrl(gateway);
      await ingestingLive(url);
      for (let i = 0; i < 3; i++) {
        await cluster.advance(15);
        await cluster.dropWebsockets();
        await cluster.advance(15);
        await ingestingLive(url);
      }
      await expectDatabaseEqualsChain();
      const gaps = gateway.lines.filter((l) => String(l.msg).startsWith('the live source may have missed updates'));
      expect(gaps.length, 'each drop is seen and caught up').to.be.at.least(3);
      expectNoErrors();
    });

    it('fails over to a standby gateway when the ingesting one is killed, losing and repeating nothing', async () => {
      const a = serve('serve-a');
      const b = serve('serve-b');
      const [urlA, urlB] = await Promise.all([servedUrl(a), servedUrl(b)]);
      const leader = await eventually(async () => {
        for (const [process, url] of [
          [a, urlA],
          [b, urlB],
        ] as const) {
          const { body } = await getJson<ReadyBody>(`${url}/readyz`);
          if (body.ingest?.role === 'ingesting' && body.ingest.ingester?.phase === 'live') return { process, url };
        }
        return null;
      }, 'one gateway ingesting');
      const [standby, standbyUrl] = leader.process === a ? [b, urlB] : [a, urlA];
      expect((await getJson<ReadyBody>(`${standbyUrl}/readyz`)).body.ingest?.role).to.equal('standby');
      await cluster.advance(30);
      await leader.process.kill();
      await ingestingLive(standbyUrl);
      await cluster.advance(30);
      await expectDatabaseEqualsChain();
      expect(standby.lines.some((l) => l.msg === 'this process ingests')).to.equal(true);
      expectNoErrors();
    });
  });
}

describe('several gateways started together (postgres)', function () {
  this.timeout(120_000);

  it('all come up on a fresh database, migrating it once', async () => {
    const database = await createEmptyDatabase('postgres');
    const gateways = [1, 2, 3].map((n) =>
      SolstreamProcess.start(`serve-${n}`, ['serve'], {
        DATABASE_URL: database.url,
        PORT: '0',
        SOLSTREAM_INGEST: 'off',
      }),
    );
    try {
      const urls = await Promise.all(gateways.map(servedUrl));
      for (const url of urls) expect((await getJson<{ ready: boolean }>(`${url}/readyz`)).body.ready).to.equal(true);
      const applied = gateways.filter((g) => g.lines.some((l) => l.msg === 'migrations applied'));
      expect(applied.length, 'one gateway applies the migrations').to.equal(1);
      for (const g of gateways) expect(g.errors()).to.deep.equal([]);
    } finally {
      await Promise.all(gateways.map((g) => g.kill()));
      await database.remove();
    }
  });
});

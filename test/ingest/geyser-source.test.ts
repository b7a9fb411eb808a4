// The Yellowstone (Geyser gRPC) source through the official client, against the local cluster's
// endpoint: the same activity ingested through it and through websocket RPC gives identical
// tables; a stream broken mid-activity resumes with from_slot, and where the server cannot
// replay, through an RPC catch-up; a restart resumes from the checkpoints. Every scenario ends
// with the database equal to the chain (test/support/ground-truth.ts).
import { expect } from 'chai';
import { pino } from 'pino';
import { QueryTypes } from 'sequelize';
import { loadSolanaConfig } from '../../src/config.ts';
import type { Database } from '../../src/db/connection.ts';
import { TABLES, TOPICS } from '../../src/db/schema.ts';
import { startIngester, type Ingester } from '../../src/ingest/ingester.ts';
import { buildPrograms, parseProgramsConfig } from '../../src/programs/registry.ts';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../src/simulate/cluster.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { chainTruth, differences } from '../support/ground-truth.ts';
import { eventually } from '../support/processes.ts';

/** Every table's rows without the columns the database fills itself, in a stable order. */
async function dump(db: Database): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const topic of TOPICS) {
    const columns = Object.keys(TABLES[topic].columns).filter((c) => !['id', 'created_at', 'updated_at'].includes(c));
    const rows = await db.sequelize.query<Record<string, unknown>>(`SELECT ${columns.join(', ')} FROM ${topic}`, {
      type: QueryTypes.SELECT,
    });
    out[topic] = rows.map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

describe('Geyser gRPC source (postgres)', function () {
  this.timeout(120_000);
  let cluster: LocalCluster;
  const databases: TestDatabase[] = [];
  const ingesters: Ingester[] = [];
  let errors: Record<string, unknown>[];

  const start = async (options: Partial<LocalClusterOptions> = {}) => {
    cluster = await startLocalCluster({ port: 0, seed: 21, rate: 0, ...options });
  };

  const ingest = (db: TestDatabase, source: 'geyser' | 'rpc-websocket') => {
    const env = {
      SOLANA_RPC_URL: cluster.rpcUrl,
      SOLANA_WS_URL: cluster.wsUrl,
      SOLSTREAM_SOURCE: source,
      SOLSTREAM_GEYSER_URL: cluster.geyserUrl ?? '',
      SOLSTREAM_RPC_RETRY_BASE_MS: '10',
    };
    const logger = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (Number(parsed.level) >= 50) errors.push(parsed);
        },
      },
    );
    const ingester = startIngester({
      db: db.db,
      config: { solana: loadSolanaConfig(env) },
      programs: buildPrograms(parseProgramsConfig(undefined)),
      logger,
    });
    ingesters.push(ingester);
    expect(ingester.status().source).to.equal(source);
    return ingester;
  };

  const play = (n: number) => {
    for (let i = 0; i < n; i++) cluster.player.step();
  };

  const expectEqualsChain = async (test: TestDatabase, ingester: Ingester) => {
    await ingester.settled();
    const truth = await chainTruth(cluster.rpcUrl);
    let last: string[] = [];
    try {
      await eventually(async () => (last = await differences(test.db, truth)).length === 0, 'the chain', 30_000);
    } catch {
      expect(last.slice(0, 30), `${last.length} differences`).to.deep.equal([]);
    }
    expect(errors).to.deep.equal([]);
  };

  beforeEach(() => {
    errors = [];
  });

  afterEach(async () => {
    await Promise.all(ingesters.splice(0).map((i) => i.close()));
    await cluster?.close();
    await Promise.all(databases.splice(0).map((d) => d.drop()));
  });

  const database = async () => {
    const test = await createTestDatabase('postgres');
    databases.push(test);
    return test;
  };

  it('writes the same tables as the websocket RPC source for the same activity', async () => {
    await start();
    play(120);
    const [viaRpc, viaGeyser] = [await database(), await database()];
    const rpc = ingest(viaRpc, 'rpc-websocket');
    const geyser = ingest(viaGeyser, 'geyser');
    await Promise.all([rpc.ready, geyser.ready]);
    play(120);
    await expectEqualsChain(viaGeyser, geyser);
    await expectEqualsChain(viaRpc, rpc);
    const [a, b] = [await dump(viaRpc.db), await dump(viaGeyser.db)];
    for (const topic of TOPICS) expect(b[topic], topic).to.deep.equal(a[topic]);
    expect(a['swaps']?.length).to.be.greaterThan(0);
  });

  it('resumes a stream broken mid-activity with from_slot: nothing read back over RPC, nothing missed', async () => {
    await start();
    play(40);
    const test = await database();
    const ingester = ingest(test, 'geyser');
    await ingester.ready;
    play(30);
    await ingester.settled();
    const catchUps = ingester.stats.catchUps;
    expect(cluster.breakGeyserStreams()).to.equal(1);
    play(40); // while the stream is down
    await eventually(async () => ingester.connection !== null && ingester.status().phase === 'live', 'live again');
    play(20);
    await expectEqualsChain(test, ingester);
    expect(ingester.stats.catchUps, 'no RPC catch-up after a replayed break').to.equal(catchUps);
  });

  it('reads the gap back over RPC when the server cannot replay', async () => {
    await start({ geyser: { replaySlots: null } });
    play(40);
    const test = await database();
    const ingester = ingest(test, 'geyser');
    await ingester.ready;
    play(30);
    await ingester.settled();
    const catchUps = ingester.stats.catchUps;
    cluster.breakGeyserStreams();
    play(40);
    await eventually(async () => ingester.stats.catchUps > catchUps, 'an RPC catch-up');
    play(20);
    await expectEqualsChain(test, ingester);
    expect(ingester.stats.gaps).to.be.greaterThan(0);
  });

  it('resumes from the checkpoints with from_slot after a restart', async () => {
    await start();
    play(40);
    const test = await database();
    const first = ingest(test, 'geyser');
    await first.ready;
    play(30);
    await first.settled();
    await first.close();
    play(50); // while nothing ingests
    const second = ingest(test, 'geyser');
    await second.ready;
    play(20);
    await expectEqualsChain(test, second);
    expect(second.stats.catchUps, 'replayed by the server, not read back').to.equal(0);
  });
});

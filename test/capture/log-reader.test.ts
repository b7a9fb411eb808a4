// The database log reader with a read replica: replays and snapshots come from the replica when it
// has replayed far enough, from the primary when it lags. The "replica" here is a copy of the
// database taken at one moment (CREATE DATABASE … TEMPLATE), which then lags for ever.
import crypto from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { readChanges } from '../../src/capture/change-log.ts';
import { openDatabaseLogReader } from '../../src/capture/log-reader.ts';
import { openDatabase, type Database } from '../../src/db/connection.ts';
import { createTestDatabase, POSTGRES_ADMIN_URL, type TestDatabase } from '../support/database.ts';
import { Writer } from '../support/gateway.ts';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('change log reader with a read replica (postgres)', function () {
  this.timeout(60_000);
  let primary: TestDatabase;
  let replica: Database;
  const copyName = `solstream_test_${crypto.randomBytes(6).toString('hex')}`;
  let writer: Writer;
  let pool: string;

  before(async () => {
    primary = await createTestDatabase('postgres');
    writer = await Writer.open(primary);
    pool = await writer.insertPool();
    for (let slot = 1; slot <= 3; slot++) await writer.insertSwap(pool, slot);
    await writer.close();
    await primary.db.close();
    await admin(`CREATE DATABASE ${copyName} TEMPLATE ${new URL(primary.url).pathname.slice(1)}`);
    const url = new URL(primary.url);
    url.pathname = `/${copyName}`;
    replica = await openDatabase({ databaseUrl: url.toString(), dialect: 'postgres', sqlitePath: null });
    primary = {
      ...primary,
      db: await openDatabase({ databaseUrl: primary.url, dialect: 'postgres', sqlitePath: null }),
    };
    writer = await Writer.open(primary);
    // Committed after the copy: only the primary has these.
    for (let slot = 4; slot <= 6; slot++) await writer.insertSwap(pool, slot);
  });
  after(async () => {
    await writer?.close();
    await replica?.close();
    await admin(`DROP DATABASE IF EXISTS ${copyName} WITH (FORCE)`);
    await primary?.drop();
  });

  it('replays from the replica what it has, and from the primary what it has not replayed yet', async () => {
    const reader = await openDatabaseLogReader(primary.db, { replica });
    const log = await readChanges(primary.db, { after: '0', limit: 100 });
    const swaps = log.filter((c) => c.topic === 'swaps');
    const [third, newest] = [swaps[2]!.cursor, swaps[5]!.cursor];
    // Up to the copy's newest change: the replica can answer (and does: it is the same data).
    expect((await reader.replay('swaps', '0', third, 100)).map((c) => c.row.slot)).to.deep.equal([1, 2, 3]);
    // Beyond it: a replay read only from the replica would stop at slot 3.
    expect((await reader.replay('swaps', '0', newest, 100)).map((c) => c.row.slot)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    // A cursor the replica has not reached yet is valid all the same.
    expect((await reader.replay('swaps', third, newest, 100)).map((c) => c.row.slot)).to.deep.equal([4, 5, 6]);
  });

  it("takes snapshots on the replica, at the replica's own consistent cursor", async () => {
    const reader = await openDatabaseLogReader(primary.db, { replica });
    const { cursor, result } = await reader.snapshot(async (query) =>
      query('SELECT slot FROM swaps WHERE pool_pubkey = $1 ORDER BY slot', [pool]),
    );
    expect(result.map((r) => Number(r.slot))).to.deep.equal([1, 2, 3]);
    const swaps = (await readChanges(primary.db, { after: '0', limit: 100 })).filter((c) => c.topic === 'swaps');
    expect(cursor).to.equal(swaps[2]!.cursor);
  });
});

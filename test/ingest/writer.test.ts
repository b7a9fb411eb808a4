import { expect } from 'chai';
import { upsertRows } from '../../src/db/repositories/index.ts';
import { BatchWriter, type Update } from '../../src/ingest/writer.ts';
import { silentLogger } from '../../src/log.ts';
import type { DecodedRow } from '../../src/programs/types.ts';
import pg from 'pg';
import { DIALECTS, POSTGRES_ADMIN_URL, createTestDatabase, type TestDatabase } from '../support/database.ts';
import { testKey } from '../simulate/sample-program.ts';

const pool = (pubkey: string, slot: number, reserve: string): DecodedRow<'pools'> => ({
  topic: 'pools',
  account: { pubkey, slot },
  row: {
    pubkey,
    token_a_mint: testKey('a'),
    token_b_mint: testKey('b'),
    token_a_vault: testKey('va'),
    token_b_vault: testKey('vb'),
    lp_mint: testKey('lp'),
    fee_rate: 25,
    token_a_reserve: reserve,
    created_slot: 1,
  },
});

for (const dialect of DIALECTS) {
  describe(`ingest writer (${dialect})`, () => {
    let test: TestDatabase;
    let writer: BatchWriter;
    const key = testKey('pool');
    const reserve = async () =>
      String(
        (
          (await test.db.sequelize.query(`SELECT token_a_reserve FROM pools WHERE pubkey = '${key}'`))[0][0] as {
            token_a_reserve: unknown;
          }
        ).token_a_reserve,
      );
    const update = (row: DecodedRow, checkpoint?: Update['checkpoint']): Update => ({
      rows: [row],
      source: 'test',
      ...(checkpoint ? { checkpoint } : {}),
    });

    beforeEach(async () => {
      test = await createTestDatabase(dialect);
      writer = new BatchWriter(test.db, { upsert: upsertRows, logger: silentLogger });
    });
    afterEach(() => test.drop());

    it('never lets state read at an older slot overwrite newer state, across and within batches', async () => {
      await writer.write([update(pool(key, 10, '18446744073709551615'))]);
      const stale = await writer.write([update(pool(key, 9, '1'))]);
      expect(stale.staleRows).to.equal(1);
      expect(await reserve()).to.equal('18446744073709551615');
      await writer.write([update(pool(key, 12, '3')), update(pool(key, 11, '2'))]);
      expect(await reserve()).to.equal('3');
    });

    it('changes nothing when the same update is written twice', async () => {
      await writer.write([update(pool(key, 10, '5'))]);
      const [before] = (await test.db.sequelize.query('SELECT count(*) AS n FROM solstream_change_log'))[0] as {
        n: unknown;
      }[];
      await writer.write([update(pool(key, 10, '5'))]);
      const [after] = (await test.db.sequelize.query('SELECT count(*) AS n FROM solstream_change_log'))[0] as {
        n: unknown;
      }[];
      expect(Number(after!.n)).to.equal(Number(before!.n));
    });

    it('keeps the checkpoint from moving back and skips an update the database rejects', async () => {
      const programId = testKey('program');
      await writer.write([{ rows: [], source: 'a', checkpoint: { programId, slot: 20, signature: 'sig20' } }]);
      await writer.write([{ rows: [], source: 'b', checkpoint: { programId, slot: 15, signature: 'sig15' } }]);
      // A swap naming a pool that does not exist breaks the foreign key: skipped, checkpoint still advances.
      const orphan: DecodedRow<'swaps'> = {
        topic: 'swaps',
        row: {
          pool_pubkey: testKey('no-such-pool'),
          user_address: testKey('u'),
          input_mint: testKey('a'),
          output_mint: testKey('b'),
          input_amount: '1',
          output_amount: '1',
          fee_amount: '0',
          signature: 'sig30',
          slot: 30,
        },
      };
      const result = await writer.write([
        { rows: [orphan], source: 'sig30', checkpoint: { programId, slot: 30, signature: 'sig30' } },
        update(pool(key, 31, '7')),
      ]);
      expect(result.failedUpdates).to.equal(1);
      expect(await reserve()).to.equal('7');
      const checkpoints = await writer.readCheckpoints();
      expect(checkpoints.get(programId)).to.deep.equal({ programId, slot: 30, signature: 'sig30' });
    });
  });
}

describe('ingest writer while PostgreSQL refuses connections', () => {
  it('holds the batch and writes it once the database is back, skipping nothing', async function () {
    this.timeout(30_000);
    const test = await createTestDatabase('postgres');
    const name = new URL(test.url).pathname.slice(1);
    const admin = async (sql: string) => {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    };
    try {
      const writer = new BatchWriter(test.db, { upsert: upsertRows, logger: silentLogger });
      const key = testKey('pool-during-outage');
      // The database goes away: no new connections, and the pooled ones are cut.
      await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
      const written = writer.write([
        {
          rows: [pool(key, 10, '42')].map((r) => ({
            ...r,
            row: { ...r.row, pubkey: key },
            account: { pubkey: key, slot: 10 },
          })),
          source: 'outage',
        },
      ]);
      let settled = false;
      void written.finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(settled, 'the batch waits for the database').to.equal(false);
      await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      const result = await written;
      expect(result.failedUpdates).to.equal(0);
      const [rows] = await test.db.sequelize.query(`SELECT token_a_reserve FROM pools WHERE pubkey = '${key}'`);
      expect(rows).to.deep.equal([{ token_a_reserve: '42' }]);
    } finally {
      await admin(`ALTER DATABASE ${new URL(test.url).pathname.slice(1)} ALLOW_CONNECTIONS true`).catch(
        () => undefined,
      );
      await test.drop();
    }
  });
});

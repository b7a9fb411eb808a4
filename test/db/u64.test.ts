import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { readChanges } from '../../src/capture/change-log.ts';
import type { Database } from '../../src/db/connection.ts';
import { findByPubkey, modelsFor, upsertRows } from '../../src/db/repositories/index.ts';
import type { SeedModel } from '../../src/db/models/index.ts';
import { TABLES, TOPICS, u64Columns, type Topic } from '../../src/db/schema.ts';
import { DIALECTS } from '../support/database.ts';
import { countAll, pubkey, sampleRow, U64_MAX, type Parents, type Row, withSeededDatabase } from './fixtures.ts';

const MODEL_NAMES = {
  accounts: 'Account',
  transactions: 'Transaction',
  escrows: 'Escrow',
  escrow_events: 'EscrowEvent',
  listings: 'Listing',
  sales: 'Sale',
  collections: 'Collection',
  pools: 'Pool',
  swaps: 'Swap',
  liquidity_events: 'LiquidityEvent',
  governances: 'Governance',
  proposals: 'Proposal',
  votes: 'Vote',
  executions: 'Execution',
} as const satisfies Record<Topic, string>;

function modelOf(db: Database, topic: Topic): SeedModel<Topic> {
  return modelsFor(db)[MODEL_NAMES[topic]] as unknown as SeedModel<Topic>;
}

/** WHERE on the row's natural key. */
function keyOf(topic: Topic, row: Row): Row {
  return Object.fromEntries(
    TABLES[topic].naturalKey.map((c) => [c, typeof row[c] === 'bigint' ? String(row[c]) : row[c]]),
  );
}

const FIND_BY_PUBKEY = new Set<Topic>([
  'accounts',
  'escrows',
  'listings',
  'pools',
  'governances',
  'proposals',
  'votes',
]);
const U64_TOPICS = TOPICS.filter((t) => u64Columns(t).length > 0);
const INVALID: [string, unknown][] = [
  ['2^64 (one above u64::MAX)', '18446744073709551616'],
  ['a negative value', '-1'],
  ['a fraction', '1.5'],
  ['a leading zero', '01'],
  ['a negative number', -1],
  ['a fractional number', 1.5],
  ['an unsafe number', 2 ** 64],
];

for (const dialect of DIALECTS) {
  describe(`u64 amounts (${dialect})`, function () {
    this.timeout(60_000);
    let db: Database;
    let parents: Parents;

    withSeededDatabase(dialect, (seeded) => ({ db, parents } = seeded));

    it('covers every u64 column of the catalogue', () => {
      const all = U64_TOPICS.flatMap((t) => u64Columns(t));
      expect(all.length).to.be.greaterThan(25);
    });

    for (const topic of U64_TOPICS) {
      const columns = u64Columns(topic);
      it(`${topic} (${columns.join(', ')}): 0 and u64::MAX round-trip exactly through upsertRows, the model, the repositories, raw SQL and the change log`, async () => {
        for (const value of ['0', U64_MAX]) {
          const row = sampleRow(topic, parents, Object.fromEntries(columns.map((c) => [c, value])));
          expect(await upsertRows(db, topic, [row])).to.deep.equal({ written: 1, unchanged: 0, missing: 0 });

          const instance = await modelOf(db, topic).findOne({ where: keyOf(topic, row) });
          expect(instance, 'row written').to.not.equal(null);
          for (const c of columns) expect(instance?.get(c as never), `model ${c}`).to.equal(value);

          const [raw] = await db.sequelize.query<Row>(
            `SELECT ${columns.join(', ')} FROM ${topic} WHERE ${Object.keys(keyOf(topic, row))
              .map((c, i) => `${c} = $${i + 1}`)
              .join(' AND ')}`,
            { bind: Object.values(keyOf(topic, row)), type: QueryTypes.SELECT },
          );
          for (const c of columns) expect(raw?.[c], `raw ${c}`).to.equal(value);

          if (FIND_BY_PUBKEY.has(topic)) {
            const found = (await findByPubkey(db, topic as 'accounts', row.pubkey as string)) as Row | null;
            for (const c of columns) expect(found?.[c], `findByPubkey ${c}`).to.equal(value);
          }

          const changes = await readChanges(db, { after: '0', topic, limit: 1000 });
          const change = changes.findLast((ch) => Object.entries(keyOf(topic, row)).every(([k, v]) => ch.row[k] === v));
          for (const c of columns) expect(change?.row[c], `change log ${c}`).to.equal(value);
        }
      });

      it(`${topic}: Model.create stores u64::MAX given as a string or a bigint and reads it back as a string`, async () => {
        const model = modelOf(db, topic);
        for (const given of [U64_MAX, BigInt(U64_MAX)]) {
          const row = sampleRow(topic, parents, Object.fromEntries(columns.map((c) => [c, given])));
          await model.create(row as never);
          const back = await model.findOne({ where: keyOf(topic, row) });
          for (const c of columns) expect(back?.get(c as never), `model ${c}`).to.equal(U64_MAX);
        }
      });

      it(`${topic}: values that are not a canonical u64 are rejected naming the column, and nothing is written`, async () => {
        const before = await countAll(db);
        for (const c of columns) {
          for (const [what, value] of INVALID) {
            const row = sampleRow(topic, parents, { [c]: value });
            let caught: unknown;
            try {
              await upsertRows(db, topic, [row]);
            } catch (error) {
              caught = error;
            }
            expect(caught, `upsertRows with ${what} in ${c}`).to.be.instanceOf(Error);
            expect((caught as Error).message, `message for ${what} in ${c}`).to.contain(c);

            caught = undefined;
            try {
              await modelOf(db, topic).create(row as never);
            } catch (error) {
              caught = error;
            }
            expect(caught, `Model.create with ${what} in ${c}`).to.be.instanceOf(Error);
            expect((caught as Error).message, `message for ${what} in ${c}`).to.contain(c);
          }
        }
        expect(await countAll(db)).to.deep.equal(before);
      });

      it(`${topic}: the database itself refuses out-of-range values written with raw SQL`, async () => {
        const before = await countAll(db);
        // NUMERIC(20,0) rounds a fraction on PostgreSQL before any check runs (as the seed's BIGINT
        // does with a numeric literal), so only SQLite's TEXT check can refuse "1.5" and "01".
        const values =
          dialect === 'sqlite' ? ['18446744073709551616', '-1', '1.5', '01', '1e3'] : ['18446744073709551616', '-1'];
        for (const c of columns) {
          for (const value of values) {
            const row = sampleRow(topic, parents, { [c]: value });
            await expectRawInsertToFail(db, topic, row, `${c} = ${value}`);
          }
        }
        expect(await countAll(db)).to.deep.equal(before);
      });
    }

    it("a writer inserting the seed's way (plain integer literals) still works, and reads back decimal strings", async () => {
      const values =
        dialect === 'postgres' ? ['0', '5000', '9223372036854775807', U64_MAX] : ['0', '5000', '9223372036854775807'];
      for (const value of values) {
        const key = pubkey();
        const maker = pubkey();
        await db.sequelize.query(
          `INSERT INTO escrows (pubkey, escrow_id, maker, mint_a, mint_b, amount_a, amount_b, vault, state, created_slot) ` +
            `VALUES ('${key}', ${value}, '${maker}', '${pubkey()}', '${pubkey()}', ${value}, ${value}, '${pubkey()}', 'funded', 5)`,
        );
        await db.sequelize.query(
          `INSERT INTO accounts (pubkey, account_type, lamports) VALUES ('${key}', 'wallet', ${value})`,
        );
        const escrow = await findByPubkey(db, 'escrows', key);
        expect(escrow).to.include({ escrow_id: value, amount_a: value, amount_b: value, maker, state: 'funded' });
        const account = await modelsFor(db).Account.findOne({ where: { pubkey: key } });
        expect(account?.get('lamports')).to.equal(value);
        const [raw] = await db.sequelize.query<Row>(`SELECT amount_a FROM escrows WHERE pubkey = '${key}'`, {
          type: QueryTypes.SELECT,
        });
        expect(raw?.amount_a).to.equal(value);
      }
      // The seed's DEFAULT 0 on u64 columns is the string "0" too.
      const key = pubkey();
      await db.sequelize.query(`INSERT INTO accounts (pubkey, account_type) VALUES ('${key}', 'wallet')`);
      expect((await findByPubkey(db, 'accounts', key))?.lamports).to.equal('0');
    });

    it('orders and compares u64 values above 2^63 numerically', async () => {
      const seller = pubkey();
      const prices = ['9223372036854775808', '18446744073709551615', '99', '9223372036854775807', '100'];
      for (const price of prices) await upsertRows(db, 'listings', [sampleRow('listings', null, { seller, price })]);
      const rows = await db.sequelize.query<{ price: string }>(
        `SELECT price FROM listings WHERE seller = $1 ORDER BY ${dialect === 'postgres' ? 'price' : 'length(price), price'}`,
        { bind: [seller], type: QueryTypes.SELECT },
      );
      expect(rows.map((r) => r.price)).to.deep.equal([
        '99',
        '100',
        '9223372036854775807',
        '9223372036854775808',
        U64_MAX,
      ]);
    });
  });
}

async function expectRawInsertToFail(db: Database, topic: Topic, row: Row, what: string): Promise<void> {
  const columns = Object.keys(row);
  const bind = columns.map((c) => {
    const v = row[c];
    if (v !== null && typeof v === 'object') return JSON.stringify(v);
    if (typeof v === 'boolean') return db.dialect === 'postgres' ? v : v ? 1 : 0;
    return v;
  });
  let caught: unknown;
  try {
    await db.sequelize.query(
      `INSERT INTO ${topic} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
      {
        bind,
      },
    );
  } catch (error) {
    caught = error;
  }
  expect(caught, `raw insert with ${what}`).to.be.instanceOf(Error);
  // Sequelize's SQLite dialect words every constraint failure "Validation error"; the driver's message says which.
  const driver = (caught as { parent?: Error }).parent?.message ?? (caught as Error).message;
  expect(driver, `raw insert with ${what}`).to.match(
    /CHECK constraint failed|violates check constraint "u64_check"|out of range/,
  );
}

import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import type { Database } from '../../src/db/connection.ts';
import { describeWriteError } from '../../src/db/repositories/errors.ts';
import { upsertRows, WriteError, type WriteErrorCode } from '../../src/db/repositories/index.ts';
import type { Topic } from '../../src/db/schema.ts';
import { DIALECTS } from '../support/database.ts';
import { countAll, countRows, pubkey, sampleRow, type Parents, type Row, withSeededDatabase } from './fixtures.ts';

async function changeCount(db: Database, topic: Topic): Promise<number> {
  const [row] = await db.sequelize.query<{ n: string | number }>(
    'SELECT COUNT(*) AS n FROM solstream_change_log WHERE topic = $1',
    {
      bind: [topic],
      type: QueryTypes.SELECT,
    },
  );
  return Number(row?.n);
}

async function lastChange(db: Database, topic: Topic): Promise<{ op: string; row: Row }> {
  const [row] = await db.sequelize.query<{ op: string; row: unknown }>(
    'SELECT op, row FROM solstream_change_log WHERE topic = $1 ORDER BY cursor DESC LIMIT 1',
    { bind: [topic], type: QueryTypes.SELECT },
  );
  if (row === undefined) throw new Error(`no change of ${topic}`);
  return { op: row.op, row: (typeof row.row === 'string' ? JSON.parse(row.row) : row.row) as Row };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the write to fail');
}

function expectWriteError(error: unknown, code: WriteErrorCode, table: string): void {
  expect(error, String(error)).to.be.instanceOf(WriteError);
  expect((error as WriteError).code, (error as Error).message).to.equal(code);
  expect((error as WriteError).table).to.equal(table);
  expect((error as Error).message).to.match(new RegExp(`^${table}: `));
}

for (const dialect of DIALECTS) {
  describe(`upsertRows (${dialect})`, function () {
    this.timeout(60_000);
    let db: Database;
    let parents: Parents;

    withSeededDatabase(dialect, (seeded) => ({ db, parents } = seeded));

    describe('idempotence', () => {
      it('stores the same state row twice as one row and captures one change', async () => {
        const row = sampleRow('escrows', null);
        const changes = await changeCount(db, 'escrows');
        const rows = await countRows(db, 'escrows');
        expect(await upsertRows(db, 'escrows', [row])).to.deep.equal({ written: 1, unchanged: 0, missing: 0 });
        expect(await upsertRows(db, 'escrows', [row])).to.deep.equal({ written: 0, unchanged: 1, missing: 0 });
        expect(await countRows(db, 'escrows')).to.equal(rows + 1);
        expect(await changeCount(db, 'escrows')).to.equal(changes + 1);
        expect((await lastChange(db, 'escrows')).op).to.equal('insert');
      });

      it('updates a state row whose columns changed, capturing one update with the new values', async () => {
        const row = sampleRow('escrows', null);
        await upsertRows(db, 'escrows', [row]);
        const changes = await changeCount(db, 'escrows');
        const taker = pubkey();
        expect(
          await upsertRows(db, 'escrows', [{ ...row, state: 'completed', taker, completed_slot: 99 }]),
        ).to.deep.equal({
          written: 1,
          unchanged: 0,
          missing: 0,
        });
        expect(await changeCount(db, 'escrows')).to.equal(changes + 1);
        const change = await lastChange(db, 'escrows');
        expect(change.op).to.equal('update');
        expect(change.row).to.include({ pubkey: row.pubkey, state: 'completed', taker, completed_slot: 99 });
        const [stored] = await db.sequelize.query<Row>('SELECT state, taker FROM escrows WHERE pubkey = $1', {
          bind: [row.pubkey],
          type: QueryTypes.SELECT,
        });
        expect(stored).to.deep.equal({ state: 'completed', taker });
      });

      it('updates only the columns of a partial state row and leaves the others as stored', async () => {
        const row = sampleRow('pools', null);
        await upsertRows(db, 'pools', [row]);
        const changes = await changeCount(db, 'pools');
        expect(await upsertRows(db, 'pools', [{ pubkey: row.pubkey, token_a_reserve: '7' } as Row])).to.deep.equal({
          written: 1,
          unchanged: 0,
          missing: 0,
        });
        expect(await upsertRows(db, 'pools', [{ pubkey: row.pubkey, token_a_reserve: '7' } as Row])).to.deep.equal({
          written: 0,
          unchanged: 1,
          missing: 0,
        });
        const [stored] = await db.sequelize.query<Row>(
          'SELECT token_a_reserve, token_b_reserve, lp_mint FROM pools WHERE pubkey = $1',
          {
            bind: [row.pubkey],
            type: QueryTypes.SELECT,
          },
        );
        expect(stored).to.deep.equal({
          token_a_reserve: '7',
          token_b_reserve: row.token_b_reserve,
          lp_mint: row.lp_mint,
        });
        expect(await changeCount(db, 'pools')).to.equal(changes + 1);
      });

      it('counts a partial state row whose row is not stored yet as missing and writes nothing', async () => {
        const before = await countAll(db);
        const { maker: _maker, ...partial } = sampleRow('escrows', null);
        expect(await upsertRows(db, 'escrows', [partial])).to.deep.equal({ written: 0, unchanged: 0, missing: 1 });
        expect(await countAll(db)).to.deep.equal(before);
      });

      for (const topic of [
        'swaps',
        'sales',
        'escrow_events',
        'liquidity_events',
        'executions',
        'votes',
        'transactions',
      ] as const) {
        it(`stores the same ${topic} row twice as one row and captures one change`, async () => {
          const row = sampleRow(topic, parents);
          const rows = await countRows(db, topic);
          const changes = await changeCount(db, topic);
          expect(await upsertRows(db, topic, [row])).to.deep.equal({ written: 1, unchanged: 0, missing: 0 });
          expect(await upsertRows(db, topic, [row, row])).to.deep.equal({ written: 0, unchanged: 2, missing: 0 });
          expect(await countRows(db, topic)).to.equal(rows + 1);
          expect(await changeCount(db, topic)).to.equal(changes + 1);
        });
      }

      it('stores text and JSON holding NUL, backslashes and a literal \\u0000 without losing a row', async () => {
        // PostgreSQL text cannot hold NUL: it is stored as the two characters \0, as Sequelize
        // stores it in any string parameter. Backslashes and the six characters \u0000 are text
        // like any other. SQLite stores every character as given.
        const nul = '\0';
        const base = sampleRow('transactions', parents);
        const row = {
          ...base,
          instruction_type: `a${nul}b\\${nul}c\\u0000d\\\\u0000`,
          accounts: [`k${nul}`, '\\u0000', { nested: `\\\\${nul}` }],
        };
        expect(await upsertRows(db, 'transactions', [row])).to.deep.equal({ written: 1, unchanged: 0, missing: 0 });
        const [stored] = await db.sequelize.query<{ instruction_type: string; accounts: unknown }>(
          'SELECT instruction_type, accounts FROM transactions WHERE signature = $1',
          { bind: [base['signature']], type: QueryTypes.SELECT },
        );
        const asStored = (text: string) => (dialect === 'postgres' ? text.replaceAll(nul, '\\0') : text);
        expect(stored?.instruction_type).to.equal(asStored(row.instruction_type));
        const accounts = typeof stored?.accounts === 'string' ? JSON.parse(stored.accounts) : stored?.accounts;
        expect(accounts).to.deep.equal([asStored(`k${nul}`), '\\u0000', { nested: asStored(`\\\\${nul}`) }]);
      });

      it('keeps two swaps of one transaction through the same pool when their amounts differ (a route)', async () => {
        const first = sampleRow('swaps', parents);
        const second = { ...first, input_amount: '101' };
        const rows = await countRows(db, 'swaps');
        expect(await upsertRows(db, 'swaps', [first, second, first])).to.deep.equal({
          written: 2,
          unchanged: 1,
          missing: 0,
        });
        expect(await countRows(db, 'swaps')).to.equal(rows + 2);
      });
    });

    describe('constraint violations', () => {
      const cases: { name: string; topic: Topic; code: WriteErrorCode; row: (p: Parents) => Row }[] = [
        {
          name: 'an unknown enum label',
          topic: 'escrows',
          code: 'invalid_value',
          row: () => sampleRow('escrows', null, { state: 'open' }),
        },
        {
          name: 'a missing foreign-key parent',
          topic: 'swaps',
          code: 'missing_parent',
          row: (p) => sampleRow('swaps', { ...p, pool: pubkey() }),
        },
        {
          name: 'a missing proposal for a vote',
          topic: 'votes',
          code: 'missing_parent',
          row: (p) => sampleRow('votes', { ...p, proposal: pubkey() }),
        },
        {
          name: 'an append row without a NOT NULL column',
          topic: 'swaps',
          code: 'missing_value',
          row: (p) => {
            const { user_address: _user, ...rest } = sampleRow('swaps', p);
            return rest;
          },
        },
        {
          name: 'a null for a NOT NULL column',
          topic: 'listings',
          code: 'missing_value',
          row: () => sampleRow('listings', null, { seller: null }),
        },
        {
          name: 'a VARCHAR value that is too long',
          topic: 'transactions',
          code: 'invalid_value',
          row: () => sampleRow('transactions', null, { status: 'x'.repeat(21) }),
        },
        {
          name: 'a pubkey longer than 44 characters',
          topic: 'accounts',
          code: 'invalid_value',
          row: () => sampleRow('accounts', null, { pubkey: 'x'.repeat(45) }),
        },
      ];
      it('refuses a partial state row whose VARCHAR value is too long instead of storing it cut short', async () => {
        const row = sampleRow('pools', null);
        await upsertRows(db, 'pools', [row]);
        const before = await countAll(db);
        const partial = { pubkey: row.pubkey, lp_mint: 'y'.repeat(45) } as Row;
        expectWriteError(await caught(upsertRows(db, 'pools', [partial])), 'invalid_value', 'pools');
        expect(await countAll(db)).to.deep.equal(before);
        const [stored] = await db.sequelize.query<Row>('SELECT lp_mint FROM pools WHERE pubkey = $1', {
          bind: [row.pubkey],
          type: QueryTypes.SELECT,
        });
        expect(stored).to.deep.equal({ lp_mint: row.lp_mint });
      });

      for (const c of cases) {
        it(`refuses ${c.name} with WriteError ${c.code} and writes nothing`, async () => {
          const before = await countAll(db);
          expectWriteError(await caught(upsertRows(db, c.topic, [c.row(parents)])), c.code, c.topic);
          expect(await countAll(db)).to.deep.equal(before);
        });
      }

      it('refuses a second vote by the same voter on a proposal (unique index) with WriteError duplicate_key', async () => {
        const vote = sampleRow('votes', parents);
        await upsertRows(db, 'votes', [vote]);
        const before = await countAll(db);
        const error = await caught(upsertRows(db, 'votes', [{ ...vote, pubkey: pubkey(), signature: pubkey() }]));
        expectWriteError(error, 'duplicate_key', 'votes');
        expect(await countAll(db)).to.deep.equal(before);
      });

      it('reports a duplicate pubkey written with raw SQL as duplicate_key', async () => {
        const row = sampleRow('accounts', null);
        await upsertRows(db, 'accounts', [row]);
        const before = await countAll(db);
        const raw = await caught(
          db.sequelize.query('INSERT INTO accounts (pubkey, account_type) VALUES ($1, $2)', {
            bind: [row.pubkey, 'wallet'],
          }),
        );
        expectWriteError(describeWriteError(raw, 'accounts'), 'duplicate_key', 'accounts');
        expect(await countAll(db)).to.deep.equal(before);
      });

      if (dialect === 'sqlite') {
        it('refuses JSON text that is not valid JSON (SQLite) as invalid_value', async () => {
          const before = await countAll(db);
          const raw = await caught(
            db.sequelize.query(
              "INSERT INTO transactions (signature, slot, fee, status, raw_data) VALUES ($1, 1, '0', 'ok', '{not json')",
              {
                bind: [pubkey()],
              },
            ),
          );
          expectWriteError(describeWriteError(raw, 'transactions'), 'invalid_value', 'transactions');
          expect(await countAll(db)).to.deep.equal(before);
        });
      }

      it('keeps nothing of a multi-row call whose second row fails, not even the first row or its change', async () => {
        const before = await countAll(db);
        const good = sampleRow('escrows', null);
        const bad = sampleRow('escrows', null, { state: 'bogus' });
        const third = sampleRow('escrows', null);
        expectWriteError(await caught(upsertRows(db, 'escrows', [good, bad, third])), 'invalid_value', 'escrows');
        expect(await countAll(db)).to.deep.equal(before);
        const [found] = await db.sequelize.query<{ n: string | number }>(
          'SELECT COUNT(*) AS n FROM escrows WHERE pubkey = $1',
          {
            bind: [good.pubkey],
            type: QueryTypes.SELECT,
          },
        );
        expect(Number(found?.n)).to.equal(0);
      });

      it('keeps nothing of a multi-row append call whose second row has no parent', async () => {
        const before = await countAll(db);
        const good = sampleRow('swaps', parents);
        const orphan = sampleRow('swaps', { ...parents, pool: pubkey() });
        expectWriteError(await caught(upsertRows(db, 'swaps', [good, orphan])), 'missing_parent', 'swaps');
        expect(await countAll(db)).to.deep.equal(before);
      });

      it('refuses a column the table does not have, before writing anything', async () => {
        const before = await countAll(db);
        const error = await caught(upsertRows(db, 'accounts', [{ ...sampleRow('accounts', null), owner: 'x' } as Row]));
        expect(error).to.be.instanceOf(RangeError);
        expect((error as Error).message).to.contain('owner');
        expect(await countAll(db)).to.deep.equal(before);
      });

      it('refuses a column name that joins two real ones, also after rows of those two were written', async () => {
        // Same order of names as the row before, so only the joined name tells the lists apart.
        const row = sampleRow('accounts', null);
        const { pubkey: _key, lamports: _lamports, ...rest } = row;
        await upsertRows(db, 'accounts', [{ pubkey: row['pubkey'], lamports: row['lamports'], ...rest } as Row]);
        const before = await countAll(db);
        const error = await caught(upsertRows(db, 'accounts', [{ 'pubkey,lamports': 'x', ...rest } as unknown as Row]));
        expect(error).to.be.instanceOf(RangeError);
        expect((error as Error).message).to.contain('"pubkey,lamports"');
        expect(await countAll(db)).to.deep.equal(before);
      });
    });
  });
}

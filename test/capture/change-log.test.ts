import crypto from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { QueryTypes } from 'sequelize';
import { pruneChanges, readBounds, readChanges } from '../../src/capture/change-log.ts';
import type { Change } from '../../src/capture/types.ts';
import type { Database } from '../../src/db/connection.ts';
import { modelsFor, upsertRows } from '../../src/db/repositories/index.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/database.ts';
import { createParents, pubkey, sampleRow, U64_MAX } from '../db/fixtures.ts';
import { toWireRow } from '../../src/db/rows.ts';
import { TABLES, TOPICS } from '../../src/db/schema.ts';

/** Every change in the log, oldest first, read in pages. */
async function readAll(db: Database): Promise<Change[]> {
  const out: Change[] = [];
  for (;;) {
    const page = await readChanges(db, { after: out.at(-1)?.cursor ?? '0', limit: 500 });
    out.push(...page);
    if (page.length < 500) return out;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const dialect of DIALECTS) {
  describe(`change log (${dialect})`, function () {
    this.timeout(60_000);
    let test: TestDatabase;
    let db: Database;

    beforeEach(async () => {
      test = await createTestDatabase(dialect);
      db = test.db;
    });
    afterEach(async () => {
      await test.drop();
    });

    it('records inserts, updates and deletes with the row after (or, for a delete, before) the change', async () => {
      const escrow = sampleRow('escrows', null, { amount_a: U64_MAX });
      await upsertRows(db, 'escrows', [escrow]);
      await db.sequelize.query("UPDATE escrows SET state = 'funded', amount_b = '0' WHERE pubkey = $1", {
        bind: [escrow.pubkey],
      });
      await db.sequelize.query('DELETE FROM escrows WHERE pubkey = $1', { bind: [escrow.pubkey] });
      const changes = await readAll(db);
      expect(changes.map((c) => [c.topic, c.op])).to.deep.equal([
        ['escrows', 'insert'],
        ['escrows', 'update'],
        ['escrows', 'delete'],
      ]);
      expect(changes[0]?.row).to.include({ pubkey: escrow.pubkey, amount_a: U64_MAX, state: 'created' });
      expect(changes[1]?.row).to.include({ state: 'funded', amount_a: U64_MAX, amount_b: '0' });
      expect(changes[2]?.row).to.include({ state: 'funded', pubkey: escrow.pubkey });
      for (const change of changes) {
        expect(change.row.created_at).to.match(/Z$/);
        expect(change.committedAt).to.be.a('number').and.greaterThan(Date.parse('2020-01-01'));
      }
      const cursors = changes.map((c) => BigInt(c.cursor));
      expect([...cursors].sort((a, b) => (a < b ? -1 : 1))).to.deep.equal(cursors);
    });

    it('records rows of every kind of column in wire form (JSON parsed, booleans, numbers)', async () => {
      const transaction = sampleRow('transactions', null);
      await upsertRows(db, 'transactions', [transaction]);
      const collection = sampleRow('collections', null, { verified: false });
      await upsertRows(db, 'collections', [collection]);
      const [tx, col] = await readAll(db);
      expect(tx?.row).to.deep.include({
        raw_data: transaction.raw_data,
        accounts: transaction.accounts,
        slot: 100,
        fee: '5000',
      });
      expect(tx?.row.block_time).to.equal('2026-01-02T03:04:05.000Z');
      expect(col?.row).to.include({ verified: false, floor_price: '100' });
    });

    it('records each change with the row as stored, the row before it, and its slot, for every topic', async () => {
      const parents = await createParents(db);
      for (const topic of TOPICS) {
        const first = sampleRow(topic, parents);
        const key = TABLES[topic].naturalKey[0] as string;
        const state = TABLES[topic].kind === 'state';
        // A row without a slot column has the ingester's position for its account as its slot.
        const ownSlot = 'slot' in TABLES[topic].columns;
        if (!ownSlot) {
          await db.sequelize.query(
            'INSERT INTO solstream_state_positions (topic, pubkey, positions, slot) VALUES (?, ?, ?, ?)',
            { replacements: [topic, first[key], '{}', 4242] },
          );
        }
        const before = (await readBounds(db)).newest;
        await upsertRows(db, topic, [first]);
        const stored = async () => {
          const [rows] = await db.sequelize.query(`SELECT * FROM ${topic} WHERE ${key} = ?`, {
            replacements: [first[key]],
          });
          return toWireRow(topic, rows[0] as Record<string, unknown>);
        };
        const inserted: Record<string, unknown> = await stored();
        const changes = await readChanges(db, { after: before, limit: 10 });
        expect(
          changes.map((c) => [c.topic, c.op]),
          topic,
        ).to.deep.equal([[topic, 'insert']]);
        expect(changes[0]?.row, topic).to.deep.equal(inserted);
        expect(changes[0]?.slot, `${topic} slot`).to.equal(ownSlot ? inserted.slot : 4242);
        if (!state) continue;
        // An update carries the row before it; a delete the row it removed.
        await db.sequelize.query(`UPDATE ${topic} SET ${key} = ${key} WHERE ${key} = ?`, {
          replacements: [first[key]],
        });
        await db.sequelize.query(`DELETE FROM ${topic} WHERE ${key} = ?`, { replacements: [first[key]] });
        const later = await readChanges(db, { after: changes[0]?.cursor as string, limit: 10 });
        expect(
          later.map((c) => c.op),
          topic,
        ).to.deep.equal(['update', 'delete']);
        expect(later[0]?.oldRow, `${topic} row before the update`).to.deep.equal(inserted);
        expect({ ...later[0]?.row, updated_at: null }, `${topic} row after`).to.deep.equal({
          ...inserted,
          ...('updated_at' in inserted ? { updated_at: null } : {}),
        });
        expect(later[1]?.row.id, `${topic} deleted row`).to.equal(inserted.id);
        const slot = ownSlot ? inserted.slot : 4242;
        expect(
          later.map((c) => c.slot),
          `${topic} slots`,
        ).to.deep.equal([slot, slot]);
      }
    });

    it('reads pages with after, upTo, topic and limit', async () => {
      for (let i = 0; i < 5; i++) await upsertRows(db, 'accounts', [sampleRow('accounts', null)]);
      await upsertRows(db, 'collections', [sampleRow('collections', null)]);
      const all = await readAll(db);
      expect(all).to.have.length(6);
      const c = all.map((x) => x.cursor);
      expect((await readChanges(db, { after: c[0] as string, limit: 2 })).map((x) => x.cursor)).to.deep.equal(
        c.slice(1, 3),
      );
      expect(
        (await readChanges(db, { after: c[1] as string, upTo: c[3], limit: 100 })).map((x) => x.cursor),
      ).to.deep.equal(c.slice(2, 4));
      expect(
        (await readChanges(db, { after: '0', topic: 'collections', limit: 100 })).map((x) => x.cursor),
      ).to.deep.equal([c[5]]);
      expect(await readChanges(db, { after: c[5] as string, limit: 100 })).to.deep.equal([]);
      expect(await readBounds(db)).to.deep.equal({ newest: c[5], prunedThrough: '0' });
    });

    it('reads exactly what the whole log holds in every window: any after, upTo, topic and limit', async () => {
      // Transactions of one and of several rows, of one topic and of two.
      const shapes: [number, number][] = [
        [1, 0],
        [3, 0],
        [0, 2],
        [2, 1],
        [1, 3],
        [4, 0],
        [0, 1],
        [2, 2],
      ];
      for (const [accounts, collections] of shapes)
        await db.sequelize.transaction(async (transaction) => {
          const rows = (n: number, t: 'accounts' | 'collections') =>
            Array.from({ length: n }, () => sampleRow(t, null));
          if (accounts > 0) await upsertRows(db, 'accounts', rows(accounts, 'accounts'), { transaction });
          if (collections > 0) await upsertRows(db, 'collections', rows(collections, 'collections'), { transaction });
        });
      // The log as plain SQL shows it (a table on SQLite, the view on PostgreSQL).
      const truth = await db.sequelize.query<{ cursor: string | number; topic: string }>(
        'SELECT CAST(cursor AS TEXT) AS cursor, topic FROM solstream_change_log ORDER BY solstream_change_log.cursor',
        { type: QueryTypes.SELECT },
      );
      expect(truth).to.have.length(shapes.reduce((sum, [a, c]) => sum + a + c, 0));
      const cursors = truth.map((c) => String(c.cursor));
      const n = (cursor: string) => BigInt(cursor);
      for (const after of ['0', ...cursors])
        for (const upTo of [undefined, cursors[9], cursors.at(-1)])
          for (const topic of [undefined, 'accounts', 'collections'] as const)
            for (const limit of [2, 100]) {
              const expected = truth
                .filter((c) => n(String(c.cursor)) > n(after))
                .filter((c) => upTo === undefined || n(String(c.cursor)) <= n(upTo))
                .filter((c) => topic === undefined || c.topic === topic)
                .slice(0, limit)
                .map((c) => [String(c.cursor), c.topic]);
              const read = await readChanges(db, {
                after,
                limit,
                ...(upTo === undefined ? {} : { upTo }),
                ...(topic === undefined ? {} : { topic }),
              });
              expect(
                read.map((c) => [c.cursor, c.topic]),
                `after ${after} upTo ${upTo} topic ${topic} limit ${limit}`,
              ).to.deep.equal(expected);
            }
    });

    it('returns a page in numeric cursor order when cursors gain a digit (9, 10, 11)', async () => {
      for (let i = 0; i < 12; i++) await upsertRows(db, 'accounts', [sampleRow('accounts', null)]);
      const page = await readChanges(db, { after: '0', limit: 100 });
      const cursors = page.map((c) => Number(c.cursor));
      expect(cursors).to.have.length(12);
      expect(cursors).to.deep.equal([...cursors].sort((a, b) => a - b));
      expect(cursors.at(-1)).to.be.greaterThan(9);
    });

    it('prunes changes committed before a time and moves the watermark; the newest cursor survives pruning', async () => {
      for (let i = 0; i < 3; i++) await upsertRows(db, 'accounts', [sampleRow('accounts', null)]);
      const all = await readAll(db);
      expect(await pruneChanges(db, Date.now() - 3_600_000)).to.equal(0);
      expect(await pruneChanges(db, Date.now() + 60_000)).to.equal(3);
      expect(await readAll(db)).to.deep.equal([]);
      expect(await readBounds(db)).to.deep.equal({ newest: all[2]?.cursor, prunedThrough: all[2]?.cursor });
      await upsertRows(db, 'accounts', [sampleRow('accounts', null)]);
      const [next] = await readAll(db);
      expect(BigInt(next?.cursor as string) > BigInt(all[2]?.cursor as string)).to.equal(true);
    });

    it('captures rows written through the models too', async () => {
      const { Account } = modelsFor(db);
      const key = pubkey();
      const account = await Account.create({ pubkey: key, account_type: 'wallet', lamports: U64_MAX } as never);
      await account.update({ label: 'renamed' });
      await account.destroy();
      const changes = await readAll(db);
      expect(changes.map((c) => c.op)).to.deep.equal(['insert', 'update', 'delete']);
      expect(changes[1]?.row).to.include({ pubkey: key, label: 'renamed', lamports: U64_MAX });
    });

    it('records nothing for a rolled-back transaction', async () => {
      await db.sequelize
        .transaction(async (transaction) => {
          await upsertRows(db, 'accounts', [sampleRow('accounts', null)], { transaction });
          throw new Error('roll back');
        })
        .catch(() => undefined);
      expect(await readAll(db)).to.deep.equal([]);
    });
  });
}

describe('change log cursors follow commit order under concurrent writers (postgres)', function () {
  this.timeout(120_000);
  let test: TestDatabase;
  const clients: pg.Client[] = [];

  const client = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: test.url });
    await c.connect();
    clients.push(c);
    return c;
  };
  const insertAccount = (c: pg.Client, key: string, label = 'load') =>
    c.query("INSERT INTO accounts (pubkey, account_type, label, lamports) VALUES ($1, 'wallet', $2, 1)", [key, label]);

  beforeEach(async () => {
    test = await createTestDatabase('postgres');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
    await test.drop();
  });

  it('gives a transaction that commits first the smaller cursor, whatever order the rows were written in', async () => {
    const t1 = await client();
    const t2 = await client();
    const first = pubkey();
    const second = pubkey();
    await t1.query('BEGIN');
    await insertAccount(t1, first);
    await t2.query('BEGIN');
    await insertAccount(t2, second);
    await t2.query('COMMIT');

    // A reader between the two commits sees T2's change only.
    const seen = await readChanges(test.db, { after: '0', limit: 100 });
    expect(seen.map((c) => c.row.pubkey)).to.deep.equal([second]);
    const lastSeen = seen[0]?.cursor as string;

    await t1.query('COMMIT');
    const later = await readChanges(test.db, { after: lastSeen, limit: 100 });
    expect(
      later.map((c) => c.row.pubkey),
      'T1 arrives after the cursor the reader holds',
    ).to.deep.equal([first]);
    expect(BigInt(later[0]?.cursor as string) > BigInt(lastSeen)).to.equal(true);
    const all = await readAll(test.db);
    expect(all.map((c) => c.row.pubkey)).to.deep.equal([second, first]);
  });

  it('keeps all changes of one transaction together, in statement order', async () => {
    const t1 = await client();
    const t2 = await client();
    const a = [pubkey(), pubkey(), pubkey()];
    const b = pubkey();
    await t1.query('BEGIN');
    await insertAccount(t1, a[0] as string);
    await t2.query('BEGIN');
    await insertAccount(t2, b);
    await insertAccount(t1, a[1] as string);
    await insertAccount(t1, a[2] as string);
    await t1.query('COMMIT');
    await t2.query('COMMIT');
    expect((await readAll(test.db)).map((c) => c.row.pubkey)).to.deep.equal([...a, b]);
  });

  it('drops what a rolled-back savepoint wrote, captures the rest, and captures again after SET CONSTRAINTS ALL IMMEDIATE', async () => {
    const t1 = await client();
    const [kept, undone, after] = [pubkey(), pubkey(), pubkey()];
    await t1.query('BEGIN');
    await insertAccount(t1, kept);
    await t1.query('SAVEPOINT s');
    await insertAccount(t1, undone);
    await t1.query('ROLLBACK TO SAVEPOINT s');
    // The commit step runs now for what is staged so far, and again at COMMIT for what follows.
    await t1.query('SET CONSTRAINTS ALL IMMEDIATE');
    expect((await t1.query('SELECT count(*)::int AS n FROM solstream_change_log')).rows[0].n).to.equal(1);
    await t1.query('SET CONSTRAINTS ALL DEFERRED');
    await insertAccount(t1, after);
    await t1.query('COMMIT');
    expect((await readAll(test.db)).map((c) => c.row.pubkey)).to.deep.equal([kept, after]);
    const left = await t1.query(
      'SELECT (SELECT count(*) FROM solstream_change_open)::int AS open, ' +
        '(SELECT count(*) FROM solstream_change_entries e WHERE NOT EXISTS ' +
        '(SELECT 1 FROM solstream_change_commits c WHERE c.batch = e.batch))::int AS uncommitted',
    );
    expect(left.rows[0], 'no transaction left open, no entry without its commit').to.deep.equal({
      open: 0,
      uncommitted: 0,
    });
  });

  it('captures a transaction whose first captured statement was in a savepoint it rolled back', async () => {
    const t1 = await client();
    const [undone, kept] = [pubkey(), pubkey()];
    await t1.query('BEGIN');
    await t1.query('SAVEPOINT s');
    await insertAccount(t1, undone);
    await t1.query('ROLLBACK TO SAVEPOINT s');
    await insertAccount(t1, kept);
    await t1.query('COMMIT');
    const changes = await readAll(test.db);
    expect(changes.map((c) => c.row.pubkey)).to.deep.equal([kept]);
  });

  it('a reader polling after the last cursor it saw neither misses nor repeats a change under a random concurrent load', async () => {
    const writers = 8;
    const transactionsPerWriter = 25;
    const committed = new Set<string>();
    const random = (n: number) => crypto.randomInt(n);

    const write = async (c: pg.Client) => {
      for (let i = 0; i < transactionsPerWriter; i++) {
        const keys = Array.from({ length: 1 + random(3) }, () => pubkey());
        await c.query('BEGIN');
        for (const key of keys) {
          await insertAccount(c, key);
          if (random(2) === 0) await sleep(random(4));
        }
        if (random(3) === 0) await c.query("UPDATE accounts SET label = 'touched' WHERE pubkey = $1", [keys[0]]);
        if (random(8) === 0) {
          await c.query('ROLLBACK');
          continue;
        }
        await sleep(random(3));
        await c.query('COMMIT');
        for (const key of keys) committed.add(key);
      }
    };

    let done = false;
    const received: Change[] = [];
    const violations: string[] = [];
    const read = async () => {
      let last = '0';
      for (;;) {
        const finished = done;
        const page = await readChanges(test.db, { after: last, limit: 50 });
        for (const change of page) {
          if (BigInt(change.cursor) <= BigInt(last)) violations.push(`${change.cursor} after ${last}`);
          last = change.cursor;
          received.push(change);
        }
        if (finished && page.length === 0) return;
        if (page.length === 0) await sleep(1);
      }
    };

    const pool = await Promise.all(Array.from({ length: writers }, () => client()));
    const reader = read();
    await Promise.all(pool.map(write));
    done = true;
    await reader;

    expect(violations).to.deep.equal([]);
    const log = await readAll(test.db);
    expect(received.length).to.be.greaterThan(writers * transactionsPerWriter * 0.5);
    expect(
      received.map((c) => c.cursor),
      'changes read incrementally = the whole log',
    ).to.deep.equal(log.map((c) => c.cursor));
    const inserted = new Set(received.filter((c) => c.op === 'insert').map((c) => c.row.pubkey as string));
    expect(inserted).to.deep.equal(committed);

    // Cursor order is commit order: every transaction's changes sit together (the log never interleaves
    // two transactions), which is what a reader that saw a later commit's cursor relies on.
    const [row] = await test.db.sequelize.query<{ n: string }>('SELECT COUNT(*) AS n FROM accounts', {
      type: QueryTypes.SELECT,
    });
    expect(Number(row?.n)).to.equal(committed.size);
  });
});

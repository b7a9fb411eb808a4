import crypto from 'node:crypto';
import { PublicKey } from '@solana/web3.js';
import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { toWireRow } from '../../src/db/rows.ts';
import { compileFilter, FilterError, isPubkey, isSignature } from '../../src/gateway/filters.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/database.ts';

import { pubkey } from '../support/keys.ts';

describe('gateway filters: validation', () => {
  const key = pubkey();
  const invalid: [string, string, unknown, string | undefined][] = [
    ['an unknown column', 'escrows', { owner: key }, 'owner'],
    ['a pubkey that is not base58', 'escrows', { maker: 'not-a-key-0OIl' }, 'maker'],
    ['a pubkey of 31 bytes', 'escrows', { maker: new PublicKey(Buffer.alloc(32, 0)).toBase58().slice(1) }, 'maker'],
    ['a number for a pubkey', 'escrows', { maker: 12 }, 'maker'],
    ['a negative u64', 'escrows', { amount_a: '-1' }, 'amount_a'],
    ['a u64 above 2^64-1', 'escrows', { amount_a: '18446744073709551616' }, 'amount_a'],
    ['a fractional u64', 'escrows', { amount_a: 1.5 }, 'amount_a'],
    ['an unsafe u64 number', 'escrows', { amount_a: 2 ** 60 }, 'amount_a'],
    ['a string for a slot', 'swaps', { slot: '12' }, 'slot'],
    ['an unknown enum label', 'escrows', { state: 'open' }, 'state'],
    ['a string for a boolean', 'votes', { support: 'yes' }, 'support'],
    ['a timestamp without zone', 'escrows', { created_at: '2026-01-01 00:00:00' }, 'created_at'],
    ['a JSON column', 'transactions', { raw_data: 'x' }, 'raw_data'],
    ['a range on a pubkey', 'escrows', { maker: { gte: key } }, 'maker'],
    ['a range on an enum', 'escrows', { state: { gt: 'created' } }, 'state'],
    ['an unknown operator', 'swaps', { slot: { ne: 3 } }, 'slot'],
    ['an empty condition object', 'swaps', { slot: {} }, 'slot'],
    ['in mixed with a range', 'swaps', { slot: { in: [1], gt: 0 } }, 'slot'],
    ['an empty in list', 'swaps', { slot: { in: [] } }, 'slot'],
    ['in that is not a list', 'swaps', { slot: { in: 3 } }, 'slot'],
    ['a bad value inside in', 'escrows', { maker: { in: [key, 'nope'] } }, 'maker'],
    ['a bare array', 'swaps', { slot: [1, 2] }, 'slot'],
    ['null on a NOT NULL column', 'escrows', { maker: null }, 'maker'],
    ['text longer than the column', 'transactions', { status: 'x'.repeat(21) }, 'status'],
    ['a malformed signature', 'swaps', { signature: 'abc' }, 'signature'],
  ];
  for (const [name, topic, filter, column] of invalid) {
    it(`rejects ${name}, naming the column`, () => {
      let caught: unknown;
      try {
        compileFilter(topic as 'escrows', filter);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(FilterError);
      expect((caught as FilterError).column).to.equal(column);
      expect((caught as FilterError).message).to.contain(column);
    });
  }

  it('rejects a filter that is not an object', () => {
    expect(() => compileFilter('escrows', [1])).to.throw(FilterError);
  });

  it('accepts u64 values as safe integers and decimal strings and normalises them', () => {
    const filter = compileFilter('escrows', { amount_a: { gte: 10, lt: '0020' }, state: 'funded' });
    expect(filter.source).to.deep.equal({ amount_a: { gte: '10', lt: '20' }, state: 'funded' });
  });

  it('coerces query-string values only when asked', () => {
    expect(() => compileFilter('swaps', { slot: '5' })).to.throw(FilterError);
    expect(compileFilter('swaps', { slot: '5' }, { coerceStrings: true }).source).to.deep.equal({ slot: 5 });
    expect(compileFilter('votes', { support: 'false' }, { coerceStrings: true }).source).to.deep.equal({
      support: false,
    });
  });

  it('recognises public keys and signatures by decoded length', () => {
    expect(isPubkey('11111111111111111111111111111111')).to.equal(true);
    expect(isPubkey(pubkey())).to.equal(true);
    expect(isPubkey('1111111111111111111111111111111')).to.equal(false);
    const signature = new PublicKey(crypto.randomBytes(32)).toBase58();
    expect(isSignature(signature)).to.equal(false);
    const bs58 = (bytes: Buffer): string => {
      let n = BigInt('0x' + bytes.toString('hex'));
      const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
      let out = '';
      while (n > 0n) {
        out = alphabet[Number(n % 58n)] + out;
        n /= 58n;
      }
      for (const b of bytes)
        if (b === 0) out = '1' + out;
        else break;
      return out;
    };
    expect(isSignature(bs58(crypto.randomBytes(64)))).to.equal(true);
  });
});

describe('gateway filters: predicate over wire rows', () => {
  const maker = pubkey();
  const row = {
    id: 1,
    pubkey: pubkey(),
    maker,
    taker: null,
    amount_a: '18446744073709551615',
    amount_b: '100',
    state: 'funded',
    created_slot: 90,
  };
  const cases: [string, Record<string, unknown>, boolean][] = [
    ['an empty filter', {}, true],
    ['equality on a pubkey', { maker }, true],
    ['equality on another pubkey', { maker: pubkey() }, false],
    ['null equality', { taker: null }, true],
    ['in on an enum', { state: { in: ['created', 'funded'] } }, true],
    ['in that misses', { state: { in: ['completed'] } }, false],
    ['u64 range at the maximum', { amount_a: { gte: '18446744073709551615' } }, true],
    ['u64 range beyond what a double distinguishes', { amount_a: { lt: '18446744073709551615' } }, false],
    ['u64 gt by one', { amount_a: { gt: '18446744073709551614' } }, true],
    ['u64 ranges compare numerically, not lexically', { amount_b: { gt: '99', lt: '1000' } }, true],
    ['u64 equality with a number', { amount_b: 100 }, true],
    ['i64 range inclusive', { created_slot: { gte: 90, lte: 90 } }, true],
    ['i64 range exclusive', { created_slot: { gt: 90 } }, false],
    ['several keys are ANDed', { maker, state: 'created' }, false],
  ];
  for (const [name, filter, expected] of cases) {
    it(`${expected ? 'matches' : 'does not match'} with ${name}`, () => {
      expect(compileFilter('escrows', filter).matches(row)).to.equal(expected);
    });
  }
});

for (const dialect of DIALECTS) {
  describe(`gateway filters: SQL agrees with the predicate (${dialect})`, function () {
    this.timeout(60_000);
    let database: TestDatabase;
    const makers = [pubkey(), pubkey(), pubkey()];
    const amounts = ['0', '9', '10', '99', '100', '9007199254740993', '18446744073709551614', '18446744073709551615'];
    const states = ['created', 'funded', 'completed', 'cancelled'];

    before(async () => {
      database = await createTestDatabase(dialect);
      let i = 0;
      for (const amount of amounts) {
        for (const maker of makers) {
          i++;
          await database.db.sequelize.query(
            `INSERT INTO escrows (pubkey, escrow_id, maker, taker, mint_a, mint_b, amount_a, amount_b, vault, state, created_slot, completed_slot, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
            {
              bind: [
                pubkey(),
                String(i),
                maker,
                i % 2 === 0 ? null : pubkey(),
                pubkey(),
                pubkey(),
                amount,
                String(i * 1000),
                pubkey(),
                states[i % states.length],
                i,
                i % 3 === 0 ? i + 10 : null,
                `2026-01-0${(i % 5) + 1} 00:00:00`,
              ],
            },
          );
        }
      }
    });
    after(async () => database?.drop());

    const filters: Record<string, unknown>[] = [
      {},
      { maker: makers[0] },
      { maker: { in: [makers[0], makers[2]] } },
      { amount_a: '9007199254740993' },
      { amount_a: { gte: '10' } },
      { amount_a: { gt: '99', lte: '18446744073709551614' } },
      { amount_a: { lt: '100' } },
      { amount_a: { in: ['9', '18446744073709551615'] } },
      { amount_b: { gte: 10000, lt: 20000 } },
      { state: 'funded' },
      { state: { in: ['created', 'cancelled'] }, maker: makers[1] },
      { taker: null },
      { completed_slot: null },
      { completed_slot: { gte: 13 } },
      { created_slot: { gt: 3, lt: 20 }, amount_a: { gte: 100 } },
      { created_at: '2026-01-03T00:00:00.000Z' },
    ];
    for (const filter of filters) {
      it(`selects the same rows in SQL as in memory for ${JSON.stringify(filter).slice(0, 90)}`, async () => {
        const compiled = compileFilter('escrows', filter);
        const all = (await database.db.sequelize.query('SELECT * FROM escrows ORDER BY id', {
          type: QueryTypes.SELECT,
        })) as Record<string, unknown>[];
        const expected = all
          .map((r) => toWireRow('escrows', r))
          .filter((r) => compiled.matches(r))
          .map((r) => r.id);
        const where = compiled.toSql(dialect);
        const selected = (await database.db.sequelize.query(
          `SELECT * FROM escrows ${where.sql === '' ? '' : `WHERE ${where.sql}`} ORDER BY id`,
          { type: QueryTypes.SELECT, bind: where.bind as unknown[] },
        )) as Record<string, unknown>[];
        expect(selected.map((r) => toWireRow('escrows', r).id)).to.deep.equal(expected);
        expect(expected.length).to.be.greaterThan(0);
        if (Object.keys(filter).length > 0) expect(expected.length).to.be.lessThan(all.length);
      });
    }
  });
}

// Snapshots read PostgreSQL's text of every column and convert it straight to wire form, by field
// position; the rows must be exactly what the driver's own parsed values give through the same
// conversion.
import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { openDatabaseLogReader } from '../../src/capture/log-reader.ts';
import type { Database } from '../../src/db/connection.ts';
import { upsertRows } from '../../src/db/repositories/index.ts';
import { toWireRow, toWireRows } from '../../src/db/rows.ts';
import { TOPICS } from '../../src/db/schema.ts';
import { sampleRow, U64_MAX, type Parents, withSeededDatabase } from './fixtures.ts';

describe('snapshot rows from column text (postgres)', function () {
  this.timeout(60_000);
  let db: Database;
  let parents: Parents;
  withSeededDatabase('postgres', (seeded) => ({ db, parents } = seeded));

  it('equal the rows read with the driver’s parsers, for every column of every topic', async () => {
    for (const topic of TOPICS) await upsertRows(db, topic, [sampleRow(topic, parents)]);
    // Timestamps with and without fractions, u64 extremes, a negative and a large integer.
    await db.sequelize.query(
      `UPDATE swaps SET created_at = '2026-03-04 05:06:07.891234', input_amount = ${U64_MAX}, slot = 9007199254740991`,
    );
    await db.sequelize.query(`UPDATE pools SET created_at = '1999-12-31 23:59:59'`);
    await db.sequelize.query(`UPDATE escrows SET created_at = '2026-01-01 00:00:00.1'`);
    const reader = await openDatabaseLogReader(db);
    for (const topic of TOPICS) {
      const sql = `SELECT * FROM "${topic}" ORDER BY id`;
      const parsed = await db.sequelize.query<Record<string, unknown>>(sql, { type: QueryTypes.SELECT });
      const { result: text } = await reader.snapshot((query) => query(sql, []));
      const { result: byPosition } = await reader.snapshot(async (query) => {
        expect(query.text, 'PostgreSQL gives each field as text').to.be.a('function');
        const { names, rows } = await query.text!(sql, []);
        return toWireRows(topic, names, rows);
      });
      expect(parsed.length, topic).to.be.greaterThan(0);
      const expected = parsed.map((r) => toWireRow(topic, r));
      expect(
        text.map((r) => toWireRow(topic, r)),
        topic,
      ).to.deep.equal(expected);
      expect(byPosition, `${topic}, converted by position`).to.deep.equal(expected);
      // Same keys in the same order, so the frames are the same text.
      expect(JSON.stringify(byPosition), topic).to.equal(JSON.stringify(expected));
    }
  });
});

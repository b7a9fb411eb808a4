// Lookup indexes for solstream's idempotent writes of append-only rows (swaps, sales, …): "is this
// event already stored?" is a query on the transaction signature, which the seed does not index.
// They are plain, non-unique indexes named solstream_*: other writers are never refused a row.
import type { Migration } from '../src/db/migrator.ts';

const TABLES = ['escrow_events', 'sales', 'swaps', 'liquidity_events', 'executions'];

export const up: Migration = async ({ context: { sequelize } }) => {
  await sequelize.transaction(async (transaction) => {
    for (const table of TABLES) {
      await sequelize.query(`CREATE INDEX solstream_${table}_signature ON ${table} (signature)`, { transaction });
    }
  });
};

export const down: Migration = async ({ context: { sequelize } }) => {
  await sequelize.transaction(async (transaction) => {
    for (const table of TABLES)
      await sequelize.query(`DROP INDEX IF EXISTS solstream_${table}_signature`, { transaction });
  });
};

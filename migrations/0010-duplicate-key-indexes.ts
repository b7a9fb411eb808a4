// The seed indexes eight UNIQUE columns a second time (`pubkey VARCHAR(44) UNIQUE` and then
// `CREATE INDEX idx_accounts_pubkey ON accounts(pubkey)`, and so on): the unique constraint already
// keeps a B-tree on exactly that column, which serves every lookup, ordering and join the second
// one could. The second one only costs: every insert, and every update that cannot stay on its
// page, writes both, and a `transactions` row pays for two B-trees of its 88-character signature.
// Measured on the ingest benchmark (20,000 transactions, batches of 2,000, three alternating
// rounds): PostgreSQL's CPU per persisted update 34.6 against 36.6 µs with them (docs/benchmarks.md).
//
// An index is dropped only where the table still has a unique index on that one column (so a
// database whose owner changed the constraint keeps its index), and `down` creates it again
// exactly as the seed (migration 0001) did. Table and column names, the seed's contract, are
// untouched.
import { QueryTypes, type Transaction } from 'sequelize';
import type { Migration, MigrationContext } from '../src/db/migrator.ts';

/** The seed's second index on a UNIQUE column: its name, table and column (0001 creates it as `down` does). */
export const DUPLICATE_KEY_INDEXES: readonly { name: string; table: string; column: string }[] = [
  { name: 'idx_accounts_pubkey', table: 'accounts', column: 'pubkey' },
  { name: 'idx_transactions_signature', table: 'transactions', column: 'signature' },
  { name: 'idx_escrows_pubkey', table: 'escrows', column: 'pubkey' },
  { name: 'idx_listings_pubkey', table: 'listings', column: 'pubkey' },
  { name: 'idx_collections_mint', table: 'collections', column: 'mint' },
  { name: 'idx_pools_pubkey', table: 'pools', column: 'pubkey' },
  { name: 'idx_governances_pubkey', table: 'governances', column: 'pubkey' },
  { name: 'idx_proposals_pubkey', table: 'proposals', column: 'pubkey' },
];

/** Whether `table` has a unique index (of any name) on `column` alone, without a predicate. */
async function uniqueOn(
  { sequelize, dialect }: MigrationContext,
  table: string,
  column: string,
  transaction: Transaction,
): Promise<boolean> {
  if (dialect === 'postgres') {
    const rows = await sequelize.query(
      `SELECT 1 FROM pg_index ix
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ix.indkey[0]
        WHERE t.oid = to_regclass($1) AND ix.indisunique AND ix.indnatts = 1 AND ix.indpred IS NULL
          AND ix.indexprs IS NULL AND a.attname = $2`,
      { bind: [`public.${table}`, column], transaction, type: QueryTypes.SELECT },
    );
    return rows.length > 0;
  }
  const indexes = await sequelize.query<{ name: string; unique: number; partial: number }>(
    `SELECT name, "unique", partial FROM pragma_index_list($1)`,
    { bind: [table], transaction, type: QueryTypes.SELECT },
  );
  for (const index of indexes) {
    if (index.unique !== 1 || index.partial !== 0) continue;
    const columns = await sequelize.query<{ name: string | null }>(`SELECT name FROM pragma_index_info($1)`, {
      bind: [index.name],
      transaction,
      type: QueryTypes.SELECT,
    });
    if (columns.length === 1 && columns[0]?.name === column) return true;
  }
  return false;
}

export const up: Migration = async ({ context }) => {
  await context.sequelize.transaction(async (transaction) => {
    for (const index of DUPLICATE_KEY_INDEXES) {
      if (!(await uniqueOn(context, index.table, index.column, transaction))) continue;
      await context.sequelize.query(`DROP INDEX IF EXISTS ${index.name}`, { transaction });
    }
  });
};

export const down: Migration = async ({ context: { sequelize } }) => {
  await sequelize.transaction(async (transaction) => {
    for (const { name, table, column } of DUPLICATE_KEY_INDEXES)
      await sequelize.query(`CREATE INDEX IF NOT EXISTS ${name} ON ${table}(${column})`, { transaction });
  });
};

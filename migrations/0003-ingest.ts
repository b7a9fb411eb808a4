// The ingester's bookkeeping, kept beside the rows it covers so that both commit together:
// - solstream_checkpoints: per program, the newest transaction whose rows are written and every
//   older one too (a backfill resumes after it). A row with a null signature means the program's
//   accounts were loaded but no transaction has been seen yet.
// - solstream_account_slots: per table and account, the slot of the state last written, so an
//   update read at an older slot (a late notification, a backfill) never overwrites newer state.
import type { Migration } from '../src/db/migrator.ts';

const DDL = `
CREATE TABLE solstream_checkpoints (
    program_id VARCHAR(44) PRIMARY KEY,
    slot BIGINT NOT NULL,
    signature VARCHAR(88),
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE solstream_account_slots (
    topic VARCHAR(32) NOT NULL,
    pubkey VARCHAR(44) NOT NULL,
    slot BIGINT NOT NULL,
    PRIMARY KEY (topic, pubkey)
);
`;

export const up: Migration = async ({ context: { sequelize } }) => {
  await sequelize.transaction(async (transaction) => {
    for (const statement of DDL.split(/;\s*\n/)
      .map((s) => s.trim())
      .filter((s) => s !== '')) {
      await sequelize.query(statement, { transaction });
    }
  });
};

export const down: Migration = async ({ context: { sequelize } }) => {
  await sequelize.transaction(async (transaction) => {
    await sequelize.query('DROP TABLE IF EXISTS solstream_account_slots', { transaction });
    await sequelize.query('DROP TABLE IF EXISTS solstream_checkpoints', { transaction });
  });
};

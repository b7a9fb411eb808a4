// What several solstream processes sharing one database need to agree on who ingests, and what the
// ingester needs to never move a row backwards:
// - solstream_leases: per job (`ingest`, `relay`), the epoch of its current holder. A new holder
//   bumps it; every write of the ingester checks it in the same transaction (src/db/locks.ts), so
//   a holder that lost its lock can no longer write.
// - solstream_state_positions: per state row (table, account), the chain position each of its
//   columns was last written from, as a JSON object {column: position} with "*" for the columns
//   without their own entry. It replaces solstream_account_slots, whose one slot per row let an
//   account snapshot and an event that touch different columns of one row (a pool's state and its
//   reserves) shadow each other. Positions: 2·slot for a value a transaction in that slot produced,
//   2·slot + 1 for a value read at the end of that slot (an account read or notification).
import type { Migration } from '../src/db/migrator.ts';

export const up: Migration = async ({ context: { sequelize } }) => {
  await sequelize.transaction(async (transaction) => {
    await sequelize.query(
      `CREATE TABLE solstream_leases (
        name VARCHAR(32) PRIMARY KEY,
        epoch BIGINT NOT NULL,
        holder VARCHAR(255) NOT NULL,
        claimed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
      )`,
      { transaction },
    );
    await sequelize.query(
      `CREATE TABLE solstream_state_positions (
        topic VARCHAR(32) NOT NULL,
        pubkey VARCHAR(44) NOT NULL,
        positions TEXT NOT NULL,
        PRIMARY KEY (topic, pubkey)
      )`,
      { transaction },
    );
    // A stored slot said "this row is at slot s"; as a transaction's position it still lets an
    // account read of the same slot (which reflects the whole slot) overwrite it.
    await sequelize.query(
      `INSERT INTO solstream_state_positions (topic, pubkey, positions)
       SELECT topic, pubkey, '{"*":' || CAST(slot * 2 AS TEXT) || '}' FROM solstream_account_slots`,
      { transaction },
    );
    await sequelize.query('DROP TABLE solstream_account_slots', { transaction });
  });
};

export const down: Migration = async ({ context: { sequelize, dialect } }) => {
  await sequelize.transaction(async (transaction) => {
    // Exactly the text of migration 0003 (SQLite keeps a table's CREATE statement as written).
    await sequelize.query(
      'CREATE TABLE solstream_account_slots (\n    topic VARCHAR(32) NOT NULL,\n    pubkey VARCHAR(44) NOT NULL,\n' +
        '    slot BIGINT NOT NULL,\n    PRIMARY KEY (topic, pubkey)\n)',
      { transaction },
    );
    // The newest position of any column, as a slot.
    const newest =
      dialect === 'postgres'
        ? `(SELECT MAX(value::bigint) FROM jsonb_each_text(positions::jsonb)) / 2`
        : `(SELECT MAX(CAST(value AS INTEGER)) FROM json_each(positions)) / 2`;
    await sequelize.query(
      `INSERT INTO solstream_account_slots (topic, pubkey, slot) SELECT topic, pubkey, ${newest} FROM solstream_state_positions`,
      { transaction },
    );
    await sequelize.query('DROP TABLE solstream_state_positions', { transaction });
    await sequelize.query('DROP TABLE solstream_leases', { transaction });
  });
};

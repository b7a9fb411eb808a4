// The change log's identity, so a cursor can say which log it is a position in (src/wire/cursor.ts):
// a random id drawn once, when the log is created. A copy of the database restored from a backup
// carries the same id; what tells the copy apart from the original is read from the server at
// run time (src/capture/log-identity.ts), because it is exactly what a restore does not preserve.
import crypto from 'node:crypto';
import type { Migration } from '../src/db/migrator.ts';

export const up: Migration = async ({ context: { sequelize } }) => {
  await sequelize.transaction(async (transaction) => {
    await sequelize.query(
      `CREATE TABLE solstream_change_log_identity (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        log_id VARCHAR(32) NOT NULL,
        created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
      )`,
      { transaction },
    );
    await sequelize.query('INSERT INTO solstream_change_log_identity (id, log_id) VALUES (1, $1)', {
      bind: [crypto.randomBytes(16).toString('hex')],
      transaction,
    });
  });
};

export const down: Migration = async ({ context: { sequelize } }) => {
  await sequelize.query('DROP TABLE solstream_change_log_identity');
};

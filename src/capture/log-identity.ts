// What identifies "this database's change log", for the epoch every cursor carries
// (src/wire/cursor.ts). A cursor of another log, or of this log before the database was restored,
// must be refused rather than resumed at a position that means something else here.
//
// - log_id: a random id drawn when the log was created (migrations/0006-log-identity.ts). Tells
//   two databases apart, but a backup carries it along.
// - PostgreSQL also contributes what a restore changes: the cluster's system identifier (a new
//   initdb, e.g. pg_dump restored into another server), the database's OID (restored into a new
//   database of the same server) and the WAL timeline (a point-in-time recovery, or the promotion
//   of a standby, starts a new timeline; an asynchronous standby may have lost the primary's last
//   commits, whose cursors it would then hand out again for other changes).
// - SQLite has nothing of the kind: a file copied back keeps its epoch (see docs/deploy.md).
import crypto from 'node:crypto';
import { QueryTypes } from 'sequelize';
import type { Database } from '../db/connection.ts';
import { EPOCH_DIGITS } from '../wire/cursor.ts';

export interface LogIdentity {
  /** The random id stored with the log. */
  readonly logId: string;
  /** The epoch cursors of this log carry: 18 decimal digits derived from everything above. */
  readonly epoch: string;
  /** What the epoch was derived from, for logs. */
  readonly parts: Readonly<Record<string, string>>;
}

/** An 18-digit decimal epoch (no leading zero) from the identity parts. */
export function epochOf(parts: readonly string[]): string {
  const digest = crypto.createHash('sha256').update(parts.join('/')).digest();
  const low = 10n ** BigInt(EPOCH_DIGITS - 1);
  const span = 9n * low;
  return (low + (BigInt(`0x${digest.subarray(0, 16).toString('hex')}`) % span)).toString();
}

export async function readLogIdentity(db: Database): Promise<LogIdentity> {
  let logId: string;
  try {
    const [row] = await db.sequelize.query<{ log_id: string }>(
      'SELECT log_id FROM solstream_change_log_identity WHERE id = 1',
      { type: QueryTypes.SELECT },
    );
    if (row === undefined) throw new Error('solstream_change_log_identity is empty');
    logId = row.log_id;
  } catch (error) {
    throw new Error(`the change log has no identity (${(error as Error).message}): run \`solstream migrate up\``, {
      cause: error,
    });
  }
  if (db.dialect !== 'postgres') return { logId, epoch: epochOf([logId]), parts: { logId } };
  const [server] = await db.sequelize.query<{ system_identifier: string; database_oid: string; timeline: string }>(
    `SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
            (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS database_oid,
            (CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())
                  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END)::text AS timeline`,
    { type: QueryTypes.SELECT },
  );
  if (server === undefined) throw new Error('reading the database server identity returned nothing');
  const parts = {
    logId,
    systemIdentifier: server.system_identifier,
    databaseOid: server.database_oid,
    timeline: server.timeline,
  };
  return { logId, epoch: epochOf(Object.values(parts)), parts };
}

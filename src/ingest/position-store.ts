// The ingester's per-column positions of state rows (solstream_state_positions; see positions.ts):
// read for the rows a batch touches and written whole after the batch folded them, in the batch's
// transaction. Change capture reads a state row's slot from here as the row is written.
import type { Transaction } from 'sequelize';
import type { Database } from '../db/connection.ts';
import { EARLIEST_WINS, type ColumnPositions } from './positions.ts';

/** Keys per statement, so that SQLite's statements stay below its bound-parameter limit. */
const KEYS_PER_QUERY = 400;

/** One key for a state row: its table and its account. */
export const slotKey = (topic: string, pubkey: string): string => `${topic}\u0000${pubkey}`;
export const splitSlotKey = (key: string): [string, string] => key.split('\u0000') as [string, string];

/** The stored positions of the rows `list` names ([topic, pubkey] pairs), by slotKey. */
export async function readPositions(
  db: Database,
  list: readonly (readonly [string, string])[],
  transaction: Transaction,
): Promise<Map<string, ColumnPositions>> {
  const out = new Map<string, ColumnPositions>();
  for (let i = 0; i < list.length; i += KEYS_PER_QUERY) {
    const chunk = list.slice(i, i + KEYS_PER_QUERY);
    // By the whole key (topic, pubkey), the table's primary key: by pubkey alone no index
    // applies, and every batch would read the table through.
    // PostgreSQL: the keys as one JSON array of [topic, pubkey] pairs, as upsertRows sends rows.
    const [rows] = await db.sequelize.query(
      db.dialect === 'postgres'
        ? 'SELECT p.topic, p.pubkey, p.positions FROM jsonb_array_elements($1::jsonb) AS k ' +
            'JOIN solstream_state_positions p ON p.topic = k->>0 AND p.pubkey = k->>1'
        : 'SELECT topic, pubkey, positions FROM solstream_state_positions WHERE (topic, pubkey) IN ' +
            `(VALUES ${chunk.map((_, j) => `($${2 * j + 1}, $${2 * j + 2})`).join(', ')})`,
      {
        bind: db.dialect === 'postgres' ? [JSON.stringify(chunk)] : chunk.flat(),
        transaction,
      },
    );
    for (const r of rows as { topic: string; pubkey: string; positions: string }[]) {
      out.set(slotKey(r.topic, r.pubkey), JSON.parse(r.positions) as ColumnPositions);
    }
  }
  return out;
}

/** Writes each row's positions (and the slot they put it at), replacing what is stored. */
export async function savePositions(
  db: Database,
  entries: readonly { key: string; positions: ColumnPositions }[],
  transaction: Transaction,
): Promise<void> {
  // The folded positions already include the stored ones: written whole. Only the lease holder
  // writes here, inside the transaction that read them.
  const upsert = 'ON CONFLICT (topic, pubkey) DO UPDATE SET positions = excluded.positions, slot = excluded.slot';
  for (let i = 0; i < entries.length; i += KEYS_PER_QUERY) {
    const chunk = entries.slice(i, i + KEYS_PER_QUERY);
    const rows = chunk.map(({ key, positions }): [string, string, string, number | null] => {
      const [topic, pubkey] = splitSlotKey(key);
      return [topic, pubkey, JSON.stringify(positions), slotOf(positions)];
    });
    // Bound, not inlined. PostgreSQL: one JSON array of rows, as upsertRows sends them (the
    // positions' text is a JSON string in it, stored as it is); SQLite: a VALUES list.
    if (db.dialect === 'postgres') {
      await db.sequelize.query(
        'INSERT INTO solstream_state_positions (topic, pubkey, positions, slot) ' +
          `SELECT r->>0, r->>1, r->>2, (r->>3)::bigint FROM jsonb_array_elements($1::jsonb) AS r ${upsert}`,
        { bind: [JSON.stringify(rows)], transaction },
      );
    } else {
      const values = chunk.map((_, j) => `($${4 * j + 1}, $${4 * j + 2}, $${4 * j + 3}, $${4 * j + 4})`);
      await db.sequelize.query(
        `INSERT INTO solstream_state_positions (topic, pubkey, positions, slot) VALUES ${values.join(', ')} ${upsert}`,
        { bind: rows.flat(), transaction },
      );
    }
  }
}

/** The slot a state row is at: that of its newest value (created_slot's entry is a slot, not a position). */
function slotOf(positions: ColumnPositions): number | null {
  let newest = -1;
  for (const [column, position] of Object.entries(positions))
    if (!EARLIEST_WINS.has(column) && position > newest) newest = position;
  return newest < 0 ? null : Math.floor(newest / 2);
}

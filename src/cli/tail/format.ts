// How `solstream tail` prints: one JSON object per line for pipes, an aligned table for people.
import { TABLES, type ColumnDef, type ColumnKind, type Topic } from '../../db/schema.ts';
import { parseCursor } from '../../wire/cursor.ts';

/** One printable event: a snapshot row, a change, a slot's fate, a retraction, or a reset notice. */
export type TailRecord =
  | {
      readonly type: 'snapshot';
      readonly topic: string;
      readonly row: Readonly<Record<string, unknown>>;
      readonly cursor: string;
    }
  | {
      readonly type: 'change';
      readonly topic: string;
      readonly op: string;
      readonly row: Readonly<Record<string, unknown>>;
      /** null for a speculative (processed) change. */
      readonly cursor: string | null;
      readonly slot: number | null;
      readonly commitment: string;
    }
  | { readonly type: 'slot'; readonly topic: string; readonly slot: number; readonly commitment: string }
  | {
      readonly type: 'retract';
      readonly topic: string;
      readonly slot: number;
      readonly changes: readonly { readonly op: string; readonly row: Readonly<Record<string, unknown>> }[];
    }
  | { readonly type: 'reset'; readonly topic: string; readonly reason: string };

export interface Formatter {
  /** Lines to print for one record (the table prints its header before the first). */
  format(record: TailRecord): string[];
}

export const ndjson: Formatter = {
  format: (record) => [JSON.stringify(record)],
};

const WIDTHS: Record<ColumnKind, number> = {
  serial: 6,
  pubkey: 11,
  signature: 11,
  text: 16,
  u64: 20,
  i64: 10,
  int: 6,
  bool: 5,
  timestamp: 24,
  json: 24,
  enum: 9,
};

function cell(value: unknown, kind: ColumnKind, width: number): string {
  let text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  // Keys are recognisable by their ends; the middle adds width, not information.
  if ((kind === 'pubkey' || kind === 'signature') && text.length > width) {
    const half = Math.floor((width - 1) / 2);
    text = `${text.slice(0, half)}…${text.slice(-(width - 1 - half))}`;
  } else if (text.length > width) {
    text = `${text.slice(0, width - 1)}…`;
  }
  const right = kind === 'u64' || kind === 'i64' || kind === 'int' || kind === 'serial';
  return right ? text.padStart(width) : text.padEnd(width);
}

/** An aligned table: widths fixed per column kind so that live rows line up with the snapshot. */
export function table(topic: Topic): Formatter {
  // A row's own `slot` is the slot column in front (the slot its change came from).
  const columns = Object.entries(TABLES[topic].columns as Readonly<Record<string, ColumnDef>>)
    .filter(([name]) => name !== 'slot')
    .map(([name, def]) => ({
      name,
      kind: def.kind,
      width: Math.max(name.length, WIDTHS[def.kind]),
    }));
  const lead = [
    { name: 'event', width: 8 },
    { name: 'commitment', width: 10 },
    { name: 'slot', width: 9 },
    { name: 'cursor', width: 8 },
  ];
  let headerDone = false;
  return {
    format(record) {
      const lines: string[] = [];
      if (!headerDone) {
        headerDone = true;
        const header = [...lead, ...columns].map((c) => c.name.padEnd(c.width)).join('  ');
        lines.push(header.trimEnd(), header.replace(/\S/g, '-').trimEnd());
      }
      const line = (
        event: string,
        commitment: string,
        slot: number | null,
        cursor: string | null,
        row: Readonly<Record<string, unknown>>,
      ) =>
        [
          event.padEnd(8),
          commitment.padEnd(10),
          (slot === null ? '' : String(slot)).padStart(9),
          // The table shows the change-log offset; the epoch in front of it is the same on every line
          // (NDJSON output keeps the whole cursor, which is what --since takes).
          (cursor === null ? '' : (parseCursor(cursor)?.offset ?? cursor)).padStart(8),
          ...columns.map((c) => cell(row[c.name], c.kind, c.width)),
        ]
          .join('  ')
          .trimEnd();
      switch (record.type) {
        case 'reset':
          lines.push(`-- ${record.reason}: the stream starts over from a fresh snapshot --`);
          return lines;
        case 'slot':
          // One per slot: NDJSON has them; the table stays with the rows.
          return lines;
        case 'retract':
          lines.push(`-- slot ${record.slot} died: ${record.changes.length} change(s) rolled back --`);
          for (const change of record.changes)
            lines.push(line(`undo:${change.op.slice(0, 3)}`, 'dead', record.slot, null, change.row));
          return lines;
        case 'snapshot':
          lines.push(
            line(
              'snapshot',
              '',
              typeof record.row.slot === 'number' ? record.row.slot : null,
              record.cursor,
              record.row,
            ),
          );
          return lines;
        case 'change':
          lines.push(line(record.op, record.commitment, record.slot, record.cursor, record.row));
          return lines;
      }
    },
  };
}

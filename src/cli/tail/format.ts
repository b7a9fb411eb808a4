// How `solstream tail` prints: one JSON object per line for pipes, an aligned table for people.
import { TABLES, type ColumnDef, type ColumnKind, type Topic } from '../../db/schema.ts';
import { parseCursor } from '../../wire/cursor.ts';

/** One printable event: a snapshot row, a change, or a reset notice. */
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
      readonly cursor: string;
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
  const columns = Object.entries(TABLES[topic].columns as Readonly<Record<string, ColumnDef>>).map(([name, def]) => ({
    name,
    kind: def.kind,
    width: Math.max(name.length, WIDTHS[def.kind]),
  }));
  const lead = [
    { name: 'event', width: 8 },
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
      if (record.type === 'reset') {
        lines.push(`-- ${record.reason}: the stream starts over from a fresh snapshot --`);
        return lines;
      }
      const event = record.type === 'snapshot' ? 'snapshot' : record.op;
      const cells = [
        event.padEnd(8),
        // The table shows the change-log offset; the epoch in front of it is the same on every line
        // (NDJSON output keeps the whole cursor, which is what --since takes).
        (parseCursor(record.cursor)?.offset ?? record.cursor).padStart(8),
        ...columns.map((c) => cell(record.row[c.name], c.kind, c.width)),
      ];
      lines.push(cells.join('  ').trimEnd());
      return lines;
    },
  };
}

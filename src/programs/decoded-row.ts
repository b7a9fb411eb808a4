// A typed constructor for DecodedRow, so each row literal is checked against its own table's columns.
import type { Topic } from '../db/schema.ts';
import type { DecodedRow, StateSource } from './types.ts';

export function decodedRow<T extends Topic>(topic: T, row: DecodedRow<T>['row'], account?: StateSource): DecodedRow {
  return (account === undefined ? { topic, row } : { topic, row, account }) as DecodedRow;
}

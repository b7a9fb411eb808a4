// The `transactions` row every decoder writes for a transaction that touches its program.
import { toIsoTimestamp, toU64String } from '../db/rows.ts';
import type { DecodedRow, TransactionInput } from './types.ts';

/**
 * `instructionType` is the decoded name of the program's first instruction in the transaction
 * (top-level, else the first CPI into it), or null when it could not be decoded.
 */
export function transactionRow(
  tx: TransactionInput,
  programId: string,
  instructionType: string | null,
): DecodedRow<'transactions'> {
  return {
    topic: 'transactions',
    row: {
      signature: tx.signature,
      slot: tx.slot,
      block_time: tx.blockTime === null ? null : toIsoTimestamp(tx.blockTime),
      fee: toU64String(tx.fee, 'fee'),
      status: tx.err === null || tx.err === undefined ? 'success' : 'failed',
      program_id: programId,
      instruction_type: instructionType === null ? null : instructionType.slice(0, 50),
      accounts: [...tx.accountKeys],
    },
  };
}

export function succeeded(tx: TransactionInput): boolean {
  return tx.err === null || tx.err === undefined;
}

// The SPL Token program's layouts that the programs' mappers read: token accounts (vault balances)
// and transfer instructions (amounts moved by a transaction's CPIs). Token-2022 shares both layouts
// for these fields.
import { utils } from '@coral-xyz/anchor';
import { TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID } from './addresses.ts';
import { programInstructions, type ProgramInstruction } from './events.ts';
import type { ChainAccount, TransactionInput } from './types.ts';

const bs58 = utils.bytes.bs58;

/** Bytes of an SPL Token account before any Token-2022 extension. */
export const TOKEN_ACCOUNT_SIZE = 165;

export interface TokenAccount {
  readonly mint: string;
  readonly owner: string;
  readonly amount: bigint;
}

export function isTokenProgram(programId: string): boolean {
  return programId === TOKEN_PROGRAM_ID || programId === TOKEN_2022_PROGRAM_ID;
}

/** A token account's mint, owner and amount; null when `account` is not an initialized token account. */
export function decodeTokenAccount(account: ChainAccount | null): TokenAccount | null {
  if (account === null || !isTokenProgram(account.owner) || account.data.length < TOKEN_ACCOUNT_SIZE) return null;
  const data = Buffer.from(account.data.buffer, account.data.byteOffset, account.data.byteLength);
  // state (offset 108): 0 uninitialized, 1 initialized, 2 frozen.
  if (data[108] === 0) return null;
  return {
    mint: bs58.encode(data.subarray(0, 32)),
    owner: bs58.encode(data.subarray(32, 64)),
    amount: data.readBigUInt64LE(64),
  };
}

export interface TokenTransfer {
  readonly source: string;
  readonly destination: string;
  /** Known for TransferChecked, which names it. */
  readonly mint: string | null;
  readonly authority: string;
  readonly amount: bigint;
  /** Top-level instruction it was made under. */
  readonly outerIndex: number;
}

const TRANSFER = 3;
const TRANSFER_CHECKED = 12;

function transferOf(ix: ProgramInstruction): TokenTransfer | null {
  const data = Buffer.from(ix.data.buffer, ix.data.byteOffset, ix.data.byteLength);
  if (data[0] === TRANSFER && data.length >= 9 && ix.accounts.length >= 3) {
    const [source, destination, authority] = ix.accounts as [string, string, string];
    return { source, destination, mint: null, authority, amount: data.readBigUInt64LE(1), outerIndex: ix.outerIndex };
  }
  if (data[0] === TRANSFER_CHECKED && data.length >= 9 && ix.accounts.length >= 4) {
    const [source, mint, destination, authority] = ix.accounts as [string, string, string, string];
    return { source, destination, mint, authority, amount: data.readBigUInt64LE(1), outerIndex: ix.outerIndex };
  }
  return null;
}

/** Every SPL Token / Token-2022 transfer the transaction made, in execution order. */
export function tokenTransfers(tx: TransactionInput): TokenTransfer[] {
  const out: TokenTransfer[] = [];
  for (const programId of [TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID]) {
    for (const ix of programInstructions(tx, programId)) {
      const transfer = transferOf(ix);
      if (transfer !== null) out.push(transfer);
    }
  }
  return out.sort((a, b) => a.outerIndex - b.outerIndex);
}

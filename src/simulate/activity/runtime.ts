// Builds one top-level instruction the way the Solana runtime reports it: the exact log lines
// ("Program <id> invoke [n]", "Program log: …", "Program data: …", "Program <id> consumed N of M
// compute units", "Program <id> success") and the inner instructions its CPIs record.
import { PublicKey } from '@solana/web3.js';
import type { SimAccountMeta, SimAccountWrite, SimInstruction, SimTransaction } from '../types.ts';

export const SYSTEM_PROGRAM_ID = '11111111111111111111111111111111';
export const TOKEN_PROGRAM_ID = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
export const COMPUTE_UNIT_LIMIT = 200_000;

export function meta(pubkey: string, isSigner = false, isWritable = false): SimAccountMeta {
  return { pubkey, isSigner, isWritable };
}

/** Lamports an account of `size` bytes holds to be rent-exempt (the runtime's default rent). */
export function rentExempt(size: number): bigint {
  return BigInt(size + 128) * 3480n * 2n;
}

/** The name Anchor logs for an instruction: "make_offer" / "makeOffer" → "MakeOffer". */
export function anchorLogName(name: string): string {
  return name
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** One program invocation's log lines and CPIs, nested as the runtime executes them. */
export class InvocationBuilder {
  readonly logs: string[] = [];
  readonly inner: SimInstruction[] = [];
  private consumedBelow = 0;

  constructor(
    private readonly programId: string,
    private readonly depth: number,
    private readonly budget: number,
  ) {
    this.logs.push(`Program ${programId} invoke [${depth}]`);
  }

  log(message: string): this {
    this.logs.push(`Program log: ${message}`);
    return this;
  }

  /** An Anchor `emit!` event (discriminator + Borsh payload). */
  data(...payloads: Uint8Array[]): this {
    this.logs.push(`Program data: ${payloads.map((p) => Buffer.from(p).toString('base64')).join(' ')}`);
    return this;
  }

  /** A CPI: `ix` is recorded as an inner instruction, and `body` fills in the callee's own lines. */
  invoke(ix: SimInstruction, units: number, body?: (callee: InvocationBuilder) => void): this {
    this.inner.push(ix);
    const callee = new InvocationBuilder(ix.programId, this.depth + 1, this.budget - this.consumedBelow);
    body?.(callee);
    const lines = callee.finish(units);
    this.logs.push(...lines.logs);
    this.inner.push(...lines.inner);
    this.consumedBelow += units;
    return this;
  }

  /** An SPL Token TransferChecked CPI (instruction 12: amount u64 LE, decimals u8). */
  tokenTransfer(from: string, mint: string, to: string, authority: string, amount: bigint, decimals = 6): this {
    const data = Buffer.alloc(10);
    data.writeUInt8(12, 0);
    data.writeBigUInt64LE(amount, 1);
    data.writeUInt8(decimals, 9);
    return this.invoke(
      {
        programId: TOKEN_PROGRAM_ID,
        accounts: [meta(from, false, true), meta(mint), meta(to, false, true), meta(authority, true)],
        data,
      },
      6_200,
      (t) => t.log('Instruction: TransferChecked'),
    );
  }

  finish(units: number): { logs: string[]; inner: SimInstruction[] } {
    const used = units + this.consumedBelow;
    this.logs.push(`Program ${this.programId} consumed ${used} of ${this.budget} compute units`);
    this.logs.push(`Program ${this.programId} success`);
    return { logs: this.logs, inner: this.inner };
  }
}

/**
 * A one-instruction transaction: `body` writes the program's logs and CPIs. Anchor programs log
 * "Instruction: <Name>" first, so `anchorName` is given for them.
 */
export function singleInstructionTransaction(args: {
  readonly feePayer: string;
  readonly signers?: readonly string[];
  readonly instruction: SimInstruction;
  readonly anchorName?: string;
  readonly units: number;
  readonly body?: (b: InvocationBuilder) => void;
  readonly accountWrites: readonly SimAccountWrite[];
}): SimTransaction {
  const b = new InvocationBuilder(args.instruction.programId, 1, COMPUTE_UNIT_LIMIT);
  if (args.anchorName !== undefined) b.log(`Instruction: ${anchorLogName(args.anchorName)}`);
  args.body?.(b);
  const { logs, inner } = b.finish(args.units);
  return {
    feePayer: args.feePayer,
    ...(args.signers !== undefined && args.signers.length > 0 ? { signers: args.signers } : {}),
    instructions: [args.instruction],
    ...(inner.length > 0 ? { innerInstructions: [{ index: 0, instructions: inner }] } : {}),
    logMessages: logs,
    accountWrites: args.accountWrites,
  };
}

export function closedAccount(pubkey: string, owner: string): SimAccountWrite {
  return { pubkey, owner, lamports: 0n, data: new Uint8Array(0) };
}

/** Size of an SPL Token account. */
export const TOKEN_ACCOUNT_SIZE = 165;

/**
 * An initialized SPL Token account (the token program's layout: mint, owner, amount u64 LE,
 * delegate COption, state u8, is_native COption<u64>, delegated_amount u64, close_authority COption).
 */
export function tokenAccount(pubkey: string, mint: string, owner: string, amount: bigint): SimAccountWrite {
  const data = Buffer.alloc(TOKEN_ACCOUNT_SIZE);
  new PublicKey(mint).toBuffer().copy(data, 0);
  new PublicKey(owner).toBuffer().copy(data, 32);
  data.writeBigUInt64LE(amount, 64);
  data.writeUInt8(1, 108); // AccountState::Initialized
  return { pubkey, owner: TOKEN_PROGRAM_ID, lamports: rentExempt(TOKEN_ACCOUNT_SIZE), data };
}

// A SimTransaction as the decoders see a confirmed transaction: the message's account keys in the
// runtime's order (fee payer, other writable signers, readonly signers, writable, readonly) and
// instructions compiled to indexes. Lets tests and tools run the player's output straight through
// the programs without an RPC round trip.
import type { CompiledInstructionInput, TransactionInput } from '../../programs/types.ts';
import type { SimInstruction, SimTransaction, SubmittedTransaction } from '../types.ts';

export function messageAccountKeys(tx: SimTransaction): string[] {
  const flags = new Map<string, { signer: boolean; writable: boolean }>();
  const note = (pubkey: string, signer: boolean, writable: boolean): void => {
    const f = flags.get(pubkey) ?? { signer: false, writable: false };
    flags.set(pubkey, { signer: f.signer || signer, writable: f.writable || writable });
  };
  note(tx.feePayer, true, true);
  for (const s of tx.signers ?? []) note(s, true, false);
  const all: SimInstruction[] = [...tx.instructions, ...(tx.innerInstructions ?? []).flatMap((i) => i.instructions)];
  for (const ix of tx.instructions) {
    for (const a of ix.accounts) note(a.pubkey, a.isSigner, a.isWritable);
  }
  for (const ix of all) {
    for (const a of ix.accounts) note(a.pubkey, false, false);
    note(ix.programId, false, false);
  }
  const rank = (k: string): number => {
    if (k === tx.feePayer) return 0;
    const f = flags.get(k) ?? { signer: false, writable: false };
    return f.signer ? (f.writable ? 1 : 2) : f.writable ? 3 : 4;
  };
  // Stable sort keeps first-appearance order within each class.
  return [...flags.keys()]
    .map((k, i) => ({ k, i }))
    .sort((a, b) => rank(a.k) - rank(b.k) || a.i - b.i)
    .map((e) => e.k);
}

export function toTransactionInput(tx: SimTransaction, submitted: SubmittedTransaction): TransactionInput {
  const keys = messageAccountKeys(tx);
  const index = new Map(keys.map((k, i) => [k, i]));
  const compile = (ix: SimInstruction): CompiledInstructionInput => ({
    programIdIndex: index.get(ix.programId) ?? -1,
    accounts: ix.accounts.map((a) => index.get(a.pubkey) ?? -1),
    data: ix.data,
  });
  const signatures = 1 + (tx.signers?.filter((s) => s !== tx.feePayer).length ?? 0);
  // The message marks writable what a top-level instruction passes as writable, and the fee payer.
  const writable = new Set([
    tx.feePayer,
    ...tx.instructions.flatMap((ix) => ix.accounts.filter((a) => a.isWritable).map((a) => a.pubkey)),
  ]);
  return {
    signature: submitted.signature,
    slot: submitted.slot,
    blockTime: submitted.blockTime,
    fee: tx.fee ?? 5000n * BigInt(signatures),
    err: tx.err ?? null,
    accountKeys: keys,
    writable: keys.map((k) => writable.has(k)),
    instructions: tx.instructions.map(compile),
    innerInstructions: new Map((tx.innerInstructions ?? []).map((g) => [g.index, g.instructions.map(compile)])),
    logMessages: tx.logMessages,
  };
}

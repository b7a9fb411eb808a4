// A transaction of a Geyser update (SubscribeUpdateTransactionInfo) as the programs see one: the
// same TransactionInput getTransaction gives (rpc.ts), so both sources write identical rows.
import { utils } from '@coral-xyz/anchor';
import type { CompiledInstructionInput, TransactionInput } from '../../programs/types.ts';

const bs58 = utils.bytes.bs58;

interface Instruction {
  readonly programIdIndex: number;
  readonly accounts: Uint8Array;
  readonly data: Uint8Array;
}

/** The fields of SubscribeUpdateTransactionInfo (geyser.proto) this conversion reads. */
export interface GeyserTransactionInfo {
  readonly signature: Uint8Array;
  readonly transaction?:
    | {
        readonly message?:
          | {
              readonly header?:
                | {
                    readonly numRequiredSignatures: number;
                    readonly numReadonlySignedAccounts: number;
                    readonly numReadonlyUnsignedAccounts: number;
                  }
                | undefined;
              readonly accountKeys: readonly Uint8Array[];
              readonly instructions: readonly Instruction[];
            }
          | undefined;
      }
    | undefined;
  readonly meta?:
    | {
        readonly err?: { readonly err: Uint8Array } | undefined;
        readonly fee: string;
        readonly innerInstructions: readonly {
          readonly index: number;
          readonly instructions: readonly Instruction[];
        }[];
        readonly logMessages: readonly string[];
        readonly loadedWritableAddresses: readonly Uint8Array[];
        readonly loadedReadonlyAddresses: readonly Uint8Array[];
      }
    | undefined;
}

const compile = (ix: Instruction): CompiledInstructionInput => ({
  programIdIndex: ix.programIdIndex,
  accounts: [...ix.accounts],
  data: ix.data,
});

/**
 * `decodeError` reads the runtime's bincode TransactionError into the JSON form RPC answers with
 * (the official client's txErrDecode).
 */
export function fromGeyserTransaction(
  signature: string,
  slot: number,
  blockTime: number | null,
  info: GeyserTransactionInfo,
  decodeError: (bytes: Uint8Array) => unknown,
): TransactionInput {
  const message = info.transaction?.message;
  const meta = info.meta;
  if (message === undefined || meta === undefined)
    throw new Error(`Geyser transaction ${signature} without message or meta`);
  const header = message.header ?? {
    numRequiredSignatures: 0,
    numReadonlySignedAccounts: 0,
    numReadonlyUnsignedAccounts: 0,
  };
  const staticKeys = message.accountKeys.map((k) => bs58.encode(k));
  const count = staticKeys.length;
  // The message header's rule: signers first (the last numReadonlySigned of them read-only), then
  // the rest (the last numReadonlyUnsigned of them read-only).
  const staticWritable = staticKeys.map((_k, i) =>
    i < header.numRequiredSignatures
      ? i < header.numRequiredSignatures - header.numReadonlySignedAccounts
      : i < count - header.numReadonlyUnsignedAccounts,
  );
  return {
    signature,
    slot,
    blockTime,
    fee: BigInt(meta.fee),
    err: meta.err === undefined ? null : decodeError(meta.err.err),
    accountKeys: [
      ...staticKeys,
      ...meta.loadedWritableAddresses.map((k) => bs58.encode(k)),
      ...meta.loadedReadonlyAddresses.map((k) => bs58.encode(k)),
    ],
    writable: [
      ...staticWritable,
      ...meta.loadedWritableAddresses.map(() => true),
      ...meta.loadedReadonlyAddresses.map(() => false),
    ],
    instructions: message.instructions.map(compile),
    innerInstructions: new Map(meta.innerInstructions.map((inner) => [inner.index, inner.instructions.map(compile)])),
    logMessages: meta.logMessages,
  };
}

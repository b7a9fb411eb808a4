// The escrow's decoder: Offer accounts and make_offer / take_offer / refund_offer instructions as
// typed structs, with the token transfers each instruction made (take and refund move the offered
// amount out of the vault, which is how an escrow whose Offer is gone can still be described).
import type { AnchorCodec } from '../anchor-idl.ts';
import { WatchList } from '../decoder-options.ts';
import { decodeAccountData, decodeInstructions, pubkeyString, u64Of, type DecodeStats } from '../events.ts';
import { ESCROW_INTERFACE } from '../interfaces/escrow.ts';
import { codecOf } from '../interfaces/program-interface.ts';
import { tokenTransfers, type TokenTransfer } from '../spl-token.ts';
import { succeeded } from '../transactions.ts';
import type { TransactionInput } from '../types.ts';

export const ESCROW_PROGRAM_ID = 'qbuMdeYxYJXBjU6C6qFKjZKjXmrU83eDQomHdrch826';

/** The program's codec at `programId`. */
export function escrowCodec(programId = ESCROW_PROGRAM_ID): AnchorCodec {
  return codecOf(ESCROW_INTERFACE, programId);
}

export interface Offer {
  readonly id: bigint;
  readonly maker: string;
  readonly mintA: string;
  readonly mintB: string;
  readonly amountB: bigint;
}

export type EscrowInstruction =
  | {
      readonly name: 'make_offer';
      readonly offer: string;
      readonly maker: string;
      readonly id: bigint;
      readonly mintA: string;
      readonly mintB: string;
      readonly vault: string;
      readonly amountA: bigint;
      readonly amountB: bigint;
    }
  | {
      readonly name: 'take_offer' | 'refund_offer';
      readonly offer: string;
      readonly maker: string;
      readonly taker: string | null;
      readonly mintA: string | null;
      readonly mintB: string | null;
      readonly vault: string | null;
      /** The transfers made under this instruction (vault → taker or maker, taker → maker). */
      readonly transfers: readonly TokenTransfer[];
    };

export interface EscrowTransaction {
  /** The program's first instruction, named (for the transactions row). */
  readonly firstName: string | null;
  readonly succeeded: boolean;
  /** The watched instructions (all of them without a watch list). */
  readonly instructions: readonly EscrowInstruction[];
}

export class EscrowDecoder {
  readonly codec: AnchorCodec;
  private readonly watch: WatchList;

  constructor(
    readonly programId: string,
    watch: readonly string[] | undefined,
    private readonly stats: DecodeStats,
  ) {
    this.codec = escrowCodec(programId);
    this.watch = new WatchList(watch);
  }

  decodeAccount(pubkey: string, data: Uint8Array): Offer | null {
    if (data.length === 0) return null;
    const decoded = decodeAccountData(this.codec, this.stats, this.programId, pubkey, data);
    if (decoded?.name !== 'Offer') return null;
    const o = decoded.data;
    const offer: Offer = {
      id: u64Of(o['id']),
      maker: pubkeyString(o['maker']),
      mintA: pubkeyString(o['token_mint_a']),
      mintB: pubkeyString(o['token_mint_b']),
      amountB: u64Of(o['token_b_wanted_amount']),
    };
    return this.watch.admits(offer.maker, pubkey) ? offer : null;
  }

  decodeTransaction(tx: TransactionInput): EscrowTransaction | null {
    const named = decodeInstructions(tx, this.codec, this.stats, { includeInner: true });
    if (named.length === 0) return null;
    let transfers: TokenTransfer[] | null = null;
    const instructions: EscrowInstruction[] = [];
    for (const ix of named) {
      const offer = ix.named['offer'];
      const maker = ix.named['maker'];
      if (offer === undefined || maker === undefined || !this.watch.admits(maker, offer)) continue;
      if (ix.name === 'make_offer') {
        instructions.push({
          name: 'make_offer',
          offer,
          maker,
          id: u64Of(ix.args['id']),
          mintA: ix.named['token_mint_a'] ?? '',
          mintB: ix.named['token_mint_b'] ?? '',
          vault: ix.named['vault'] ?? '',
          amountA: u64Of(ix.args['token_a_offered_amount']),
          amountB: u64Of(ix.args['token_b_wanted_amount']),
        });
      } else if (ix.name === 'take_offer' || ix.name === 'refund_offer') {
        transfers ??= tokenTransfers(tx);
        instructions.push({
          name: ix.name,
          offer,
          maker,
          taker: ix.named['taker'] ?? null,
          mintA: ix.named['token_mint_a'] ?? null,
          mintB: ix.named['token_mint_b'] ?? null,
          vault: ix.named['vault'] ?? null,
          transfers: transfers.filter((t) => t.outerIndex === ix.outerIndex),
        });
      }
    }
    if (instructions.length === 0 && !this.watch.all) return null;
    return { firstName: named[0]?.name ?? null, succeeded: succeeded(tx), instructions };
  }
}

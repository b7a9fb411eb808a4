// The Anchor escrow of solana-developers/program-examples (tokens/escrow/anchor): Offer accounts
// and make_offer / take_offer / refund_offer instructions → escrows and escrow_events.
// make_offer creates the offer and funds its vault in one instruction, so an escrow is 'funded'
// from its first row on; 'created' is never observable for this program.
import { PublicKey } from '@solana/web3.js';
import { toU64String } from '../db/rows.ts';
import { AnchorCodec, loadBundledIdl } from './anchor-idl.ts';
import { WatchList, statsFor, type DecoderOptions } from './decoder-options.ts';
import type { DecodeStats } from './events.ts';
import { decodeAccountData, decodeInstructions, pubkeyString, u64Of } from './events.ts';
import { decodedRow } from './decoded-row.ts';
import { transactionRow, succeeded } from './transactions.ts';
import type { DecodedRow, ProgramDecoder, TransactionInput } from './types.ts';

export const ESCROW_PROGRAM_ID = 'qbuMdeYxYJXBjU6C6qFKjZKjXmrU83eDQomHdrch826';
export const TOKEN_PROGRAM_ID = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
export const ASSOCIATED_TOKEN_PROGRAM_ID = 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL';

export function escrowCodec(programId = ESCROW_PROGRAM_ID): AnchorCodec {
  return new AnchorCodec(loadBundledIdl('escrow.json', programId));
}

/** The associated token account of `owner` for `mint` (the offer's vault is the offer's ATA of mint A). */
export function associatedTokenAddress(owner: string, mint: string, tokenProgram = TOKEN_PROGRAM_ID): string {
  return PublicKey.findProgramAddressSync(
    [new PublicKey(owner).toBuffer(), new PublicKey(tokenProgram).toBuffer(), new PublicKey(mint).toBuffer()],
    new PublicKey(ASSOCIATED_TOKEN_PROGRAM_ID),
  )[0].toBase58();
}

export class EscrowDecoder implements ProgramDecoder {
  readonly name = 'escrow';
  readonly domain = 'escrow' as const;
  readonly programId: string;
  readonly stats: DecodeStats;
  private readonly codec: AnchorCodec;
  private readonly watch: WatchList;
  /** amount_a is only in make_offer's arguments, not in the Offer account: remembered per offer. */
  private readonly offeredAmounts = new Map<string, { amountA: string; vault: string; createdSlot: number }>();

  constructor(options: DecoderOptions = {}) {
    this.programId = options.programId ?? ESCROW_PROGRAM_ID;
    this.codec = escrowCodec(this.programId);
    this.watch = new WatchList(options.watch);
    this.stats = statsFor(options);
  }

  decodeAccount(pubkey: string, data: Uint8Array, slot: number): DecodedRow[] {
    if (data.length === 0) return [];
    const decoded = decodeAccountData(this.codec, this.stats, this.programId, pubkey, data);
    if (decoded === null) return [];
    if (decoded.name !== 'Offer') return [];
    const o = decoded.data;
    const maker = pubkeyString(o['maker']);
    if (!this.watch.admits(maker, pubkey)) return [];
    const mintA = pubkeyString(o['token_mint_a']);
    const known = this.offeredAmounts.get(pubkey);
    const row: DecodedRow<'escrows'>['row'] = {
      pubkey,
      escrow_id: toU64String(u64Of(o['id']), 'escrow_id'),
      maker,
      mint_a: mintA,
      mint_b: pubkeyString(o['token_mint_b']),
      amount_b: toU64String(u64Of(o['token_b_wanted_amount']), 'amount_b'),
      vault: known?.vault ?? associatedTokenAddress(pubkey, mintA),
      state: 'funded',
      created_slot: known?.createdSlot ?? slot,
      // amount_a is not stored in the account; left out (an update) unless make_offer was seen.
      ...(known !== undefined ? { amount_a: known.amountA } : {}),
    };
    return [decodedRow('escrows', row, { pubkey, slot })];
  }

  decodeTransaction(tx: TransactionInput): DecodedRow[] {
    const instructions = decodeInstructions(tx, this.codec, this.stats, {
      includeInner: true,
    });
    if (instructions.length === 0) return [];
    const rows: DecodedRow[] = [];
    let watched = this.watch.all;
    for (const ix of instructions) {
      const offer = ix.named['offer'];
      const maker = ix.named['maker'];
      if (offer === undefined || maker === undefined) continue;
      if (!this.watch.admits(maker, offer)) continue;
      watched = true;
      if (!succeeded(tx)) continue;
      const account = { pubkey: offer, slot: tx.slot };
      if (ix.name === 'make_offer') {
        const amountA = toU64String(u64Of(ix.args['token_a_offered_amount']), 'amount_a');
        const amountB = toU64String(u64Of(ix.args['token_b_wanted_amount']), 'amount_b');
        const id = toU64String(u64Of(ix.args['id']), 'escrow_id');
        const vault = ix.named['vault'] ?? associatedTokenAddress(offer, ix.named['token_mint_a'] ?? '');
        this.remember(offer, { amountA, vault, createdSlot: tx.slot });
        const mintA = ix.named['token_mint_a'] ?? '';
        const mintB = ix.named['token_mint_b'] ?? '';
        rows.push(
          decodedRow(
            'escrows',
            {
              pubkey: offer,
              escrow_id: id,
              maker,
              taker: null,
              mint_a: mintA,
              mint_b: mintB,
              amount_a: amountA,
              amount_b: amountB,
              vault,
              state: 'funded',
              created_slot: tx.slot,
              completed_slot: null,
            },
            account,
          ),
        );
        rows.push(
          this.event(offer, 'make_offer', tx, {
            id,
            maker,
            mint_a: mintA,
            mint_b: mintB,
            vault,
            token_a_offered_amount: amountA,
            token_b_wanted_amount: amountB,
          }),
        );
      } else if (ix.name === 'take_offer') {
        const taker = ix.named['taker'] ?? null;
        rows.push(
          decodedRow(
            'escrows',
            {
              pubkey: offer,
              taker,
              state: 'completed',
              completed_slot: tx.slot,
            },
            account,
          ),
        );
        rows.push(
          this.event(offer, 'take_offer', tx, {
            maker,
            taker,
            mint_a: ix.named['token_mint_a'] ?? null,
            mint_b: ix.named['token_mint_b'] ?? null,
          }),
        );
        this.offeredAmounts.delete(offer);
      } else if (ix.name === 'refund_offer') {
        rows.push(decodedRow('escrows', { pubkey: offer, state: 'cancelled', completed_slot: tx.slot }, account));
        rows.push(this.event(offer, 'refund', tx, { maker }));
        this.offeredAmounts.delete(offer);
      }
    }
    if (!watched) return [];
    return [transactionRow(tx, this.programId, instructions[0]?.name ?? null), ...rows];
  }

  private event(escrow: string, eventType: string, tx: TransactionInput, data: Record<string, unknown>): DecodedRow {
    return decodedRow('escrow_events', {
      escrow_pubkey: escrow,
      event_type: eventType,
      signature: tx.signature,
      slot: tx.slot,
      data,
    });
  }

  private remember(offer: string, value: { amountA: string; vault: string; createdSlot: number }): void {
    this.offeredAmounts.set(offer, value);
    // Bounded: an offer never taken nor refunded must not grow memory forever.
    if (this.offeredAmounts.size > 100_000) {
      const oldest = this.offeredAmounts.keys().next().value;
      if (oldest !== undefined) this.offeredAmounts.delete(oldest);
    }
  }
}

export function createEscrowDecoder(options: DecoderOptions = {}): EscrowDecoder {
  return new EscrowDecoder(options);
}

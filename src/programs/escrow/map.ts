// The escrow's rows: escrows (one per Offer) and escrow_events (one per instruction).
//
// What the Offer account does not hold, and where it comes from:
// - amount_a is only in make_offer's arguments. For an escrow first met as an account (open at
//   first start, or notified before its make_offer is read) it is the balance of the offer's
//   vault, which holds exactly the offered amount until the offer is taken or refunded.
// - an escrow taken or refunded whose make_offer was never read (it predates the history read on
//   the first start) is rebuilt from that make_offer, read from the offer address's history.
import { associatedTokenAddress } from '../addresses.ts';
import { toU64String } from '../../db/rows.ts';
import { decodedRow } from '../decoded-row.ts';
import { decodeTokenAccount } from '../spl-token.ts';
import { transactionRow } from '../transactions.ts';
import type { AccountInput, DecodedRow, MapContext, TransactionInput } from '../types.ts';
import type { EscrowDecoder, EscrowInstruction, EscrowTransaction, Offer } from './decode.ts';

type MakeOffer = Extract<EscrowInstruction, { name: 'make_offer' }>;
type Settle = Exclude<EscrowInstruction, MakeOffer>;

export class EscrowMapper {
  constructor(private readonly decoder: EscrowDecoder) {}

  async mapAccount(offer: Offer, input: AccountInput, context: MapContext): Promise<DecodedRow[]> {
    const { pubkey } = input;
    const vault = associatedTokenAddress(pubkey, offer.mintA);
    const source = { pubkey, slot: input.slot, from: 'account' as const };
    const row: DecodedRow<'escrows'>['row'] = {
      pubkey,
      escrow_id: toU64String(offer.id, 'escrow_id'),
      maker: offer.maker,
      mint_a: offer.mintA,
      mint_b: offer.mintB,
      amount_b: toU64String(offer.amountB, 'amount_b'),
      vault,
      state: 'funded',
      created_slot: input.slot,
    };
    if ((await context.row('escrows', pubkey)) !== null) return [decodedRow('escrows', row, source)];
    const [vaultAccount] = (await context.accounts([vault])).values;
    const token = decodeTokenAccount(vaultAccount ?? null);
    // Vault gone: the offer was taken or refunded after this account was read, and that
    // transaction (live, or read back by a catch-up) writes the escrow with its whole story.
    if (token === null) return [];
    if (token.mint !== offer.mintA) {
      context.skip('inconsistent', { escrow: pubkey, vault, vaultMint: token.mint, mintA: offer.mintA });
      return [];
    }
    return [decodedRow('escrows', { ...row, amount_a: toU64String(token.amount, 'amount_a') }, source)];
  }

  async mapTransaction(decoded: EscrowTransaction, tx: TransactionInput, context: MapContext): Promise<DecodedRow[]> {
    const rows: DecodedRow[] = [transactionRow(tx, this.decoder.programId, decoded.firstName)];
    if (!decoded.succeeded) return rows;
    for (const ix of decoded.instructions) {
      if (ix.name === 'make_offer') {
        rows.push(...this.made(ix, tx));
        continue;
      }
      if ((await context.row('escrows', ix.offer)) === null) {
        const made = await this.recover(ix.offer, context);
        if (made === null) {
          context.skip('parent_unavailable', {
            signature: tx.signature,
            escrow: ix.offer,
            why: `${ix.name} of an escrow whose make_offer is not in the chain's history`,
          });
          continue;
        }
        rows.push(made);
      }
      rows.push(...this.settled(ix, tx));
    }
    return rows;
  }

  private made(ix: MakeOffer, tx: TransactionInput): DecodedRow[] {
    const amountA = toU64String(ix.amountA, 'amount_a');
    const amountB = toU64String(ix.amountB, 'amount_b');
    const id = toU64String(ix.id, 'escrow_id');
    return [
      this.escrowRow(ix, tx.slot),
      event(ix.offer, 'make_offer', tx, {
        id,
        maker: ix.maker,
        mint_a: ix.mintA,
        mint_b: ix.mintB,
        vault: ix.vault,
        token_a_offered_amount: amountA,
        token_b_wanted_amount: amountB,
      }),
    ];
  }

  private escrowRow(ix: MakeOffer, slot: number): DecodedRow {
    return decodedRow(
      'escrows',
      {
        pubkey: ix.offer,
        escrow_id: toU64String(ix.id, 'escrow_id'),
        maker: ix.maker,
        taker: null,
        mint_a: ix.mintA,
        mint_b: ix.mintB,
        amount_a: toU64String(ix.amountA, 'amount_a'),
        amount_b: toU64String(ix.amountB, 'amount_b'),
        vault: ix.vault,
        // make_offer creates the offer and funds its vault in one instruction: 'created' is never
        // observable for this program.
        state: 'funded',
        created_slot: slot,
        completed_slot: null,
      },
      { pubkey: ix.offer, slot },
    );
  }

  private settled(ix: Settle, tx: TransactionInput): DecodedRow[] {
    const account = { pubkey: ix.offer, slot: tx.slot };
    if (ix.name === 'take_offer') {
      return [
        decodedRow(
          'escrows',
          { pubkey: ix.offer, taker: ix.taker, state: 'completed', completed_slot: tx.slot },
          account,
        ),
        event(ix.offer, 'take_offer', tx, { maker: ix.maker, taker: ix.taker, mint_a: ix.mintA, mint_b: ix.mintB }),
      ];
    }
    return [
      decodedRow('escrows', { pubkey: ix.offer, state: 'cancelled', completed_slot: tx.slot }, account),
      event(ix.offer, 'refund', tx, { maker: ix.maker }),
    ];
  }

  /** The escrow row of `offer` as its make_offer created it, read from the offer's history. */
  private async recover(offer: string, context: MapContext): Promise<DecodedRow | null> {
    for (const past of await context.history(offer)) {
      const made = this.decoder
        .decodeTransaction(past)
        ?.instructions.find((i): i is MakeOffer => i.name === 'make_offer' && i.offer === offer);
      if (made !== undefined) return this.escrowRow(made, past.slot);
    }
    return null;
  }
}

function event(escrow: string, eventType: string, tx: TransactionInput, data: Record<string, unknown>): DecodedRow {
  return decodedRow('escrow_events', {
    escrow_pubkey: escrow,
    event_type: eventType,
    signature: tx.signature,
    slot: tx.slot,
    data,
  });
}

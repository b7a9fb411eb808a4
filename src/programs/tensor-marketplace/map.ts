// Tensor marketplace rows: listings (one per list state), sales (one per purchase) and collections
// (whitelists named by events).
//
// A sale or delisting of a listing never written (listed before the history read on the first
// start, its list state closed since) needs that listing first: it is rebuilt from the list
// transaction in the list state's history, or, when the chain no longer has it, from the purchase
// itself (the buy instruction names the seller, its event the asset and price).
import { toU64String } from '../../db/rows.ts';
import { decodedRow } from '../decoded-row.ts';
import { transactionRow } from '../transactions.ts';
import type { AccountInput, DecodedRow, MapContext, TransactionInput } from '../types.ts';
import type { Bought, Listed, ListStateAccount, TensorDecoder, TensorTransaction } from './decode.ts';

export class TensorMapper {
  constructor(private readonly decoder: TensorDecoder) {}

  mapAccount(listing: ListStateAccount, input: AccountInput): DecodedRow[] {
    return [
      decodedRow(
        'listings',
        {
          pubkey: input.pubkey,
          marketplace: this.decoder.programId,
          seller: listing.seller,
          mint: listing.mint,
          price: toU64String(listing.price, 'price'),
          state: 'active',
          created_slot: input.slot,
        },
        { pubkey: input.pubkey, slot: input.slot, from: 'account' },
      ),
    ];
  }

  async mapTransaction(decoded: TensorTransaction, tx: TransactionInput, context: MapContext): Promise<DecodedRow[]> {
    const rows: DecodedRow[] = [transactionRow(tx, this.decoder.programId, decoded.firstName)];
    for (const action of decoded.actions) {
      const at = { pubkey: 'listState' in action ? action.listState : action.mint, slot: tx.slot };
      switch (action.kind) {
        case 'collection':
          rows.push(decodedRow('collections', { mint: action.mint, name: action.mint }, at));
          break;
        case 'listed':
          rows.push(this.listingRow(action, tx.slot));
          break;
        case 'bought': {
          if (!(await this.ensureListing(action.listState, action, tx, context, rows))) break;
          rows.push(
            decodedRow('sales', {
              listing_pubkey: action.listState,
              buyer: action.buyer,
              price: toU64String(action.price, 'price'),
              signature: tx.signature,
              slot: tx.slot,
              royalty_amount: toU64String(action.royalty, 'royalty_amount'),
              marketplace_fee: toU64String(action.marketplaceFee, 'marketplace_fee'),
            }),
            decodedRow('listings', { pubkey: action.listState, state: 'sold', sold_slot: tx.slot }, at),
          );
          break;
        }
        case 'delisted':
          if (!(await this.ensureListing(action.listState, null, tx, context, rows))) break;
          rows.push(decodedRow('listings', { pubkey: action.listState, state: 'cancelled' }, at));
          break;
      }
    }
    return rows;
  }

  private listingRow(listed: Listed, slot: number): DecodedRow {
    return decodedRow(
      'listings',
      {
        pubkey: listed.listState,
        marketplace: this.decoder.programId,
        seller: listed.seller,
        mint: listed.mint,
        price: toU64String(listed.price, 'price'),
        state: 'active',
        created_slot: slot,
        sold_slot: null,
      },
      { pubkey: listed.listState, slot },
    );
  }

  /** True once the listing exists (stored, or rebuilt into `rows`); false (and a skip) when it cannot be. */
  private async ensureListing(
    listState: string,
    bought: Bought | null,
    tx: TransactionInput,
    context: MapContext,
    rows: DecodedRow[],
  ): Promise<boolean> {
    if ((await context.row('listings', listState)) !== null) return true;
    let listed: { listed: Listed; slot: number } | null = null;
    for (const past of await context.history(listState)) {
      if (past.slot > tx.slot) break;
      const action = this.decoder
        .decodeTransaction(past)
        ?.actions.find((a): a is Listed => a.kind === 'listed' && a.listState === listState);
      if (action !== undefined) listed = { listed: action, slot: past.slot };
    }
    if (listed !== null) {
      rows.push(this.listingRow(listed.listed, listed.slot));
      return true;
    }
    if (bought !== null && bought.seller !== null && bought.mint !== null) {
      rows.push(
        this.listingRow(
          { kind: 'listed', listState, seller: bought.seller, mint: bought.mint, price: bought.price },
          tx.slot,
        ),
      );
      return true;
    }
    context.skip('parent_unavailable', {
      signature: tx.signature,
      listing: listState,
      why: 'sale or delisting of a listing whose list transaction is not in the chain’s history',
    });
    return false;
  }
}

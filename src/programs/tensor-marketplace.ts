// Tensor marketplace (TComp): ListState accounts → listings; its events, which the program records
// by invoking itself with `tcomp_noop(event: TcompEvent)` signed by the list (or bid) state, →
// listings (Maker), sales (Taker of a listing) and collections (Maker/Taker naming a whitelist).
// Delisting and expiry close the ListState: those instructions set the listing 'cancelled'.
import { toU64String } from '../db/rows.ts';
import { AnchorCodec, loadBundledIdl, type Decoded } from './anchor-idl.ts';
import { decodedRow } from './decoded-row.ts';
import { WatchList, statsFor, type DecoderOptions } from './decoder-options.ts';
import {
  decodeAccountData,
  decodeEvents,
  decodeInstructions,
  pubkeyString,
  u64Of,
  type DecodeStats,
  type ProgramInstruction,
} from './events.ts';
import { succeeded, transactionRow } from './transactions.ts';
import type { DecodedRow, ProgramDecoder, TransactionInput } from './types.ts';

export const TENSOR_MARKETPLACE_PROGRAM_ID = 'TCMPhJdwDryooaGtiocG1u3xcYbRpiJzb283XfCZsDp';

export function tensorCodec(programId = TENSOR_MARKETPLACE_PROGRAM_ID): AnchorCodec {
  return new AnchorCodec(loadBundledIdl('tensor_marketplace.json', programId));
}

/** The event carried by a self-invoked tcompNoop instruction, or null for any other instruction. */
export function tcompNoopEvent(codec: AnchorCodec, ix: ProgramInstruction): Decoded | null {
  const decoded = codec.decodeInstruction(ix.data);
  if (decoded === null || decoded.name !== 'tcompNoop') return null;
  const event = decoded.data['event'] as Record<string, Record<string, unknown>> | undefined;
  const variant = event === undefined ? undefined : Object.keys(event)[0];
  const payload = variant === undefined ? undefined : event?.[variant]?.['0'];
  if (variant === undefined || payload === undefined) return null;
  return { name: `${variant}Event`, data: payload as Record<string, unknown> };
}

function targetKind(target: unknown): string {
  return typeof target === 'object' && target !== null ? (Object.keys(target)[0] ?? '') : '';
}

function optionalKey(value: unknown): string | null {
  return value === null || value === undefined ? null : pubkeyString(value);
}

export class TensorMarketplaceDecoder implements ProgramDecoder {
  readonly name = 'tensor-marketplace';
  readonly domain = 'marketplace' as const;
  readonly programId: string;
  readonly stats: DecodeStats;
  private readonly codec: AnchorCodec;
  private readonly watch: WatchList;

  constructor(options: DecoderOptions = {}) {
    this.programId = options.programId ?? TENSOR_MARKETPLACE_PROGRAM_ID;
    this.codec = tensorCodec(this.programId);
    this.watch = new WatchList(options.watch);
    this.stats = statsFor(options);
  }

  decodeAccount(pubkey: string, data: Uint8Array, slot: number): DecodedRow[] {
    if (data.length === 0) return [];
    const decoded = decodeAccountData(this.codec, this.stats, this.programId, pubkey, data);
    if (decoded === null) return [];
    if (decoded.name !== 'ListState') return [];
    const seller = pubkeyString(decoded.data['owner']);
    const mint = pubkeyString(decoded.data['assetId']);
    if (!this.watch.admits(seller, mint, pubkey)) return [];
    return [
      decodedRow(
        'listings',
        {
          pubkey,
          marketplace: this.programId,
          seller,
          mint,
          price: toU64String(u64Of(decoded.data['amount']), 'price'),
          state: 'active',
          created_slot: slot,
        },
        { pubkey, slot },
      ),
    ];
  }

  decodeTransaction(tx: TransactionInput): DecodedRow[] {
    const instructions = decodeInstructions(tx, this.codec, this.stats).filter((i) => i.name !== 'tcompNoop');
    const events = decodeEvents(tx, this.codec, { stats: this.stats, custom: (ix) => tcompNoopEvent(this.codec, ix) });
    if (instructions.length === 0 && events.length === 0) return [];
    const rows: DecodedRow[] = [];
    let watched = this.watch.all;
    const ok = succeeded(tx);
    for (const ev of events) {
      const signer = ev.carrier?.accounts[0];
      if (signer === undefined) continue;
      const kind = targetKind(ev.data['target']);
      const targetId = pubkeyString(ev.data['targetId']);
      const assetId = optionalKey(ev.data['assetId']) ?? (kind === 'AssetId' ? targetId : null);
      const party = pubkeyString(ev.name === 'MakerEvent' ? ev.data['maker'] : ev.data['taker']);
      if (!this.watch.admits(party, assetId, targetId, signer)) continue;
      watched = true;
      if (!ok) continue;
      const amount = u64Of(ev.data['amount']);
      const isBid = optionalKey(ev.data['bidId']) !== null;
      if (kind === 'Whitelist') {
        rows.push(decodedRow('collections', { mint: targetId, name: targetId }, { pubkey: targetId, slot: tx.slot }));
      }
      if (ev.name === 'MakerEvent' && !isBid && assetId !== null) {
        rows.push(
          decodedRow(
            'listings',
            {
              pubkey: signer,
              marketplace: this.programId,
              seller: party,
              mint: assetId,
              price: toU64String(amount, 'price'),
              state: 'active',
              created_slot: tx.slot,
              sold_slot: null,
            },
            { pubkey: signer, slot: tx.slot },
          ),
        );
      }
      if (ev.name === 'TakerEvent' && !isBid) {
        const fee = u64Of(ev.data['tcompFee']) + u64Of(ev.data['takerBrokerFee']) + u64Of(ev.data['makerBrokerFee']);
        rows.push(
          decodedRow('sales', {
            listing_pubkey: signer,
            buyer: party,
            price: toU64String(amount, 'price'),
            signature: tx.signature,
            slot: tx.slot,
            royalty_amount: toU64String(u64Of(ev.data['creatorFee']), 'royalty_amount'),
            marketplace_fee: toU64String(fee, 'marketplace_fee'),
          }),
        );
        rows.push(
          decodedRow(
            'listings',
            { pubkey: signer, state: 'sold', sold_slot: tx.slot },
            { pubkey: signer, slot: tx.slot },
          ),
        );
      }
    }
    for (const ix of instructions) {
      if (!/^(delist|closeExpiredListing)/.test(ix.name)) continue;
      const listing = ix.named['listState'];
      if (listing === undefined) continue;
      if (!this.watch.admits(listing, ix.named['owner'], ix.named['mint'])) continue;
      watched = true;
      if (ok)
        rows.push(decodedRow('listings', { pubkey: listing, state: 'cancelled' }, { pubkey: listing, slot: tx.slot }));
    }
    if (!watched) return [];
    return [transactionRow(tx, this.programId, instructions[0]?.name ?? null), ...rows];
  }
}

export function createTensorMarketplaceDecoder(options: DecoderOptions = {}): TensorMarketplaceDecoder {
  return new TensorMarketplaceDecoder(options);
}

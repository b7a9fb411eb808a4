// Tensor marketplace (TComp)'s decoder: ListState accounts, and the events the program records by
// invoking itself with `tcomp_noop(event: TcompEvent)` signed by the list (or bid) state, plus the
// delist / close-expired instructions that end a listing without an event.
import type { AnchorCodec, Decoded } from '../anchor-idl.ts';
import { WatchList } from '../decoder-options.ts';
import {
  decodeAccountData,
  decodeEvents,
  decodeInstructions,
  pubkeyString,
  u64Of,
  type DecodeStats,
  type ProgramInstruction,
} from '../events.ts';
import { TENSOR_MARKETPLACE_INTERFACE } from '../interfaces/tensor-marketplace.ts';
import { codecOf } from '../interfaces/program-interface.ts';
import { succeeded } from '../transactions.ts';
import type { TransactionInput } from '../types.ts';

export const TENSOR_MARKETPLACE_PROGRAM_ID = 'TCMPhJdwDryooaGtiocG1u3xcYbRpiJzb283XfCZsDp';

/** The program's codec at `programId`. */
export function tensorCodec(programId = TENSOR_MARKETPLACE_PROGRAM_ID): AnchorCodec {
  return codecOf(TENSOR_MARKETPLACE_INTERFACE, programId);
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

export interface ListStateAccount {
  readonly seller: string;
  readonly mint: string;
  readonly price: bigint;
}

/** A listing made or changed (MakerEvent of a listing, not a bid). */
export interface Listed {
  readonly kind: 'listed';
  readonly listState: string;
  readonly seller: string;
  readonly mint: string;
  readonly price: bigint;
}

/** A listing bought (TakerEvent of a listing). `seller` is the instruction's owner account, when named. */
export interface Bought {
  readonly kind: 'bought';
  readonly listState: string;
  readonly buyer: string;
  readonly seller: string | null;
  readonly mint: string | null;
  readonly price: bigint;
  readonly royalty: bigint;
  /** TComp's fee plus both brokers' fees. */
  readonly marketplaceFee: bigint;
}

/** A listing ended without a sale (delist, close-expired). */
export interface Delisted {
  readonly kind: 'delisted';
  readonly listState: string;
}

/** An event naming a whitelist (a collection). */
export interface CollectionSeen {
  readonly kind: 'collection';
  readonly mint: string;
}

export type TensorAction = Listed | Bought | Delisted | CollectionSeen;

export interface TensorTransaction {
  readonly firstName: string | null;
  readonly succeeded: boolean;
  readonly actions: readonly TensorAction[];
}

function targetKind(target: unknown): string {
  return typeof target === 'object' && target !== null ? (Object.keys(target)[0] ?? '') : '';
}

function optionalKey(value: unknown): string | null {
  return value === null || value === undefined ? null : pubkeyString(value);
}

const ENDS_LISTING = /^(delist|closeExpiredListing)/;
const BUYS_LISTING = /^buy/;

export class TensorDecoder {
  readonly codec: AnchorCodec;
  private readonly watch: WatchList;

  constructor(
    readonly programId: string,
    watch: readonly string[] | undefined,
    private readonly stats: DecodeStats,
  ) {
    this.codec = tensorCodec(programId);
    this.watch = new WatchList(watch);
  }

  decodeAccount(pubkey: string, data: Uint8Array): ListStateAccount | null {
    if (data.length === 0) return null;
    const decoded = decodeAccountData(this.codec, this.stats, this.programId, pubkey, data);
    if (decoded?.name !== 'ListState') return null;
    const listing = {
      seller: pubkeyString(decoded.data['owner']),
      mint: pubkeyString(decoded.data['assetId']),
      price: u64Of(decoded.data['amount']),
    };
    return this.watch.admits(listing.seller, listing.mint, pubkey) ? listing : null;
  }

  decodeTransaction(tx: TransactionInput): TensorTransaction | null {
    const instructions = decodeInstructions(tx, this.codec, this.stats).filter((i) => i.name !== 'tcompNoop');
    const events = decodeEvents(tx, this.codec, { stats: this.stats, custom: (ix) => tcompNoopEvent(this.codec, ix) });
    if (instructions.length === 0 && events.length === 0) return null;
    const ok = succeeded(tx);
    const actions: TensorAction[] = [];
    let watched = this.watch.all;
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
      if (kind === 'Whitelist') actions.push({ kind: 'collection', mint: targetId });
      if (isBid) continue;
      if (ev.name === 'MakerEvent' && assetId !== null) {
        actions.push({ kind: 'listed', listState: signer, seller: party, mint: assetId, price: amount });
      } else if (ev.name === 'TakerEvent') {
        const buy = instructions.find((i) => i.outerIndex === ev.outerIndex && BUYS_LISTING.test(i.name));
        actions.push({
          kind: 'bought',
          listState: signer,
          buyer: party,
          seller: buy?.named['owner'] ?? null,
          mint: assetId,
          price: amount,
          royalty: u64Of(ev.data['creatorFee']),
          marketplaceFee:
            u64Of(ev.data['tcompFee']) + u64Of(ev.data['takerBrokerFee']) + u64Of(ev.data['makerBrokerFee']),
        });
      }
    }
    for (const ix of instructions) {
      if (!ENDS_LISTING.test(ix.name)) continue;
      const listState = ix.named['listState'];
      if (listState === undefined || !this.watch.admits(listState, ix.named['owner'], ix.named['mint'])) continue;
      watched = true;
      if (ok) actions.push({ kind: 'delisted', listState });
    }
    if (!watched) return null;
    return { firstName: instructions[0]?.name ?? null, succeeded: ok, actions };
  }
}

// A small escrow-like program for the local cluster's transport tests: real SimTransactions
// (Anchor style: 8-byte discriminators, "Program data:" event logs), independent of the real
// programs so that the JSON-RPC and PubSub wire format is tested on its own.
import { createHash } from 'node:crypto';
import { PublicKey } from '@solana/web3.js';
import type { SimTransaction } from '../../src/simulate/types.ts';

/** A deterministic public key per label. */
export function testKey(label: string): string {
  return new PublicKey(createHash('sha256').update(`test-key:${label}`).digest()).toBase58();
}

const discriminator = (name: string) => createHash('sha256').update(name).digest().subarray(0, 8);
const ACCOUNT_DISC = discriminator('account:Offer');
const EVENT_DISC = discriminator('event:OfferEvent');
const IX_DISC = discriminator('global:make_offer');
/** 8 discriminator + 32 maker + 32 mint_a + 32 mint_b + 8 amount_a + 8 amount_b + 1 state. */
export const OFFER_SIZE = 8 + 32 * 3 + 16 + 1;
const STATES = ['created', 'funded', 'completed', 'cancelled'] as const;

export interface Offer {
  readonly pubkey: string;
  readonly maker: string;
  readonly mintA: string;
  readonly mintB: string;
  readonly amountA: bigint;
  readonly amountB: bigint;
  readonly state: (typeof STATES)[number];
}

/** An offer named by `label`: its keys derive from the label, so tests own their accounts. */
export function labelledOffer(label: string, amountB = 1n): Offer {
  return {
    pubkey: testKey(`offer-${label}`),
    maker: testKey(`maker-${label}`),
    mintA: testKey('mint-a'),
    mintB: testKey('mint-b'),
    amountA: 10n,
    amountB,
    state: 'created',
  };
}

export function encodeOffer(offer: Offer): Uint8Array {
  const out = Buffer.alloc(OFFER_SIZE);
  ACCOUNT_DISC.copy(out, 0);
  new PublicKey(offer.maker).toBuffer().copy(out, 8);
  new PublicKey(offer.mintA).toBuffer().copy(out, 40);
  new PublicKey(offer.mintB).toBuffer().copy(out, 72);
  out.writeBigUInt64LE(offer.amountA, 104);
  out.writeBigUInt64LE(offer.amountB, 112);
  out.writeUInt8(STATES.indexOf(offer.state), 120);
  return out;
}

function encodeEvent(offer: Offer, kind: string): Buffer {
  const kindBytes = Buffer.from(kind, 'utf8');
  const out = Buffer.alloc(8 + 32 + 1 + kindBytes.length);
  EVENT_DISC.copy(out, 0);
  new PublicKey(offer.pubkey).toBuffer().copy(out, 8);
  out.writeUInt8(kindBytes.length, 40);
  kindBytes.copy(out, 41);
  return out;
}

/** A transaction that writes the offer account and logs an Anchor event naming it. */
export function offerTransaction(programId: string, offer: Offer, kind = offer.state): SimTransaction {
  const data = Buffer.concat([IX_DISC, Buffer.alloc(8)]);
  data.writeBigUInt64LE(offer.amountA, 8);
  return {
    feePayer: offer.maker,
    instructions: [
      {
        programId,
        accounts: [
          { pubkey: offer.maker, isSigner: true, isWritable: true },
          { pubkey: offer.pubkey, isSigner: false, isWritable: true },
        ],
        data,
      },
    ],
    logMessages: [
      `Program ${programId} invoke [1]`,
      'Program log: Instruction: MakeOffer',
      `Program data: ${encodeEvent(offer, kind).toString('base64')}`,
      `Program ${programId} consumed 12345 of 200000 compute units`,
      `Program ${programId} success`,
    ],
    accountWrites: [
      {
        pubkey: offer.pubkey,
        owner: programId,
        lamports: 2_039_280n,
        data: encodeOffer(offer),
      },
    ],
  };
}

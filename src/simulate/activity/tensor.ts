// Tensor marketplace activity: sellers list legacy NFTs, buyers take them (taker fee split between
// the protocol and the taker's broker, plus the creators' royalty), and some sellers delist. Events
// travel as the program's self-invoked tcompNoop instruction, signed by the list state.
import BN from 'bn.js';
import { PublicKey } from '@solana/web3.js';
import { tensorCodec } from '../../programs/tensor-marketplace.ts';
import { associatedTokenAddress, ASSOCIATED_TOKEN_PROGRAM_ID } from '../../programs/escrow.ts';
import type { AnchorCodec } from '../../programs/anchor-idl.ts';
import type { SimAccountMeta, SimTransaction } from '../types.ts';
import type { Prng } from './prng.ts';
import {
  SYSTEM_PROGRAM_ID,
  TOKEN_PROGRAM_ID,
  closedAccount,
  meta,
  rentExempt,
  singleInstructionTransaction,
  type InvocationBuilder,
} from './runtime.ts';
import type { ActivityContext, ProgramActor } from './actor.ts';
import { orderedAccounts } from './accounts.ts';

const TOKEN_METADATA_PROGRAM_ID = 'metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s';
const DEFAULT_PUBKEY = '11111111111111111111111111111111';
/** TComp's taker fee, in basis points, and the half of it that goes to brokers. */
const TAKER_FEE_BPS = 200n;
const BROKER_FEE_PCT = 50n;
const U64_MAX = 2n ** 64n - 1n;

interface Listing {
  readonly listState: string;
  readonly seller: string;
  readonly mint: string;
  readonly price: bigint;
  readonly royaltyBps: bigint;
}

const bn = (v: bigint | number): BN => new BN(v.toString());

export class TensorActor implements ProgramActor {
  readonly name = 'tensor-marketplace';
  private readonly codec: AnchorCodec;
  private readonly sellers: string[];
  private readonly buyers: string[];
  private readonly feeVault: string;
  private readonly listed: Listing[] = [];

  constructor(
    readonly programId: string,
    rng: Prng,
  ) {
    this.codec = tensorCodec(programId);
    this.sellers = Array.from({ length: 5 }, () => rng.pubkey());
    this.buyers = Array.from({ length: 5 }, () => rng.pubkey());
    this.feeVault = rng.pubkey();
  }

  setup(): SimTransaction[] {
    return [];
  }

  snapshot(): () => void {
    const listed = [...this.listed];
    return () => void this.listed.splice(0, this.listed.length, ...listed);
  }

  next(ctx: ActivityContext): SimTransaction {
    const { rng } = ctx;
    if (this.listed.length === 0 || (this.listed.length < 10 && rng.chance(0.5))) return this.list(ctx);
    const index = rng.int(0, this.listed.length - 1);
    const listing = this.listed[index];
    if (listing === undefined) return this.list(ctx);
    this.listed.splice(index, 1);
    return rng.chance(0.8) ? this.buy(ctx, listing) : this.delist(listing);
  }

  private metadata(mint: string): string {
    return PublicKey.findProgramAddressSync(
      [Buffer.from('metadata'), new PublicKey(TOKEN_METADATA_PROGRAM_ID).toBuffer(), new PublicKey(mint).toBuffer()],
      new PublicKey(TOKEN_METADATA_PROGRAM_ID),
    )[0].toBase58();
  }

  private edition(mint: string): string {
    return PublicKey.findProgramAddressSync(
      [
        Buffer.from('metadata'),
        new PublicKey(TOKEN_METADATA_PROGRAM_ID).toBuffer(),
        new PublicKey(mint).toBuffer(),
        Buffer.from('edition'),
      ],
      new PublicKey(TOKEN_METADATA_PROGRAM_ID),
    )[0].toBase58();
  }

  /** The self-CPI that records an event, signed by the list state. */
  private noop(b: InvocationBuilder, listState: string, event: Record<string, unknown>): void {
    b.invoke(
      {
        programId: this.programId,
        accounts: [meta(listState, true, false)],
        data: this.codec.encodeInstruction('tcompNoop', { event }),
      },
      1_200,
      (callee) => callee.log('Instruction: TcompNoop'),
    );
  }

  private common(mint: string): Record<string, SimAccountMeta> {
    return {
      mint: meta(mint),
      tokenProgram: meta(TOKEN_PROGRAM_ID),
      associatedTokenProgram: meta(ASSOCIATED_TOKEN_PROGRAM_ID),
      marketplaceProgram: meta(this.programId),
      systemProgram: meta(SYSTEM_PROGRAM_ID),
      metadata: meta(this.metadata(mint), false, true),
      edition: meta(this.edition(mint)),
    };
  }

  private list(ctx: ActivityContext): SimTransaction {
    const { rng } = ctx;
    const seller = rng.pick(this.sellers);
    const mint = rng.pubkey();
    const price = ctx.extremeAmounts
      ? 2n ** 64n - 1n - rng.bigint(0n, 10n ** 6n)
      : rng.bigint(10n ** 7n, 5n * 10n ** 11n);
    const listState = PublicKey.findProgramAddressSync(
      [Buffer.from('list_state'), new PublicKey(mint).toBuffer()],
      new PublicKey(this.programId),
    )[0].toBase58();
    const listTa = associatedTokenAddress(listState, mint);
    const ownerTa = associatedTokenAddress(seller, mint);
    const listing: Listing = { listState, seller, mint, price, royaltyBps: BigInt(rng.pick([0, 250, 500, 750, 1000])) };
    this.listed.push(listing);
    const expiry = BigInt(ctx.now) + 30n * 86_400n;
    const data = this.codec.encodeAccount('ListState', {
      version: 1,
      bump: [255],
      owner: new PublicKey(seller),
      assetId: new PublicKey(mint),
      amount: bn(price),
      currency: null,
      expiry: bn(expiry),
      privateTaker: null,
      makerBroker: null,
      rentPayer: new PublicKey(DEFAULT_PUBKEY),
      cosigner: new PublicKey(DEFAULT_PUBKEY),
      reserved1: Array.from({ length: 64 }, () => 0),
    });
    const event = {
      Maker: {
        0: {
          maker: new PublicKey(seller),
          bidId: null,
          target: { AssetId: {} },
          targetId: new PublicKey(mint),
          field: null,
          fieldId: null,
          amount: bn(price),
          quantity: 1,
          currency: null,
          expiry: bn(expiry),
          privateTaker: null,
          assetId: new PublicKey(mint),
        },
      },
    };
    return singleInstructionTransaction({
      feePayer: seller,
      instruction: {
        programId: this.programId,
        accounts: orderedAccounts(this.codec, 'listLegacy', {
          owner: meta(seller, true, false),
          ownerTa: meta(ownerTa, false, true),
          listState: meta(listState, false, true),
          listTa: meta(listTa, false, true),
          payer: meta(seller, true, true),
          ...this.common(mint),
        }),
        data: this.codec.encodeInstruction('listLegacy', {
          amount: bn(price),
          expireInSec: null,
          currency: null,
          privateTaker: null,
          makerBroker: null,
          authorizationData: null,
        }),
      },
      anchorName: 'listLegacy',
      units: 61_000,
      body: (b) => {
        b.tokenTransfer(ownerTa, mint, listTa, seller, 1n, 0);
        this.noop(b, listState, event);
      },
      accountWrites: [{ pubkey: listState, owner: this.programId, lamports: rentExempt(data.length), data }],
    });
  }

  private buy(ctx: ActivityContext, l: Listing): SimTransaction {
    const buyer = ctx.rng.pick(this.buyers);
    const takerFee = (l.price * TAKER_FEE_BPS) / 10_000n;
    const brokerFee = (takerFee * BROKER_FEE_PCT) / 100n;
    const tcompFee = takerFee - brokerFee;
    const creatorFee = (l.price * l.royaltyBps) / 10_000n;
    const buyerTa = associatedTokenAddress(buyer, l.mint);
    const listTa = associatedTokenAddress(l.listState, l.mint);
    const takerBroker = this.feeVault;
    const event = {
      Taker: {
        0: {
          taker: new PublicKey(buyer),
          bidId: null,
          target: { AssetId: {} },
          targetId: new PublicKey(l.mint),
          field: null,
          fieldId: null,
          amount: bn(l.price),
          quantity: 0,
          tcompFee: bn(tcompFee),
          takerBrokerFee: bn(brokerFee),
          makerBrokerFee: bn(0),
          creatorFee: bn(creatorFee),
          currency: null,
          assetId: new PublicKey(l.mint),
        },
      },
    };
    return singleInstructionTransaction({
      feePayer: buyer,
      instruction: {
        programId: this.programId,
        accounts: orderedAccounts(this.codec, 'buyLegacy', {
          feeVault: meta(this.feeVault, false, true),
          buyer: meta(buyer),
          buyerTa: meta(buyerTa, false, true),
          listTa: meta(listTa, false, true),
          listState: meta(l.listState, false, true),
          owner: meta(l.seller, false, true),
          payer: meta(buyer, true, true),
          takerBroker: meta(takerBroker, false, true),
          rentDestination: meta(l.seller, false, true),
          ...this.common(l.mint),
        }),
        data: this.codec.encodeInstruction('buyLegacy', {
          maxAmount: bn(l.price + creatorFee > U64_MAX ? U64_MAX : l.price + creatorFee),
          optionalRoyaltyPct: null,
          authorizationData: null,
        }),
      },
      anchorName: 'buyLegacy',
      units: 88_000,
      body: (b) => {
        this.noop(b, l.listState, event);
        b.tokenTransfer(listTa, l.mint, buyerTa, l.listState, 1n, 0);
      },
      accountWrites: [closedAccount(l.listState, this.programId)],
    });
  }

  private delist(l: Listing): SimTransaction {
    const ownerTa = associatedTokenAddress(l.seller, l.mint);
    const listTa = associatedTokenAddress(l.listState, l.mint);
    return singleInstructionTransaction({
      feePayer: l.seller,
      instruction: {
        programId: this.programId,
        accounts: orderedAccounts(this.codec, 'delistLegacy', {
          owner: meta(l.seller, true, false),
          ownerTa: meta(ownerTa, false, true),
          listState: meta(l.listState, false, true),
          listTa: meta(listTa, false, true),
          rentDestination: meta(l.seller, false, true),
          payer: meta(l.seller, true, true),
          ...this.common(l.mint),
        }),
        data: this.codec.encodeInstruction('delistLegacy', { authorizationData: null }),
      },
      anchorName: 'delistLegacy',
      units: 42_000,
      body: (b) => b.tokenTransfer(listTa, l.mint, ownerTa, l.listState, 1n, 0),
      accountWrites: [closedAccount(l.listState, this.programId)],
    });
  }
}

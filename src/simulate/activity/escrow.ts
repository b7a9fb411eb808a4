// Escrow activity: makers open offers (make_offer funds the vault), takers settle them, and some
// makers refund. Account data is the Offer account encoded with the program's IDL.
import BN from 'bn.js';
import { PublicKey } from '@solana/web3.js';
import { escrowCodec, associatedTokenAddress, ASSOCIATED_TOKEN_PROGRAM_ID } from '../../programs/escrow.ts';
import type { AnchorCodec } from '../../programs/anchor-idl.ts';
import type { SimTransaction } from '../types.ts';
import type { Prng } from './prng.ts';
import {
  SYSTEM_PROGRAM_ID,
  TOKEN_PROGRAM_ID,
  closedAccount,
  meta,
  tokenAccount,
  rentExempt,
  singleInstructionTransaction,
} from './runtime.ts';
import type { ActivityContext, ProgramActor } from './actor.ts';

interface OpenOffer {
  readonly offer: string;
  readonly id: bigint;
  readonly maker: string;
  readonly mintA: string;
  readonly mintB: string;
  readonly vault: string;
  readonly amountA: bigint;
  readonly amountB: bigint;
}

export function offerAddress(programId: string, maker: string, id: bigint): string {
  const idBytes = Buffer.alloc(8);
  idBytes.writeBigUInt64LE(id);
  return PublicKey.findProgramAddressSync(
    [Buffer.from('offer'), new PublicKey(maker).toBuffer(), idBytes],
    new PublicKey(programId),
  )[0].toBase58();
}

export class EscrowActor implements ProgramActor {
  readonly name = 'escrow';
  private readonly codec: AnchorCodec;
  private readonly open: OpenOffer[] = [];
  private readonly makers: string[];
  private readonly mints: string[];

  constructor(
    readonly programId: string,
    rng: Prng,
  ) {
    this.codec = escrowCodec(programId);
    this.makers = Array.from({ length: 6 }, () => rng.pubkey());
    this.mints = Array.from({ length: 4 }, () => rng.pubkey());
  }

  setup(): SimTransaction[] {
    return [];
  }

  snapshot(): () => void {
    const open = [...this.open];
    return () => void this.open.splice(0, this.open.length, ...open);
  }

  next(ctx: ActivityContext): SimTransaction {
    const { rng } = ctx;
    if (this.open.length === 0 || (this.open.length < 12 && rng.chance(0.5))) return this.makeOffer(ctx);
    const index = rng.int(0, this.open.length - 1);
    const offer = this.open[index];
    if (offer === undefined) return this.makeOffer(ctx);
    this.open.splice(index, 1);
    return rng.chance(0.75) ? this.takeOffer(ctx, offer) : this.refundOffer(offer);
  }

  private makeOffer(ctx: ActivityContext): SimTransaction {
    const { rng } = ctx;
    const maker = rng.pick(this.makers);
    const mintA = rng.pick(this.mints);
    let mintB = rng.pick(this.mints);
    if (mintB === mintA) mintB = this.mints[(this.mints.indexOf(mintA) + 1) % this.mints.length] ?? mintB;
    const id = ctx.extremeAmounts ? rng.bigint(2n ** 63n, 2n ** 64n - 1n) : rng.bigint(1n, 2n ** 32n);
    const amountA = ctx.extremeAmounts ? 2n ** 64n - 1n - rng.bigint(0n, 1000n) : rng.bigint(1_000n, 50_000_000_000n);
    const amountB = ctx.extremeAmounts ? 2n ** 64n - 1n : rng.bigint(1_000n, 50_000_000_000n);
    const offer = offerAddress(this.programId, maker, id);
    const vault = associatedTokenAddress(offer, mintA);
    const makerTokenA = associatedTokenAddress(maker, mintA);
    const data = this.codec.encodeAccount('Offer', {
      id: new BN(id.toString()),
      maker: new PublicKey(maker),
      token_mint_a: new PublicKey(mintA),
      token_mint_b: new PublicKey(mintB),
      token_b_wanted_amount: new BN(amountB.toString()),
      bump: 255,
    });
    this.open.push({ offer, id, maker, mintA, mintB, vault, amountA, amountB });
    return singleInstructionTransaction({
      feePayer: maker,
      instruction: {
        programId: this.programId,
        accounts: [
          meta(maker, true, true),
          meta(mintA),
          meta(mintB),
          meta(makerTokenA, false, true),
          meta(offer, false, true),
          meta(vault, false, true),
          meta(ASSOCIATED_TOKEN_PROGRAM_ID),
          meta(TOKEN_PROGRAM_ID),
          meta(SYSTEM_PROGRAM_ID),
        ],
        data: this.codec.encodeInstruction('make_offer', {
          id: new BN(id.toString()),
          token_a_offered_amount: new BN(amountA.toString()),
          token_b_wanted_amount: new BN(amountB.toString()),
        }),
      },
      anchorName: 'make_offer',
      units: 38_000,
      body: (b) => b.tokenTransfer(makerTokenA, mintA, vault, maker, amountA),
      accountWrites: [
        { pubkey: offer, owner: this.programId, lamports: rentExempt(data.length), data },
        tokenAccount(vault, mintA, offer, amountA),
      ],
    });
  }

  private takeOffer(ctx: ActivityContext, o: OpenOffer): SimTransaction {
    let taker = ctx.rng.pick(this.makers);
    if (taker === o.maker) taker = this.makers[(this.makers.indexOf(taker) + 1) % this.makers.length] ?? taker;
    const takerA = associatedTokenAddress(taker, o.mintA);
    const takerB = associatedTokenAddress(taker, o.mintB);
    const makerB = associatedTokenAddress(o.maker, o.mintB);
    return singleInstructionTransaction({
      feePayer: taker,
      instruction: {
        programId: this.programId,
        accounts: [
          meta(taker, true, true),
          meta(o.maker, false, true),
          meta(o.mintA),
          meta(o.mintB),
          meta(takerA, false, true),
          meta(takerB, false, true),
          meta(makerB, false, true),
          meta(o.offer, false, true),
          meta(o.vault, false, true),
          meta(ASSOCIATED_TOKEN_PROGRAM_ID),
          meta(TOKEN_PROGRAM_ID),
          meta(SYSTEM_PROGRAM_ID),
        ],
        data: this.codec.encodeInstruction('take_offer', {}),
      },
      anchorName: 'take_offer',
      units: 52_000,
      body: (b) =>
        b
          .tokenTransfer(takerB, o.mintB, makerB, taker, o.amountB)
          .tokenTransfer(o.vault, o.mintA, takerA, o.offer, o.amountA),
      // The vault is emptied and closed with the offer.
      accountWrites: [closedAccount(o.offer, this.programId), closedAccount(o.vault, TOKEN_PROGRAM_ID)],
    });
  }

  private refundOffer(o: OpenOffer): SimTransaction {
    const makerA = associatedTokenAddress(o.maker, o.mintA);
    return singleInstructionTransaction({
      feePayer: o.maker,
      instruction: {
        programId: this.programId,
        accounts: [
          meta(o.maker, true, true),
          meta(o.mintA),
          meta(makerA, false, true),
          meta(o.offer, false, true),
          meta(o.vault, false, true),
          meta(TOKEN_PROGRAM_ID),
          meta(SYSTEM_PROGRAM_ID),
        ],
        data: this.codec.encodeInstruction('refund_offer', {}),
      },
      anchorName: 'refund_offer',
      units: 31_000,
      body: (b) => b.tokenTransfer(o.vault, o.mintA, makerA, o.offer, o.amountA),
      // The vault is emptied and closed with the offer.
      accountWrites: [closedAccount(o.offer, this.programId), closedAccount(o.vault, TOKEN_PROGRAM_ID)],
    });
  }
}

// Raydium CP-Swap activity: one AmmConfig (the mainnet index-0 rates), a few pools, and users
// swapping (constant product with the trade fee, protocol and fund shares set aside as the program
// does) and adding or removing liquidity. Accounts and events are encoded with the published IDL.
import BN from 'bn.js';
import { PublicKey } from '@solana/web3.js';
import { cpSwapCodec, tradeFee, feeShares, type AmmConfigRates } from '../../programs/raydium-cp-swap.ts';
import { associatedTokenAddress } from '../../programs/escrow.ts';
import type { AnchorCodec } from '../../programs/anchor-idl.ts';
import type { SimAccountMeta, SimTransaction } from '../types.ts';
import type { Prng } from './prng.ts';
import {
  SYSTEM_PROGRAM_ID,
  TOKEN_PROGRAM_ID,
  meta,
  rentExempt,
  singleInstructionTransaction,
  tokenAccount,
} from './runtime.ts';
import type { ActivityContext, ProgramActor } from './actor.ts';
import { orderedAccounts } from './accounts.ts';

const TOKEN_2022_PROGRAM_ID = 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PQnBxvR7DZj1L1';
const MEMO_PROGRAM_ID = 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr';
const ASSOCIATED_TOKEN_PROGRAM_ID = 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL';
const RENT_SYSVAR = 'SysvarRent111111111111111111111111111111111';
const LOCKED_LP = 100n;

interface Pool {
  readonly pubkey: string;
  readonly mint0: string;
  readonly mint1: string;
  readonly vault0: string;
  readonly vault1: string;
  readonly lpMint: string;
  readonly observation: string;
  reserve0: bigint;
  reserve1: bigint;
  lpSupply: bigint;
  protocolFees0: bigint;
  protocolFees1: bigint;
  fundFees0: bigint;
  fundFees1: bigint;
  readonly openTime: bigint;
}

function pda(programId: string, ...seeds: (string | Buffer)[]): string {
  return PublicKey.findProgramAddressSync(
    seeds.map((s) => (typeof s === 'string' ? new PublicKey(s).toBuffer() : s)),
    new PublicKey(programId),
  )[0].toBase58();
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = n;
  let y = (x + 1n) / 2n;
  while (y < x) {
    x = y;
    y = (x + n / x) / 2n;
  }
  return x;
}

const bn = (v: bigint | number): BN => new BN(v.toString());
const zeros = (n: number): BN[] => Array.from({ length: n }, () => new BN(0));

export class CpSwapActor implements ProgramActor {
  readonly name = 'raydium-cp-swap';
  private readonly codec: AnchorCodec;
  private readonly pools: Pool[] = [];
  private readonly users: string[];
  private readonly admin: string;
  private readonly config: string;
  private readonly authority: string;
  readonly rates: AmmConfigRates = { tradeFeeRate: 2_500n, protocolFeeRate: 120_000n, fundFeeRate: 40_000n };

  constructor(
    readonly programId: string,
    private readonly rng: Prng,
  ) {
    this.codec = cpSwapCodec(programId);
    this.users = Array.from({ length: 8 }, () => rng.pubkey());
    this.admin = rng.pubkey();
    const index = Buffer.alloc(2);
    this.config = pda(programId, Buffer.from('amm_config'), index);
    this.authority = pda(programId, Buffer.from('vault_and_lp_mint_auth_seed'));
  }

  setup(ctx: ActivityContext): SimTransaction[] {
    const txs: SimTransaction[] = [this.createConfig()];
    for (let i = 0; i < 3; i++) txs.push(this.initializePool(ctx));
    return txs;
  }

  snapshot(): () => void {
    // Reserves, supply and fees change in place, so each pool is copied.
    const pools = this.pools.map((pool) => ({ ...pool }));
    return () => void this.pools.splice(0, this.pools.length, ...pools.map((pool) => ({ ...pool })));
  }

  next(ctx: ActivityContext): SimTransaction {
    const pool = ctx.rng.pick(this.pools);
    const roll = ctx.rng.next();
    if (roll < 0.7) return this.swap(ctx, pool);
    if (roll < 0.85) return this.deposit(ctx, pool);
    return this.withdraw(ctx, pool);
  }

  private ix(name: string, accounts: Record<string, SimAccountMeta>, args: Record<string, unknown>) {
    return {
      programId: this.programId,
      accounts: orderedAccounts(this.codec, name, accounts),
      data: this.codec.encodeInstruction(name, args),
    };
  }

  private createConfig(): SimTransaction {
    const data = this.codec.encodeAccount('AmmConfig', {
      bump: 255,
      disable_create_pool: false,
      index: 0,
      trade_fee_rate: bn(this.rates.tradeFeeRate),
      protocol_fee_rate: bn(this.rates.protocolFeeRate),
      fund_fee_rate: bn(this.rates.fundFeeRate),
      create_pool_fee: bn(150_000_000n),
      protocol_owner: new PublicKey(this.admin),
      fund_owner: new PublicKey(this.admin),
      padding: zeros(16),
    });
    return singleInstructionTransaction({
      feePayer: this.admin,
      instruction: this.ix(
        'create_amm_config',
        {
          owner: meta(this.admin, true, true),
          amm_config: meta(this.config, false, true),
          system_program: meta(SYSTEM_PROGRAM_ID),
        },
        {
          index: 0,
          trade_fee_rate: bn(this.rates.tradeFeeRate),
          protocol_fee_rate: bn(this.rates.protocolFeeRate),
          fund_fee_rate: bn(this.rates.fundFeeRate),
          create_pool_fee: bn(150_000_000n),
        },
      ),
      anchorName: 'create_amm_config',
      units: 12_000,
      accountWrites: [{ pubkey: this.config, owner: this.programId, lamports: rentExempt(data.length), data }],
    });
  }

  private poolWrite(pool: Pool) {
    const data = this.codec.encodeAccount('PoolState', {
      amm_config: new PublicKey(this.config),
      pool_creator: new PublicKey(this.admin),
      token_0_vault: new PublicKey(pool.vault0),
      token_1_vault: new PublicKey(pool.vault1),
      lp_mint: new PublicKey(pool.lpMint),
      token_0_mint: new PublicKey(pool.mint0),
      token_1_mint: new PublicKey(pool.mint1),
      token_0_program: new PublicKey(TOKEN_PROGRAM_ID),
      token_1_program: new PublicKey(TOKEN_PROGRAM_ID),
      observation_key: new PublicKey(pool.observation),
      auth_bump: 254,
      status: 0,
      lp_mint_decimals: 9,
      mint_0_decimals: 6,
      mint_1_decimals: 9,
      lp_supply: bn(pool.lpSupply),
      protocol_fees_token_0: bn(pool.protocolFees0),
      protocol_fees_token_1: bn(pool.protocolFees1),
      fund_fees_token_0: bn(pool.fundFees0),
      fund_fees_token_1: bn(pool.fundFees1),
      open_time: bn(pool.openTime),
      recent_epoch: bn(0),
      padding: zeros(31),
    });
    return { pubkey: pool.pubkey, owner: this.programId, lamports: rentExempt(data.length), data };
  }

  /**
   * The pool state and its two vault token accounts. A vault holds the reserve plus the protocol and
   * fund fees set aside in it (what the program's vault_amount_without_fee subtracts again).
   */
  private poolWrites(pool: Pool) {
    return [
      this.poolWrite(pool),
      tokenAccount(pool.vault0, pool.mint0, this.authority, pool.reserve0 + pool.protocolFees0 + pool.fundFees0),
      tokenAccount(pool.vault1, pool.mint1, this.authority, pool.reserve1 + pool.protocolFees1 + pool.fundFees1),
    ];
  }

  private initializePool(ctx: ActivityContext): SimTransaction {
    const [mint0, mint1] = [this.rng.pubkey(), this.rng.pubkey()].sort((a, b) =>
      Buffer.compare(new PublicKey(a).toBuffer(), new PublicKey(b).toBuffer()),
    ) as [string, string];
    const pubkey = pda(this.programId, Buffer.from('pool'), this.config, mint0, mint1);
    const pool: Pool = {
      pubkey,
      mint0,
      mint1,
      vault0: pda(this.programId, Buffer.from('pool_vault'), pubkey, mint0),
      vault1: pda(this.programId, Buffer.from('pool_vault'), pubkey, mint1),
      lpMint: pda(this.programId, Buffer.from('pool_lp_mint'), pubkey),
      observation: pda(this.programId, Buffer.from('observation'), pubkey),
      reserve0: this.rng.bigint(10n ** 9n, 10n ** 12n),
      reserve1: this.rng.bigint(10n ** 9n, 10n ** 12n),
      lpSupply: 0n,
      protocolFees0: 0n,
      protocolFees1: 0n,
      fundFees0: 0n,
      fundFees1: 0n,
      openTime: BigInt(ctx.now),
    };
    pool.lpSupply = isqrt(pool.reserve0 * pool.reserve1);
    this.pools.push(pool);
    const creator = this.admin;
    const ata = (mint: string) => associatedTokenAddress(creator, mint);
    return singleInstructionTransaction({
      feePayer: creator,
      instruction: this.ix(
        'initialize',
        {
          creator: meta(creator, true, true),
          amm_config: meta(this.config),
          authority: meta(this.authority),
          pool_state: meta(pubkey, false, true),
          token_0_mint: meta(mint0),
          token_1_mint: meta(mint1),
          lp_mint: meta(pool.lpMint, false, true),
          creator_token_0: meta(ata(mint0), false, true),
          creator_token_1: meta(ata(mint1), false, true),
          creator_lp_token: meta(ata(pool.lpMint), false, true),
          token_0_vault: meta(pool.vault0, false, true),
          token_1_vault: meta(pool.vault1, false, true),
          create_pool_fee: meta(this.admin, false, true),
          observation_state: meta(pool.observation, false, true),
          token_program: meta(TOKEN_PROGRAM_ID),
          token_0_program: meta(TOKEN_PROGRAM_ID),
          token_1_program: meta(TOKEN_PROGRAM_ID),
          associated_token_program: meta(ASSOCIATED_TOKEN_PROGRAM_ID),
          system_program: meta(SYSTEM_PROGRAM_ID),
          rent: meta(RENT_SYSVAR),
        },
        { init_amount_0: bn(pool.reserve0), init_amount_1: bn(pool.reserve1), open_time: bn(pool.openTime) },
      ),
      anchorName: 'initialize',
      units: 95_000,
      body: (b) =>
        b
          .tokenTransfer(ata(mint0), mint0, pool.vault0, creator, pool.reserve0)
          .tokenTransfer(ata(mint1), mint1, pool.vault1, creator, pool.reserve1, 9),
      accountWrites: this.poolWrites(pool),
    });
  }

  private swap(ctx: ActivityContext, pool: Pool): SimTransaction {
    const user = ctx.rng.pick(this.users);
    const zeroIn = ctx.rng.chance(0.5);
    const reserveIn = zeroIn ? pool.reserve0 : pool.reserve1;
    const reserveOut = zeroIn ? pool.reserve1 : pool.reserve0;
    const amountIn = (reserveIn * BigInt(ctx.rng.int(10, 200))) / 10_000n + 1n;
    const fee = tradeFee(amountIn, this.rates.tradeFeeRate);
    const lessFee = amountIn - fee;
    const amountOut = (reserveOut * lessFee) / (reserveIn + lessFee);
    const shares = feeShares(fee, this.rates);
    const event = this.codec.encodeEvent('SwapEvent', {
      pool_id: new PublicKey(pool.pubkey),
      input_vault_before: bn(reserveIn),
      output_vault_before: bn(reserveOut),
      input_amount: bn(amountIn),
      output_amount: bn(amountOut),
      input_transfer_fee: bn(0),
      output_transfer_fee: bn(0),
      base_input: true,
    });
    if (zeroIn) {
      pool.reserve0 += amountIn - shares.protocol - shares.fund;
      pool.reserve1 -= amountOut;
      pool.protocolFees0 += shares.protocol;
      pool.fundFees0 += shares.fund;
    } else {
      pool.reserve1 += amountIn - shares.protocol - shares.fund;
      pool.reserve0 -= amountOut;
      pool.protocolFees1 += shares.protocol;
      pool.fundFees1 += shares.fund;
    }
    const [inMint, outMint, inVault, outVault] = zeroIn
      ? [pool.mint0, pool.mint1, pool.vault0, pool.vault1]
      : [pool.mint1, pool.mint0, pool.vault1, pool.vault0];
    const userIn = associatedTokenAddress(user, inMint);
    const userOut = associatedTokenAddress(user, outMint);
    return singleInstructionTransaction({
      feePayer: user,
      instruction: this.ix(
        'swap_base_input',
        {
          payer: meta(user, true, false),
          authority: meta(this.authority),
          amm_config: meta(this.config),
          pool_state: meta(pool.pubkey, false, true),
          input_token_account: meta(userIn, false, true),
          output_token_account: meta(userOut, false, true),
          input_vault: meta(inVault, false, true),
          output_vault: meta(outVault, false, true),
          input_token_program: meta(TOKEN_PROGRAM_ID),
          output_token_program: meta(TOKEN_PROGRAM_ID),
          input_token_mint: meta(inMint),
          output_token_mint: meta(outMint),
          observation_state: meta(pool.observation, false, true),
        },
        { amount_in: bn(amountIn), minimum_amount_out: bn((amountOut * 99n) / 100n) },
      ),
      anchorName: 'swap_base_input',
      units: 44_000,
      body: (b) =>
        b
          .data(event)
          .tokenTransfer(userIn, inMint, inVault, user, amountIn)
          .tokenTransfer(outVault, outMint, userOut, this.authority, amountOut),
      accountWrites: this.poolWrites(pool),
    });
  }

  private lpAccounts(pool: Pool, owner: string, name: 'deposit' | 'withdraw'): Record<string, SimAccountMeta> {
    return {
      owner: meta(owner, true, false),
      authority: meta(this.authority),
      pool_state: meta(pool.pubkey, false, true),
      owner_lp_token: meta(associatedTokenAddress(owner, pool.lpMint), false, true),
      token_0_account: meta(associatedTokenAddress(owner, pool.mint0), false, true),
      token_1_account: meta(associatedTokenAddress(owner, pool.mint1), false, true),
      token_0_vault: meta(pool.vault0, false, true),
      token_1_vault: meta(pool.vault1, false, true),
      token_program: meta(TOKEN_PROGRAM_ID),
      token_program_2022: meta(TOKEN_2022_PROGRAM_ID),
      vault_0_mint: meta(pool.mint0),
      vault_1_mint: meta(pool.mint1),
      lp_mint: meta(pool.lpMint, false, true),
      ...(name === 'withdraw' ? { memo_program: meta(MEMO_PROGRAM_ID) } : {}),
    };
  }

  private lpEvent(pool: Pool, amount0: bigint, amount1: bigint, changeType: 0 | 1): Buffer {
    return this.codec.encodeEvent('LpChangeEvent', {
      pool_id: new PublicKey(pool.pubkey),
      lp_amount_before: bn(pool.lpSupply),
      token_0_vault_before: bn(pool.reserve0),
      token_1_vault_before: bn(pool.reserve1),
      token_0_amount: bn(amount0),
      token_1_amount: bn(amount1),
      token_0_transfer_fee: bn(0),
      token_1_transfer_fee: bn(0),
      change_type: changeType,
    });
  }

  private deposit(ctx: ActivityContext, pool: Pool): SimTransaction {
    const owner = ctx.rng.pick(this.users);
    const lp = (pool.lpSupply * BigInt(ctx.rng.int(10, 500))) / 10_000n + 1n;
    // The program rounds deposits up (RoundDirection::Ceiling).
    const amount0 = (lp * pool.reserve0 + pool.lpSupply - 1n) / pool.lpSupply;
    const amount1 = (lp * pool.reserve1 + pool.lpSupply - 1n) / pool.lpSupply;
    const event = this.lpEvent(pool, amount0, amount1, 0);
    pool.reserve0 += amount0;
    pool.reserve1 += amount1;
    pool.lpSupply += lp;
    const acc = this.lpAccounts(pool, owner, 'deposit');
    return singleInstructionTransaction({
      feePayer: owner,
      instruction: this.ix('deposit', acc, {
        lp_token_amount: bn(lp),
        maximum_token_0_amount: bn(amount0 + 1n),
        maximum_token_1_amount: bn(amount1 + 1n),
      }),
      anchorName: 'deposit',
      units: 41_000,
      body: (b) =>
        b
          .data(event)
          .tokenTransfer(acc['token_0_account']?.pubkey ?? '', pool.mint0, pool.vault0, owner, amount0)
          .tokenTransfer(acc['token_1_account']?.pubkey ?? '', pool.mint1, pool.vault1, owner, amount1, 9),
      accountWrites: this.poolWrites(pool),
    });
  }

  private withdraw(ctx: ActivityContext, pool: Pool): SimTransaction {
    const owner = ctx.rng.pick(this.users);
    const lp = (pool.lpSupply * BigInt(ctx.rng.int(10, 300))) / 10_000n + 1n;
    // Withdrawals round down (RoundDirection::Floor), and the locked LP never leaves.
    const capped = lp > pool.lpSupply - LOCKED_LP ? pool.lpSupply - LOCKED_LP : lp;
    const amount0 = (capped * pool.reserve0) / pool.lpSupply;
    const amount1 = (capped * pool.reserve1) / pool.lpSupply;
    const event = this.lpEvent(pool, amount0, amount1, 1);
    pool.reserve0 -= amount0;
    pool.reserve1 -= amount1;
    pool.lpSupply -= capped;
    const acc = this.lpAccounts(pool, owner, 'withdraw');
    return singleInstructionTransaction({
      feePayer: owner,
      instruction: this.ix('withdraw', acc, {
        lp_token_amount: bn(capped),
        minimum_token_0_amount: bn(0),
        minimum_token_1_amount: bn(0),
      }),
      anchorName: 'withdraw',
      units: 43_000,
      body: (b) =>
        b
          .data(event)
          .tokenTransfer(pool.vault0, pool.mint0, acc['token_0_account']?.pubkey ?? '', this.authority, amount0)
          .tokenTransfer(pool.vault1, pool.mint1, acc['token_1_account']?.pubkey ?? '', this.authority, amount1, 9),
      accountWrites: this.poolWrites(pool),
    });
  }
}

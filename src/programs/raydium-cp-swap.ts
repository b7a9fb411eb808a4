// Raydium CP-Swap (CPMM): PoolState and AmmConfig accounts → pools; SwapEvent → swaps;
// LpChangeEvent → liquidity_events. Both events are Anchor `emit!` logs ("Program data:").
//
// What the accounts alone cannot give, and where it comes from instead:
// - fee_rate lives in the pool's AmmConfig. The decoder keeps config → rates learned from AmmConfig
//   accounts; a pool (or swap) whose config is not known yet is held back and released when that
//   config is decoded (held items are bounded; the oldest are dropped first).
// - reserves are token-account balances, not in PoolState. They are taken from the events'
//   "vault before" fields (vault balance minus protocol and fund fees, as the program accounts for
//   them), advanced by the event's amounts and fee shares, and remembered per pool.
// - user, mints and the config come from the swap/deposit/withdraw instruction's accounts.
import { toU64String } from '../db/rows.ts';
import { AnchorCodec, loadBundledIdl } from './anchor-idl.ts';
import { WatchList, statsFor, type DecoderOptions } from './decoder-options.ts';
import type { DecodeStats } from './events.ts';
import {
  decodeAccountData,
  decodeEvents,
  decodeInstructions,
  pubkeyString,
  u64Of,
  type NamedInstruction,
} from './events.ts';
import { decodedRow } from './decoded-row.ts';
import { transactionRow, succeeded } from './transactions.ts';
import { DecodeError, type DecodedRow, type ProgramDecoder, type TransactionInput } from './types.ts';

export const RAYDIUM_CP_SWAP_PROGRAM_ID = 'CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C';
/** Fee rates are in hundredths of a basis point. */
export const FEE_RATE_DENOMINATOR = 1_000_000n;

export function cpSwapCodec(programId = RAYDIUM_CP_SWAP_PROGRAM_ID): AnchorCodec {
  return new AnchorCodec(loadBundledIdl('raydium_cp_swap.json', programId));
}

export interface AmmConfigRates {
  readonly tradeFeeRate: bigint;
  readonly protocolFeeRate: bigint;
  readonly fundFeeRate: bigint;
}

/** The trade fee the program charges on a swap's total input (ceiling, as CurveCalculator does). */
export function tradeFee(inputAmount: bigint, tradeFeeRate: bigint): bigint {
  return (inputAmount * tradeFeeRate + FEE_RATE_DENOMINATOR - 1n) / FEE_RATE_DENOMINATOR;
}

/** The parts of a trade fee the program sets aside for the protocol and the fund (floor). */
export function feeShares(fee: bigint, rates: AmmConfigRates): { protocol: bigint; fund: bigint } {
  return {
    protocol: (fee * rates.protocolFeeRate) / FEE_RATE_DENOMINATOR,
    fund: (fee * rates.fundFeeRate) / FEE_RATE_DENOMINATOR,
  };
}

interface PoolInfo {
  readonly config: string;
  readonly mint0: string;
  readonly mint1: string;
  readonly vault0: string;
  readonly vault1: string;
  readonly lpMint: string;
  readonly lpSupply: bigint;
  readonly createdSlot: number;
  readonly slot: number;
}

type Held = {
  readonly config: string;
  readonly make: (rates: AmmConfigRates) => DecodedRow[];
};

const HELD_LIMIT = 10_000;

export class RaydiumCpSwapDecoder implements ProgramDecoder {
  readonly name = 'raydium-cp-swap';
  readonly domain = 'amm' as const;
  readonly programId: string;
  readonly stats: DecodeStats;
  private readonly codec: AnchorCodec;
  private readonly watch: WatchList;
  private readonly configs = new Map<string, AmmConfigRates>();
  private readonly pools = new Map<string, PoolInfo>();
  private readonly reserves = new Map<string, { reserve0: bigint; reserve1: bigint }>();
  private readonly held: Held[] = [];

  constructor(options: DecoderOptions = {}) {
    this.programId = options.programId ?? RAYDIUM_CP_SWAP_PROGRAM_ID;
    this.codec = cpSwapCodec(this.programId);
    this.watch = new WatchList(options.watch);
    this.stats = statsFor(options);
  }

  /** Number of pool/swap rows waiting for their AmmConfig. */
  get heldCount(): number {
    return this.held.length;
  }

  decodeAccount(pubkey: string, data: Uint8Array, slot: number): DecodedRow[] {
    if (data.length === 0) return [];
    const decoded = decodeAccountData(this.codec, this.stats, this.programId, pubkey, data);
    if (decoded === null) return [];
    const d = decoded.data;
    if (decoded.name === 'AmmConfig') {
      const rates = {
        tradeFeeRate: u64Of(d['trade_fee_rate']),
        protocolFeeRate: u64Of(d['protocol_fee_rate']),
        fundFeeRate: u64Of(d['fund_fee_rate']),
      };
      this.configs.set(pubkey, rates);
      return this.release(pubkey, rates);
    }
    if (decoded.name !== 'PoolState') return [];
    if (!this.watch.admits(pubkey)) return [];
    const previous = this.pools.get(pubkey);
    const info: PoolInfo = {
      config: pubkeyString(d['amm_config']),
      mint0: pubkeyString(d['token_0_mint']),
      mint1: pubkeyString(d['token_1_mint']),
      vault0: pubkeyString(d['token_0_vault']),
      vault1: pubkeyString(d['token_1_vault']),
      lpMint: pubkeyString(d['lp_mint']),
      lpSupply: u64Of(d['lp_supply']),
      createdSlot: previous?.createdSlot ?? slot,
      slot,
    };
    this.pools.set(pubkey, info);
    return this.withRates(info.config, (rates) => [this.poolRow(pubkey, info, rates, slot)]);
  }

  decodeTransaction(tx: TransactionInput): DecodedRow[] {
    const instructions = decodeInstructions(tx, this.codec, this.stats, {
      includeInner: true,
    });
    const events = decodeEvents(tx, this.codec, { stats: this.stats });
    if (instructions.length === 0 && events.length === 0) return [];
    const rows: DecodedRow[] = [];
    let watched = this.watch.all;
    const poolsTouched = instructions.map((ix) => ix.named['pool_state']).filter((p): p is string => p !== undefined);
    if (!watched && poolsTouched.some((p) => this.watch.admits(p))) watched = true;
    if (succeeded(tx)) {
      for (const ev of events) {
        const pool = pubkeyString(ev.data['pool_id']);
        if (!this.watch.admits(pool)) continue;
        watched = true;
        const ix = instructions.find((i) => i.outerIndex === ev.outerIndex && i.named['pool_state'] === pool);
        if (ev.name === 'SwapEvent') rows.push(...this.swapRows(tx, pool, ev.data, ix));
        else if (ev.name === 'LpChangeEvent') rows.push(...this.lpRows(tx, pool, ev.data, ix));
      }
    }
    if (!watched) return [];
    return [transactionRow(tx, this.programId, instructions[0]?.name ?? null), ...rows];
  }

  private swapRows(
    tx: TransactionInput,
    pool: string,
    e: Record<string, unknown>,
    ix: NamedInstruction | undefined,
  ): DecodedRow[] {
    const known = this.pools.get(pool);
    const config = ix?.named['amm_config'] ?? known?.config;
    const inputAmount = u64Of(e['input_amount']);
    const outputAmount = u64Of(e['output_amount']);
    const inputVaultBefore = u64Of(e['input_vault_before']);
    const outputVaultBefore = u64Of(e['output_vault_before']);
    const inputVault = ix?.named['input_vault'];
    let inputMint = ix?.named['input_token_mint'];
    let outputMint = ix?.named['output_token_mint'];
    if ((inputMint === undefined || outputMint === undefined) && known !== undefined && inputVault !== undefined) {
      const zeroIn = inputVault === known.vault0;
      inputMint = zeroIn ? known.mint0 : known.mint1;
      outputMint = zeroIn ? known.mint1 : known.mint0;
    }
    const user = ix?.named['payer'];
    if (config === undefined || inputMint === undefined || outputMint === undefined || user === undefined) {
      throw new DecodeError(`SwapEvent of pool ${pool} without a swap instruction to name its user, mints and config`, {
        signature: tx.signature,
      });
    }
    const inMint = inputMint;
    const outMint = outputMint;
    return this.withRates(config, (rates) => {
      const fee = tradeFee(inputAmount, rates.tradeFeeRate);
      const shares = feeShares(fee, rates);
      const rows: DecodedRow[] = [
        decodedRow('swaps', {
          pool_pubkey: pool,
          user_address: user,
          input_mint: inMint,
          output_mint: outMint,
          input_amount: toU64String(inputAmount, 'input_amount'),
          output_amount: toU64String(outputAmount, 'output_amount'),
          fee_amount: toU64String(fee, 'fee_amount'),
          signature: tx.signature,
          slot: tx.slot,
        }),
      ];
      const inputAfter = inputVaultBefore + inputAmount - shares.protocol - shares.fund;
      const outputAfter = outputVaultBefore - outputAmount;
      const info = this.pools.get(pool);
      if (info !== undefined && inputAfter >= 0n && outputAfter >= 0n) {
        const zeroIn = inMint === info.mint0;
        this.reserves.set(
          pool,
          zeroIn ? { reserve0: inputAfter, reserve1: outputAfter } : { reserve0: outputAfter, reserve1: inputAfter },
        );
        rows.push(this.reserveRow(pool, tx.slot));
      }
      return rows;
    });
  }

  private lpRows(
    tx: TransactionInput,
    pool: string,
    e: Record<string, unknown>,
    ix: NamedInstruction | undefined,
  ): DecodedRow[] {
    const add = Number(e['change_type']) === 0;
    const user = ix?.named['owner'];
    if (user === undefined || ix === undefined) {
      throw new DecodeError(`LpChangeEvent of pool ${pool} without its deposit/withdraw instruction`, {
        signature: tx.signature,
      });
    }
    const lpAmount = u64Of(ix.args['lp_token_amount']);
    const amount0 = u64Of(e['token_0_amount']);
    const amount1 = u64Of(e['token_1_amount']);
    const before0 = u64Of(e['token_0_vault_before']);
    const before1 = u64Of(e['token_1_vault_before']);
    const lpBefore = u64Of(e['lp_amount_before']);
    const rows: DecodedRow[] = [
      decodedRow('liquidity_events', {
        pool_pubkey: pool,
        user_address: user,
        event_type: add ? 'add' : 'remove',
        token_a_amount: toU64String(amount0, 'token_a_amount'),
        token_b_amount: toU64String(amount1, 'token_b_amount'),
        lp_amount: toU64String(lpAmount, 'lp_amount'),
        signature: tx.signature,
        slot: tx.slot,
      }),
    ];
    const after0 = add ? before0 + amount0 : before0 - amount0;
    const after1 = add ? before1 + amount1 : before1 - amount1;
    const lpAfter = add ? lpBefore + lpAmount : lpBefore - lpAmount;
    if (after0 >= 0n && after1 >= 0n && lpAfter >= 0n) {
      this.reserves.set(pool, { reserve0: after0, reserve1: after1 });
      const info = this.pools.get(pool);
      if (info !== undefined) this.pools.set(pool, { ...info, lpSupply: lpAfter });
      rows.push(this.reserveRow(pool, tx.slot, lpAfter));
    }
    return rows;
  }

  private reserveRow(pool: string, slot: number, lpSupply?: bigint): DecodedRow {
    const r = this.reserves.get(pool);
    return decodedRow(
      'pools',
      {
        pubkey: pool,
        ...(r !== undefined
          ? {
              token_a_reserve: toU64String(r.reserve0),
              token_b_reserve: toU64String(r.reserve1),
            }
          : {}),
        ...(lpSupply !== undefined ? { lp_supply: toU64String(lpSupply) } : {}),
      },
      { pubkey: pool, slot },
    );
  }

  private poolRow(pubkey: string, info: PoolInfo, rates: AmmConfigRates, slot: number): DecodedRow {
    const r = this.reserves.get(pubkey);
    return decodedRow(
      'pools',
      {
        pubkey,
        token_a_mint: info.mint0,
        token_b_mint: info.mint1,
        token_a_vault: info.vault0,
        token_b_vault: info.vault1,
        lp_mint: info.lpMint,
        fee_rate: Number(rates.tradeFeeRate),
        lp_supply: toU64String(info.lpSupply, 'lp_supply'),
        created_slot: info.createdSlot,
        ...(r !== undefined
          ? {
              token_a_reserve: toU64String(r.reserve0),
              token_b_reserve: toU64String(r.reserve1),
            }
          : {}),
      },
      { pubkey, slot },
    );
  }

  private withRates(config: string, make: (rates: AmmConfigRates) => DecodedRow[]): DecodedRow[] {
    const rates = this.configs.get(config);
    if (rates !== undefined) return make(rates);
    this.held.push({ config, make });
    if (this.held.length > HELD_LIMIT) this.held.shift();
    return [];
  }

  private release(config: string, rates: AmmConfigRates): DecodedRow[] {
    const rows: DecodedRow[] = [];
    for (let i = 0; i < this.held.length;) {
      const h = this.held[i];
      if (h !== undefined && h.config === config) {
        this.held.splice(i, 1);
        rows.push(...h.make(rates));
      } else i++;
    }
    return rows;
  }
}

export function createRaydiumCpSwapDecoder(options: DecoderOptions = {}): RaydiumCpSwapDecoder {
  return new RaydiumCpSwapDecoder(options);
}

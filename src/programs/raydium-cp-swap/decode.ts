// Raydium CP-Swap's decoder: AmmConfig and PoolState accounts, and the SwapEvent / LpChangeEvent
// each swap, deposit and withdrawal emits (Anchor `emit!` logs), joined with the instruction that
// emitted them for what the events do not carry (user, mints, config, LP amount).
import type { AnchorCodec } from '../anchor-idl.ts';
import { WatchList } from '../decoder-options.ts';
import {
  decodeAccountData,
  decodeEvents,
  decodeInstructions,
  pubkeyString,
  u64Of,
  type DecodeStats,
  type NamedInstruction,
} from '../events.ts';
import { RAYDIUM_CP_SWAP_INTERFACE } from '../interfaces/raydium-cp-swap.ts';
import { codecOf } from '../interfaces/program-interface.ts';
import { succeeded } from '../transactions.ts';
import { DecodeError, type TransactionInput } from '../types.ts';

export const RAYDIUM_CP_SWAP_PROGRAM_ID = 'CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C';

/** The program's codec at `programId`. */
export function cpSwapCodec(programId = RAYDIUM_CP_SWAP_PROGRAM_ID): AnchorCodec {
  return codecOf(RAYDIUM_CP_SWAP_INTERFACE, programId);
}

export interface AmmConfigRates {
  readonly tradeFeeRate: bigint;
  readonly protocolFeeRate: bigint;
  readonly fundFeeRate: bigint;
}

export interface PoolStateAccount {
  readonly kind: 'pool';
  readonly config: string;
  readonly mint0: string;
  readonly mint1: string;
  readonly vault0: string;
  readonly vault1: string;
  readonly lpMint: string;
  readonly lpSupply: bigint;
  /** Fees set aside in the vaults, not part of the reserves. */
  readonly protocolFees0: bigint;
  readonly protocolFees1: bigint;
  readonly fundFees0: bigint;
  readonly fundFees1: bigint;
}

export type CpSwapAccount = { readonly kind: 'config'; readonly rates: AmmConfigRates } | PoolStateAccount;

export interface SwapEvent {
  readonly kind: 'swap';
  readonly pool: string;
  readonly user: string;
  readonly config: string;
  readonly inputMint: string;
  readonly outputMint: string;
  readonly inputAmount: bigint;
  readonly outputAmount: bigint;
  /** Vault amounts without fees before the swap, as the program computed them. */
  readonly inputVaultBefore: bigint;
  readonly outputVaultBefore: bigint;
}

export interface LpChangeEvent {
  readonly kind: 'deposit' | 'withdraw';
  readonly pool: string;
  readonly user: string;
  readonly lpAmount: bigint;
  readonly amount0: bigint;
  readonly amount1: bigint;
  readonly vault0Before: bigint;
  readonly vault1Before: bigint;
  readonly lpBefore: bigint;
}

export interface CpSwapTransaction {
  readonly firstName: string | null;
  readonly succeeded: boolean;
  /** Events of watched pools, in emission order (none for a failed transaction). */
  readonly events: readonly (SwapEvent | LpChangeEvent)[];
}

/** Hundredths of a basis point. */
export const FEE_RATE_DENOMINATOR = 1_000_000n;

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

export class CpSwapDecoder {
  readonly codec: AnchorCodec;
  readonly watch: WatchList;

  constructor(
    readonly programId: string,
    watch: readonly string[] | undefined,
    private readonly stats: DecodeStats,
  ) {
    this.codec = cpSwapCodec(programId);
    this.watch = new WatchList(watch);
  }

  decodeAccount(pubkey: string, data: Uint8Array): CpSwapAccount | null {
    if (data.length === 0) return null;
    const decoded = decodeAccountData(this.codec, this.stats, this.programId, pubkey, data);
    if (decoded === null) return null;
    const d = decoded.data;
    if (decoded.name === 'AmmConfig') {
      return {
        kind: 'config',
        rates: {
          tradeFeeRate: u64Of(d['trade_fee_rate']),
          protocolFeeRate: u64Of(d['protocol_fee_rate']),
          fundFeeRate: u64Of(d['fund_fee_rate']),
        },
      };
    }
    if (decoded.name !== 'PoolState' || !this.watch.admits(pubkey)) return null;
    return {
      kind: 'pool',
      config: pubkeyString(d['amm_config']),
      mint0: pubkeyString(d['token_0_mint']),
      mint1: pubkeyString(d['token_1_mint']),
      vault0: pubkeyString(d['token_0_vault']),
      vault1: pubkeyString(d['token_1_vault']),
      lpMint: pubkeyString(d['lp_mint']),
      lpSupply: u64Of(d['lp_supply']),
      protocolFees0: u64Of(d['protocol_fees_token_0']),
      protocolFees1: u64Of(d['protocol_fees_token_1']),
      fundFees0: u64Of(d['fund_fees_token_0']),
      fundFees1: u64Of(d['fund_fees_token_1']),
    };
  }

  decodeTransaction(tx: TransactionInput): CpSwapTransaction | null {
    const instructions = decodeInstructions(tx, this.codec, this.stats, { includeInner: true });
    const events = decodeEvents(tx, this.codec, { stats: this.stats });
    if (instructions.length === 0 && events.length === 0) return null;
    const ok = succeeded(tx);
    let watched = this.watch.all || instructions.some((ix) => this.watch.admits(ix.named['pool_state']));
    const out: (SwapEvent | LpChangeEvent)[] = [];
    for (const ev of events) {
      const pool = pubkeyString(ev.data['pool_id']);
      if (!this.watch.admits(pool)) continue;
      watched = true;
      if (!ok) continue;
      const ix = instructions.find((i) => i.outerIndex === ev.outerIndex && i.named['pool_state'] === pool);
      if (ev.name === 'SwapEvent') out.push(swapEvent(tx, pool, ev.data, ix));
      else if (ev.name === 'LpChangeEvent') out.push(lpEvent(tx, pool, ev.data, ix));
    }
    if (!watched) return null;
    return { firstName: instructions[0]?.name ?? null, succeeded: ok, events: out };
  }
}

function swapEvent(
  tx: TransactionInput,
  pool: string,
  e: Record<string, unknown>,
  ix: NamedInstruction | undefined,
): SwapEvent {
  const user = ix?.named['payer'];
  const config = ix?.named['amm_config'];
  const inputMint = ix?.named['input_token_mint'];
  const outputMint = ix?.named['output_token_mint'];
  if (user === undefined || config === undefined || inputMint === undefined || outputMint === undefined) {
    throw new DecodeError(`SwapEvent of pool ${pool} without a swap instruction to name its user, mints and config`, {
      signature: tx.signature,
    });
  }
  return {
    kind: 'swap',
    pool,
    user,
    config,
    inputMint,
    outputMint,
    inputAmount: u64Of(e['input_amount']),
    outputAmount: u64Of(e['output_amount']),
    inputVaultBefore: u64Of(e['input_vault_before']),
    outputVaultBefore: u64Of(e['output_vault_before']),
  };
}

function lpEvent(
  tx: TransactionInput,
  pool: string,
  e: Record<string, unknown>,
  ix: NamedInstruction | undefined,
): LpChangeEvent {
  const user = ix?.named['owner'];
  if (ix === undefined || user === undefined) {
    throw new DecodeError(`LpChangeEvent of pool ${pool} without its deposit/withdraw instruction`, {
      signature: tx.signature,
    });
  }
  return {
    kind: Number(e['change_type']) === 0 ? 'deposit' : 'withdraw',
    pool,
    user,
    lpAmount: u64Of(ix.args['lp_token_amount']),
    amount0: u64Of(e['token_0_amount']),
    amount1: u64Of(e['token_1_amount']),
    vault0Before: u64Of(e['token_0_vault_before']),
    vault1Before: u64Of(e['token_1_vault_before']),
    lpBefore: u64Of(e['lp_amount_before']),
  };
}

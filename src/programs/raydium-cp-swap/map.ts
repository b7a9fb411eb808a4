// Raydium CP-Swap's rows: pools (one per PoolState), swaps and liquidity_events (one per event).
//
// What the pool account alone cannot give, and where it comes from:
// - fee_rate is the trade fee rate of the pool's AmmConfig. Rates are read from the config
//   account the pool names (on first need, then kept: they can always be read again) and updated
//   when the config account changes.
// - reserves are the vaults' token balances minus the protocol and fund fees the pool has set
//   aside in them (the program's vault_amount_without_fee). A pool read on purpose (first start,
//   catch-up) or met for the first time is read together with its vaults, so its reserves are
//   exact at that slot; after that each SwapEvent / LpChangeEvent gives the reserves it left (its
//   "vault before" values advanced by its amounts), at that transaction's position.
// - a swap's or deposit's user and mints come from the instruction that emitted the event.
import { toU64String } from '../../db/rows.ts';
import { decodedRow } from '../decoded-row.ts';
import { decodeTokenAccount } from '../spl-token.ts';
import { transactionRow } from '../transactions.ts';
import type { AccountInput, DecodedRow, MapContext, TransactionInput } from '../types.ts';
import {
  feeShares,
  tradeFee,
  type AmmConfigRates,
  type CpSwapAccount,
  type CpSwapDecoder,
  type CpSwapTransaction,
  type LpChangeEvent,
  type PoolStateAccount,
  type SwapEvent,
} from './decode.ts';

/** What a swap needs to know of its pool: which of its mints is token A. */
interface PoolMints {
  readonly tokenA: string;
}

export class CpSwapMapper {
  constructor(private readonly decoder: CpSwapDecoder) {}

  async mapAccount(account: CpSwapAccount, input: AccountInput, context: MapContext): Promise<DecodedRow[]> {
    if (account.kind === 'config') return this.configChanged(input, account.rates, context);
    const rows = await this.poolRows(input.pubkey, account, input.slot, context);
    if (rows === null) return [];
    const stored = await context.row('pools', input.pubkey);
    if (input.origin === 'load' || stored === null)
      rows.push(...(await this.readReserves(input.pubkey, account, context)));
    return rows;
  }

  async mapTransaction(decoded: CpSwapTransaction, tx: TransactionInput, context: MapContext): Promise<DecodedRow[]> {
    const rows: DecodedRow[] = [transactionRow(tx, this.decoder.programId, decoded.firstName)];
    for (const ev of decoded.events) {
      const pool = await this.ensurePool(ev.pool, tx, context, rows);
      if (pool === null) continue;
      if (ev.kind === 'swap') {
        const swap = await this.swapRows(ev, pool, tx, context);
        if (swap !== null) rows.push(...swap);
      } else rows.push(...lpRows(ev, tx));
    }
    return rows;
  }

  /** A pool's mints, from its stored row or, for a pool never written, by reading it now (its rows go to `rows`). */
  private async ensurePool(
    pool: string,
    tx: TransactionInput,
    context: MapContext,
    rows: DecodedRow[],
  ): Promise<PoolMints | null> {
    const stored = await context.row('pools', pool);
    if (stored?.token_a_mint !== undefined) return { tokenA: stored.token_a_mint };
    const loaded = await this.readPool(pool, context);
    if (loaded === null) {
      context.skip('parent_unavailable', { signature: tx.signature, pool, why: 'event of a pool that cannot be read' });
      return null;
    }
    rows.push(...loaded.rows);
    return { tokenA: loaded.state.mint0 };
  }

  private async swapRows(
    ev: SwapEvent,
    pool: PoolMints,
    tx: TransactionInput,
    context: MapContext,
  ): Promise<DecodedRow[] | null> {
    const rates = await this.rates(ev.config, context);
    if (rates === null) {
      context.skip('parent_unavailable', {
        signature: tx.signature,
        pool: ev.pool,
        config: ev.config,
        why: 'AmmConfig unreadable',
      });
      return null;
    }
    const fee = tradeFee(ev.inputAmount, rates.tradeFeeRate);
    const shares = feeShares(fee, rates);
    const rows: DecodedRow[] = [
      decodedRow('swaps', {
        pool_pubkey: ev.pool,
        user_address: ev.user,
        input_mint: ev.inputMint,
        output_mint: ev.outputMint,
        input_amount: toU64String(ev.inputAmount, 'input_amount'),
        output_amount: toU64String(ev.outputAmount, 'output_amount'),
        fee_amount: toU64String(fee, 'fee_amount'),
        signature: tx.signature,
        slot: tx.slot,
      }),
    ];
    // The protocol and fund shares stay in the vault but leave the reserves.
    const inputAfter = ev.inputVaultBefore + ev.inputAmount - shares.protocol - shares.fund;
    const outputAfter = ev.outputVaultBefore - ev.outputAmount;
    if (inputAfter >= 0n && outputAfter >= 0n) {
      const zeroIn = ev.inputMint === pool.tokenA;
      rows.push(reserveRow(ev.pool, tx.slot, zeroIn ? [inputAfter, outputAfter] : [outputAfter, inputAfter]));
    } else {
      context.skip('inconsistent', {
        signature: tx.signature,
        pool: ev.pool,
        why: 'SwapEvent leaves a vault negative',
      });
    }
    return rows;
  }

  /** The pool's state row (without reserves), or null when its AmmConfig cannot be read. */
  private async poolRows(
    pubkey: string,
    state: PoolStateAccount,
    slot: number,
    context: MapContext,
  ): Promise<DecodedRow[] | null> {
    const rates = await this.rates(state.config, context);
    if (rates === null) {
      context.skip('parent_unavailable', { pool: pubkey, config: state.config, why: 'AmmConfig unreadable' });
      return null;
    }
    poolsOfConfig(context, state.config).add(pubkey);
    return [
      decodedRow(
        'pools',
        {
          pubkey,
          token_a_mint: state.mint0,
          token_b_mint: state.mint1,
          token_a_vault: state.vault0,
          token_b_vault: state.vault1,
          lp_mint: state.lpMint,
          fee_rate: Number(rates.tradeFeeRate),
          lp_supply: toU64String(state.lpSupply, 'lp_supply'),
          created_slot: slot,
        },
        { pubkey, slot, from: 'account' },
      ),
    ];
  }

  /** A pool never written, read now: its state row and its reserves. */
  private async readPool(
    pool: string,
    context: MapContext,
  ): Promise<{ state: PoolStateAccount; rows: DecodedRow[] } | null> {
    const read = await context.accounts([pool]);
    const state = this.poolState(pool, read.values[0] ?? null);
    if (state === null) return null;
    const stateRows = await this.poolRows(pool, state, read.slot, context);
    if (stateRows === null) return null;
    return { state, rows: [...stateRows, ...(await this.readReserves(pool, state, context))] };
  }

  /**
   * Reserves from the pool's vaults and the fees its state records, read in one request so that
   * both are of the same slot.
   */
  private async readReserves(pool: string, state: PoolStateAccount, context: MapContext): Promise<DecodedRow[]> {
    const read = await context.accounts([pool, state.vault0, state.vault1]);
    const now = this.poolState(pool, read.values[0] ?? null);
    const vault0 = decodeTokenAccount(read.values[1] ?? null);
    const vault1 = decodeTokenAccount(read.values[2] ?? null);
    if (now === null) return []; // closed since: nothing left to mirror
    if (vault0 === null || vault1 === null) {
      context.skip('inconsistent', { pool, why: 'pool vaults unreadable' });
      return [];
    }
    const reserve0 = vault0.amount - now.protocolFees0 - now.fundFees0;
    const reserve1 = vault1.amount - now.protocolFees1 - now.fundFees1;
    if (reserve0 < 0n || reserve1 < 0n) {
      context.skip('inconsistent', { pool, why: 'vault holds less than the fees the pool set aside' });
      return [];
    }
    return [reserveRow(pool, read.slot, [reserve0, reserve1], 'account')];
  }

  private poolState(pool: string, account: { owner: string; data: Uint8Array } | null): PoolStateAccount | null {
    if (account === null || account.owner !== this.decoder.programId) return null;
    const decoded = this.decoder.decodeAccount(pool, account.data);
    return decoded?.kind === 'pool' ? decoded : null;
  }

  private async rates(config: string, context: MapContext): Promise<AmmConfigRates | null> {
    const key = `config:${config}`;
    const cached = context.cache.get(key) as AmmConfigRates | undefined;
    if (cached !== undefined) return cached;
    const [account] = (await context.accounts([config])).values;
    const decoded = account?.owner === this.decoder.programId ? this.decoder.decodeAccount(config, account.data) : null;
    if (decoded?.kind !== 'config') return null;
    context.cache.set(key, decoded.rates);
    return decoded.rates;
  }

  /** A config account changed: new rates from now on, and the new trade fee on the pools known to use it. */
  private configChanged(input: AccountInput, rates: AmmConfigRates, context: MapContext): DecodedRow[] {
    const key = `config:${input.pubkey}`;
    const previous = context.cache.get(key) as AmmConfigRates | undefined;
    context.cache.set(key, rates);
    if (previous === undefined || previous.tradeFeeRate === rates.tradeFeeRate) return [];
    // Pools this process has not mapped since it started get the new rate when they are next read.
    return [...poolsOfConfig(context, input.pubkey)].map((pool) =>
      decodedRow(
        'pools',
        { pubkey: pool, fee_rate: Number(rates.tradeFeeRate) },
        { pubkey: pool, slot: input.slot, from: 'account' },
      ),
    );
  }
}

function poolsOfConfig(context: MapContext, config: string): Set<string> {
  const key = `pools:${config}`;
  let pools = context.cache.get(key) as Set<string> | undefined;
  if (pools === undefined) context.cache.set(key, (pools = new Set()));
  return pools;
}

function reserveRow(
  pool: string,
  slot: number,
  [reserve0, reserve1]: readonly [bigint, bigint],
  from: 'account' | 'transaction' = 'transaction',
  lpSupply?: bigint,
): DecodedRow {
  return decodedRow(
    'pools',
    {
      pubkey: pool,
      token_a_reserve: toU64String(reserve0, 'token_a_reserve'),
      token_b_reserve: toU64String(reserve1, 'token_b_reserve'),
      ...(lpSupply === undefined ? {} : { lp_supply: toU64String(lpSupply, 'lp_supply') }),
    },
    { pubkey: pool, slot, from },
  );
}

function lpRows(ev: LpChangeEvent, tx: TransactionInput): DecodedRow[] {
  const add = ev.kind === 'deposit';
  const rows: DecodedRow[] = [
    decodedRow('liquidity_events', {
      pool_pubkey: ev.pool,
      user_address: ev.user,
      event_type: add ? 'add' : 'remove',
      token_a_amount: toU64String(ev.amount0, 'token_a_amount'),
      token_b_amount: toU64String(ev.amount1, 'token_b_amount'),
      lp_amount: toU64String(ev.lpAmount, 'lp_amount'),
      signature: tx.signature,
      slot: tx.slot,
    }),
  ];
  const after0 = add ? ev.vault0Before + ev.amount0 : ev.vault0Before - ev.amount0;
  const after1 = add ? ev.vault1Before + ev.amount1 : ev.vault1Before - ev.amount1;
  const lpAfter = add ? ev.lpBefore + ev.lpAmount : ev.lpBefore - ev.lpAmount;
  if (after0 >= 0n && after1 >= 0n && lpAfter >= 0n)
    rows.push(reserveRow(ev.pool, tx.slot, [after0, after1], 'transaction', lpAfter));
  return rows;
}

// Raydium CP-Swap (CPMM): PoolState and AmmConfig accounts → pools; SwapEvent → swaps;
// LpChangeEvent → liquidity_events (both events are Anchor `emit!` logs).
import { statsFor, type DecoderOptions } from '../decoder-options.ts';
import { programOf, type Program } from '../types.ts';
import { CpSwapDecoder, RAYDIUM_CP_SWAP_PROGRAM_ID, type CpSwapAccount, type CpSwapTransaction } from './decode.ts';
import { CpSwapMapper } from './map.ts';

export {
  RAYDIUM_CP_SWAP_PROGRAM_ID,
  FEE_RATE_DENOMINATOR,
  cpSwapCodec,
  feeShares,
  tradeFee,
  type AmmConfigRates,
  type CpSwapAccount,
  type CpSwapTransaction,
} from './decode.ts';

export function createRaydiumCpSwapProgram(options: DecoderOptions = {}): Program<CpSwapAccount, CpSwapTransaction> {
  const programId = options.programId ?? RAYDIUM_CP_SWAP_PROGRAM_ID;
  const stats = statsFor(options);
  const decoder = new CpSwapDecoder(programId, options.watch, stats);
  const mapper = new CpSwapMapper(decoder);
  return programOf({ name: 'raydium-cp-swap', programId, domain: 'amm', stats }, decoder, mapper);
}

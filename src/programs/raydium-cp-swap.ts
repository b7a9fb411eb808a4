// Raydium CP-Swap (see raydium-cp-swap/): its id, codec and fee arithmetic, for the local cluster and tests.
export {
  RAYDIUM_CP_SWAP_PROGRAM_ID,
  FEE_RATE_DENOMINATOR,
  cpSwapCodec,
  feeShares,
  tradeFee,
  createRaydiumCpSwapProgram,
  type AmmConfigRates,
} from './raydium-cp-swap/index.ts';

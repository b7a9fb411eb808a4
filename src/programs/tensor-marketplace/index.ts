// Tensor marketplace (TComp): ListState accounts → listings; its self-CPI events → listings
// (MakerEvent), sales (TakerEvent of a listing) and collections (events naming a whitelist);
// delisting and expiry → the listing 'cancelled'.
import { statsFor, type DecoderOptions } from '../decoder-options.ts';
import { programOf, type Program } from '../types.ts';
import {
  TENSOR_MARKETPLACE_PROGRAM_ID,
  TensorDecoder,
  type ListStateAccount,
  type TensorTransaction,
} from './decode.ts';
import { TensorMapper } from './map.ts';

export {
  TENSOR_MARKETPLACE_PROGRAM_ID,
  tensorCodec,
  tcompNoopEvent,
  type ListStateAccount,
  type TensorTransaction,
} from './decode.ts';

export function createTensorMarketplaceProgram(
  options: DecoderOptions = {},
): Program<ListStateAccount, TensorTransaction> {
  const programId = options.programId ?? TENSOR_MARKETPLACE_PROGRAM_ID;
  const stats = statsFor(options);
  const decoder = new TensorDecoder(programId, options.watch, stats);
  const mapper = new TensorMapper(decoder);
  return programOf({ name: 'tensor-marketplace', programId, domain: 'marketplace', stats }, decoder, mapper);
}

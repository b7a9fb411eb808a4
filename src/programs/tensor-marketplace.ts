// Tensor marketplace (see tensor-marketplace/): its id and codec, for the local cluster and tests.
export {
  TENSOR_MARKETPLACE_PROGRAM_ID,
  tensorCodec,
  tcompNoopEvent,
  createTensorMarketplaceProgram,
} from './tensor-marketplace/index.ts';

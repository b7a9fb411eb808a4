// The escrow program (see escrow/): its id, codec and derived addresses, for the local cluster and tests.
export { ESCROW_PROGRAM_ID, escrowCodec, createEscrowProgram } from './escrow/index.ts';
export { ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID, associatedTokenAddress } from './addresses.ts';

// The Anchor escrow of the Solana program examples (tokens/escrow/anchor): Offer accounts and
// make_offer / take_offer / refund_offer instructions → escrows and escrow_events.
import { statsFor, type DecoderOptions } from '../decoder-options.ts';
import { programOf, type Program } from '../types.ts';
import { ESCROW_PROGRAM_ID, EscrowDecoder, type EscrowTransaction, type Offer } from './decode.ts';
import { EscrowMapper } from './map.ts';

export { ESCROW_PROGRAM_ID, escrowCodec, type Offer, type EscrowTransaction } from './decode.ts';

export function createEscrowProgram(options: DecoderOptions = {}): Program<Offer, EscrowTransaction> {
  const programId = options.programId ?? ESCROW_PROGRAM_ID;
  const stats = statsFor(options);
  const decoder = new EscrowDecoder(programId, options.watch, stats);
  const mapper = new EscrowMapper(decoder);
  return programOf({ name: 'escrow', programId, domain: 'escrow', stats }, decoder, mapper);
}

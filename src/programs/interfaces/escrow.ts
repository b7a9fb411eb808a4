// The Anchor escrow of the Solana program examples (tokens/escrow/anchor) `qbuMdeYx…h826`: the
// Offer account (programs/escrow/src/state/offer.rs) and the instructions of lib.rs with the
// account order of their `#[derive(Accounts)]` structs, plus `refund_offer` as the same course's
// escrow lesson has it (so that an offer can be cancelled).
import type { ProgramInterface } from './program-interface.ts';

export const ESCROW_INTERFACE: ProgramInterface = {
  name: 'escrow',
  version: '0.1.0',
  accounts: {
    Offer: {
      id: 'u64',
      maker: 'pubkey',
      token_mint_a: 'pubkey',
      token_mint_b: 'pubkey',
      token_b_wanted_amount: 'u64',
      bump: 'u8',
    },
  },
  instructions: {
    make_offer: {
      accounts: [
        'maker*!',
        'token_mint_a',
        'token_mint_b',
        'maker_token_account_a*',
        'offer*',
        'vault*',
        'associated_token_program',
        'token_program',
        'system_program',
      ],
      args: { id: 'u64', token_a_offered_amount: 'u64', token_b_wanted_amount: 'u64' },
    },
    refund_offer: {
      accounts: [
        'maker*!',
        'token_mint_a',
        'maker_token_account_a*',
        'offer*',
        'vault*',
        'token_program',
        'system_program',
      ],
      args: {},
    },
    take_offer: {
      accounts: [
        'taker*!',
        'maker*',
        'token_mint_a',
        'token_mint_b',
        'taker_token_account_a*',
        'taker_token_account_b*',
        'maker_token_account_b*',
        'offer*',
        'vault*',
        'associated_token_program',
        'token_program',
        'system_program',
      ],
      args: {},
    },
  },
};

// Real mainnet data, as published by the public sources named in ../shared/reference/README.md
// (read from there, never copied into the repository), through the real programs. Expected values are the ones the sources state (mints, amounts, prices) or that
// can be checked independently (pool and list-state addresses are the program's PDAs of the decoded
// fields; a listing's price equals its list instruction's argument).
//
// Not covered, because no public source was found:
// - SPL Governance: no raw realm/governance/proposal/vote-record bytes and no full transaction
//   (instruction data and accounts) of GovER5Lthms3bLBqWub97yVrMmEogzX7xNjdXpPPCVZw; only log text
//   (instruction names) and synthetic fixtures.
// - Raydium CP-Swap AmmConfig: none of CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C with a named
//   source, so the pool rows themselves (which need the config's trade fee) cannot be shown; the
//   SwapEvent samples are "Program data:" payloads without their transaction's instructions.
// - Escrow: the program-examples escrow is not deployed on mainnet, so there is nothing to sample.
import { expect } from 'chai';
import {
  Message,
  PublicKey,
  type CompiledInstruction,
  type MessageArgs,
  type TransactionError,
  type VersionedTransactionResponse,
} from '@solana/web3.js';
import { utils } from '@coral-xyz/anchor';
import { toTransactionInput } from '../../src/ingest/rpc.ts';
import { DecodeStats, decodeAccountData, decodeEvents, pubkeyString, u64Of } from '../../src/programs/events.ts';
import {
  RAYDIUM_CP_SWAP_PROGRAM_ID,
  cpSwapCodec,
  createRaydiumCpSwapProgram,
} from '../../src/programs/raydium-cp-swap.ts';
import {
  TENSOR_MARKETPLACE_PROGRAM_ID,
  createTensorMarketplaceProgram,
  tensorCodec,
} from '../../src/programs/tensor-marketplace.ts';
import { DecodeError, type MapContext, type TransactionInput } from '../../src/programs/types.ts';
import { referenceJson } from '../support/reference.ts';

/** A context for mappings that need nothing: any read would fail the test. */
const noContext: MapContext = {
  row: () => Promise.reject(new Error('no rows here')),
  accounts: () => Promise.reject(new Error('no chain here')),
  history: () => Promise.reject(new Error('no chain here')),
  cache: new Map(),
  skip: (reason, details) => {
    throw new Error(`unexpected skip ${reason}: ${JSON.stringify(details)}`);
  },
};

function fixture<T>(path: string): T {
  return referenceJson<T>(`mainnet-samples/${path}`);
}

interface AccountFixture {
  readonly pubkey?: string;
  readonly data: string;
}
interface EventFixture {
  readonly signature: string;
  readonly programData: string;
}

const CP_SWAP = new PublicKey(RAYDIUM_CP_SWAP_PROGRAM_ID);
const TCOMP = new PublicKey(TENSOR_MARKETPLACE_PROGRAM_ID);
const WSOL = 'So11111111111111111111111111111111111111112';
const TOKEN_PROGRAM = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
/** Raydium's CP-Swap config index 0 (0.25 % trade fee), named by both pool sources. */
const AMM_CONFIG_INDEX_0 = 'D4FPEruKEHrG5TenZ2mpDGEfu1iUvTiqBxvpU8HLBvC2';

describe('real mainnet samples', () => {
  describe('Raydium CP-Swap', () => {
    const pools = [
      {
        file: 'raydium-cp-swap/pool-state-Q2sPHPd.json',
        fields: {
          amm_config: AMM_CONFIG_INDEX_0,
          token_0_mint: WSOL,
          token_1_mint: 'Dz9mQ9NzkBcCsuGPFJ3r1bS4wgqKMHBPiVuniW8Mbonk',
          token_0_vault: 'HgNPDD8bpbSrGyHegiCT5xrYxHTfwLfZydwGkjNCJRKA',
          token_1_vault: '9xsCiNwYQXM3ZeHFSVj9JQdP1vREJREpN23f6wvxA1ty',
          lp_mint: '5rASbyrUYh4eVmZpgN6MxVY2w83dC4PFg9U9WYc9HW7g',
          token_0_program: TOKEN_PROGRAM,
          token_1_program: TOKEN_PROGRAM,
        },
        lpSupply: '4192510124589',
      },
      {
        file: 'raydium-cp-swap/pool-state-BtGUffME.json',
        fields: {
          amm_config: AMM_CONFIG_INDEX_0,
          token_0_mint: WSOL,
          token_1_mint: '4JPyh4ATbE8hfcH7LqhxF3YThsECZm6htmLvMUyrbonk',
          token_0_vault: 'SvbJANoKJmz6RqEJBj5gjPrfurkKzhfGXUvaEams48y',
          token_1_vault: 'FgPdQQ37kZVDqsfgPSLzC851mx9BMP6HRYe2ia4HDNLe',
          lp_mint: '32G1zhdfadicaoi8Fpw1a7niNqjHsPC718FXZ3Qg5Df3',
          token_0_program: TOKEN_PROGRAM,
          token_1_program: TOKEN_PROGRAM,
        },
        lpSupply: '3836966203034',
      },
    ];

    it('reads two published WSOL pools of config D4FPEru… field by field, and writes no pool while that AmmConfig cannot be read', async () => {
      const decoder = createRaydiumCpSwapProgram();
      const skips: string[] = [];
      const noChain: MapContext = {
        row: async () => null,
        accounts: async (pubkeys) => ({ slot: 1, values: pubkeys.map(() => null) }),
        history: async () => [],
        cache: new Map(),
        skip: (reason) => skips.push(reason),
      };
      for (const [i, pool] of pools.entries()) {
        const sample = fixture<AccountFixture>(pool.file);
        const pubkey = sample.pubkey ?? '';
        const data = Buffer.from(sample.data, 'base64');
        expect(data.length, pool.file).to.equal(637);
        // The decoder's account-reading step (the same codec and discriminator check it uses).
        const decoded = decodeAccountData(cpSwapCodec(), new DecodeStats(), RAYDIUM_CP_SWAP_PROGRAM_ID, pubkey, data);
        expect(decoded?.name).to.equal('PoolState');
        const d = decoded?.data ?? {};
        const read = Object.fromEntries(Object.keys(pool.fields).map((k) => [k, pubkeyString(d[k])]));
        expect(read, pool.file).to.deep.equal(pool.fields);
        expect(u64Of(d['lp_supply']).toString()).to.equal(pool.lpSupply);
        // The address is the program's pool PDA of the config and mints read: the offsets are right.
        const [pda] = PublicKey.findProgramAddressSync(
          [
            Buffer.from('pool'),
            new PublicKey(pool.fields.amm_config).toBuffer(),
            new PublicKey(pool.fields.token_0_mint).toBuffer(),
            new PublicKey(pool.fields.token_1_mint).toBuffer(),
          ],
          CP_SWAP,
        );
        expect(pda.toBase58()).to.equal(pubkey);
        // Through the program: its fee rate is its config's, which is not published: no row, and
        // the skip is counted (an operator sees it), instead of a row with a made-up fee.
        const state = decoder.decodeAccount(pubkey, data);
        expect(state).to.include({ kind: 'pool', config: AMM_CONFIG_INDEX_0 });
        const input = { pubkey, data, slot: 300_000_000 + i, origin: 'load' as const };
        expect(await decoder.mapAccount(state!, input, noChain)).to.deep.equal([]);
        expect(skips).to.have.length(i + 1);
      }
      expect(new Set(skips)).to.deep.equal(new Set(['parent_unavailable']));
      expect(decoder.stats.unknownDiscriminators).to.equal(0);
    });

    /** A transaction input carrying only the published "Program data:" payload (its instructions were not published). */
    function eventOnly(sample: EventFixture): TransactionInput {
      return {
        signature: sample.signature,
        slot: 1,
        blockTime: null,
        fee: 0n,
        err: null,
        accountKeys: [RAYDIUM_CP_SWAP_PROGRAM_ID],
        writable: [false],
        instructions: [],
        innerInstructions: new Map(),
        logMessages: [
          `Program ${RAYDIUM_CP_SWAP_PROGRAM_ID} invoke [1]`,
          'Program log: Instruction: SwapBaseInput',
          `Program data: ${sample.programData}`,
          `Program ${RAYDIUM_CP_SWAP_PROGRAM_ID} success`,
        ],
      };
    }

    function swapEvent(tx: TransactionInput): Record<string, string | boolean> {
      const events = decodeEvents(tx, cpSwapCodec(), { stats: new DecodeStats() });
      expect(events.map((e) => e.name)).to.deep.equal(['SwapEvent']);
      const e = events[0]?.data ?? {};
      return {
        pool_id: pubkeyString(e['pool_id']),
        input_vault_before: u64Of(e['input_vault_before']).toString(),
        output_vault_before: u64Of(e['output_vault_before']).toString(),
        input_amount: u64Of(e['input_amount']).toString(),
        output_amount: u64Of(e['output_amount']).toString(),
        input_transfer_fee: u64Of(e['input_transfer_fee']).toString(),
        output_transfer_fee: u64Of(e['output_transfer_fee']).toString(),
        base_input: e['base_input'] === true,
      };
    }

    it('decodes the SwapEvent of transaction 4kKAK8GF… (the original event layout)', () => {
      const tx = eventOnly(fixture<EventFixture>('raydium-cp-swap/swap-event-4kKAK8GF.json'));
      expect(swapEvent(tx)).to.deep.equal({
        pool_id: '8ZT5BBW3WRpvCwPiadE6jiocQfriMjW7DSfXR2pF6YcT',
        input_vault_before: '59486633393',
        output_vault_before: '324181831497470',
        input_amount: '1287000000',
        output_amount: '6848381008732',
        input_transfer_fee: '0',
        output_transfer_fee: '0',
        base_input: true,
      });
    });

    it('decodes the SwapEvent of transaction gz8KEqNm…, whose newer program version appends mints and fees', () => {
      const sample = fixture<EventFixture>('raydium-cp-swap/swap-event-gz8KEqNm.json');
      // 8 discriminator + 81 bytes of the bundled layout + 81 bytes the newer version appends.
      expect(Buffer.from(sample.programData, 'base64').length).to.equal(170);
      expect(swapEvent(eventOnly(sample))).to.deep.equal({
        pool_id: 'E9oGC72mZWYqmzR5ggB9DAoGyRssR3uhFWHG1L75RZve',
        input_vault_before: '24948480441944',
        output_vault_before: '1868212340231',
        input_amount: '784025641',
        output_amount: '58561432',
        input_transfer_fee: '0',
        output_transfer_fee: '0',
        base_input: true,
      });
    });

    it('refuses a published SwapEvent without its swap instruction, naming the signature', () => {
      const sample = fixture<EventFixture>('raydium-cp-swap/swap-event-4kKAK8GF.json');
      const decoder = createRaydiumCpSwapProgram();
      let error: unknown;
      try {
        decoder.decodeTransaction(eventOnly(sample));
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(DecodeError);
      expect((error as DecodeError).where).to.deep.equal({ signature: sample.signature });
    });
  });

  describe('Tensor marketplace (TComp)', () => {
    interface RpcTransaction {
      readonly slot: number;
      readonly blockTime: number | null;
      readonly meta: {
        readonly err: unknown;
        readonly fee: number;
        readonly preBalances: number[];
        readonly postBalances: number[];
        readonly logMessages: string[];
        readonly innerInstructions: { index: number; instructions: CompiledInstruction[] }[];
      };
      readonly transaction: { readonly message: MessageArgs; readonly signatures: string[] };
    }

    /** getTransaction's JSON as web3.js returns it, then the ingester's own conversion. */
    function transactionInput(json: RpcTransaction): TransactionInput {
      const response: VersionedTransactionResponse = {
        slot: json.slot,
        blockTime: json.blockTime,
        transaction: { message: new Message(json.transaction.message), signatures: json.transaction.signatures },
        meta: {
          err: json.meta.err as TransactionError | null,
          fee: json.meta.fee,
          preBalances: json.meta.preBalances,
          postBalances: json.meta.postBalances,
          logMessages: json.meta.logMessages,
          innerInstructions: json.meta.innerInstructions.map((inner) => ({
            index: inner.index,
            instructions: inner.instructions.map((ix) => ({
              programIdIndex: ix.programIdIndex,
              accounts: ix.accounts,
              data: ix.data,
            })),
          })),
          loadedAddresses: { writable: [], readonly: [] },
        },
      };
      return toTransactionInput(json.transaction.signatures[0] ?? '', response);
    }

    it('maps the list transaction 1124XKHm… to its transaction row and an active listing at the listed price', async () => {
      const json = fixture<RpcTransaction>('tensor-marketplace/list-tx-1124XKHm.json');
      const decoder = createTensorMarketplaceProgram();
      const input = transactionInput(json);
      const rows = await decoder.mapTransaction(decoder.decodeTransaction(input)!, input, noContext);
      const seller = '3Rieh6ht56egqBZ7WmoDQNnYtGWAAPdbHRiZDCGuXMPm';
      const listState = '5jsG97cFkR9y95eVmrbji8CdAWxMsN9bXEpTLhvaErZZ';
      const asset = 'Be4zr2WGNkVqEHtSX4fiTf5QTjS3beStsXA1gm4cSHVA';
      expect(rows).to.deep.equal([
        {
          topic: 'transactions',
          row: {
            signature: '1124XKHmq4DZUej1twkJqAT1wxjRdK9eTqN3Pgo7ytHDFJ8VrG7y6sZBsvYju59zxKJjMYbXKXXFFm3ohAJUJ8Y',
            slot: 220519803,
            block_time: '2023-09-29T14:36:30.000Z',
            fee: '7000',
            status: 'success',
            program_id: TENSOR_MARKETPLACE_PROGRAM_ID,
            instruction_type: 'list',
            accounts: json.transaction.message.accountKeys.map(String),
          },
        },
        {
          topic: 'listings',
          row: {
            pubkey: listState,
            marketplace: TENSOR_MARKETPLACE_PROGRAM_ID,
            seller,
            mint: asset,
            price: '150000',
            state: 'active',
            created_slot: 220519803,
            sold_slot: null,
          },
          account: { pubkey: listState, slot: 220519803 },
        },
      ]);
      expect(decoder.stats.unknownDiscriminators).to.equal(0);
      // The price the event carried is the list instruction's own amount argument.
      const list = json.transaction.message.instructions[2];
      const args = tensorCodec().decodeInstruction(utils.bytes.bs58.decode(list?.data ?? ''));
      expect(args?.name).to.equal('list');
      expect(u64Of(args?.data['amount']).toString()).to.equal('150000');
    });

    it('maps the published ListState of asset Ecob3R5t… to an active listing', async () => {
      const sample = fixture<AccountFixture>('tensor-marketplace/list-state-Ecob3R5t.json');
      const data = Buffer.from(sample.data, 'base64');
      const asset = 'Ecob3R5tdh6Y34LRdHFBCQYwBhAhCtbeNnGxXyvUxkSP';
      const [listState, bump] = PublicKey.findProgramAddressSync(
        [Buffer.from('list_state'), new PublicKey(asset).toBuffer()],
        TCOMP,
      );
      // The account stores its own bump: the derived address is the one these bytes live at.
      expect(data[9]).to.equal(bump);
      const program = createTensorMarketplaceProgram();
      const input = { pubkey: listState.toBase58(), data, slot: 250_000_000, origin: 'load' as const };
      const rows = await program.mapAccount(program.decodeAccount(listState.toBase58(), data)!, input, noContext);
      expect(rows).to.deep.equal([
        {
          topic: 'listings',
          row: {
            pubkey: listState.toBase58(),
            marketplace: TENSOR_MARKETPLACE_PROGRAM_ID,
            seller: 'Eg3NR62MpdkMXmsJshzr3Qf5d7Gzy3kiZ2mtQfsGiXNG',
            mint: asset,
            price: '110000',
            state: 'active',
            created_slot: 250_000_000,
          },
          account: { pubkey: listState.toBase58(), slot: 250_000_000, from: 'account' },
        },
      ]);
    });
  });
});

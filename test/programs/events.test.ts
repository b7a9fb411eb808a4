import type { UnknownDiscriminatorReport } from '../../src/programs/events.ts';
import { expect } from 'chai';
import BN from 'bn.js';
import { PublicKey } from '@solana/web3.js';
import {
  cpSwapCodec,
  createRaydiumCpSwapProgram,
  RAYDIUM_CP_SWAP_PROGRAM_ID,
} from '../../src/programs/raydium-cp-swap.ts';
import { decodeEvents, DecodeStats, eventCpiData, logDataPayloads } from '../../src/programs/events.ts';
import { DecodeError } from '../../src/programs/types.ts';
import { meta, singleInstructionTransaction } from '../../src/simulate/activity/runtime.ts';
import { toTransactionInput } from '../../src/simulate/activity/transaction-input.ts';
import type { SimTransaction } from '../../src/simulate/types.ts';

const codec = cpSwapCodec();
const POOL = new PublicKey(Buffer.alloc(32, 7)).toBase58();
const USER = new PublicKey(Buffer.alloc(32, 9)).toBase58();
const MAX = '18446744073709551615';

function swapEvent(): Buffer {
  return codec.encodeEvent('SwapEvent', {
    pool_id: new PublicKey(POOL),
    input_vault_before: new BN(MAX),
    output_vault_before: new BN(1),
    input_amount: new BN(MAX),
    output_amount: new BN(2),
    input_transfer_fee: new BN(0),
    output_transfer_fee: new BN(0),
    base_input: true,
  });
}

function txWith(body: Parameters<typeof singleInstructionTransaction>[0]['body'], inner = false): SimTransaction {
  return singleInstructionTransaction({
    feePayer: USER,
    instruction: {
      programId: RAYDIUM_CP_SWAP_PROGRAM_ID,
      accounts: [meta(USER, true, true), meta(POOL, false, true)],
      data: Buffer.alloc(8, inner ? 1 : 0),
    },
    units: 1000,
    body,
    accountWrites: [],
  });
}

const input = (tx: SimTransaction, signature = 'sig-events') =>
  toTransactionInput(tx, { signature, slot: 10, blockTime: 1_767_225_600 });

describe('event mechanism', () => {
  it('attributes "Program data:" lines to the program whose invocation prints them, not to its callees', () => {
    const other = new PublicKey(Buffer.alloc(32, 3)).toBase58();
    const tx = txWith((b) =>
      b
        .invoke({ programId: other, accounts: [], data: new Uint8Array(0) }, 100, (c) =>
          c.data(Buffer.from('not ours')),
        )
        .data(swapEvent()),
    );
    const payloads = logDataPayloads(tx.logMessages, RAYDIUM_CP_SWAP_PROGRAM_ID);
    expect(payloads).to.have.length(1);
    expect(Buffer.from(payloads[0]?.data ?? []).equals(swapEvent())).to.equal(true);
    expect(logDataPayloads(tx.logMessages, other)).to.have.length(1);
  });

  it('decodes a u64::MAX event exactly from logs and from an emit_cpi inner instruction', () => {
    const fromLog = decodeEvents(input(txWith((b) => b.data(swapEvent()))), codec, { stats: new DecodeStats() });
    const viaCpi = decodeEvents(
      input(
        txWith((b) =>
          b.invoke(
            { programId: RAYDIUM_CP_SWAP_PROGRAM_ID, accounts: [meta(POOL, true)], data: eventCpiData(swapEvent()) },
            10,
          ),
        ),
      ),
      codec,
      { stats: new DecodeStats() },
    );
    for (const events of [fromLog, viaCpi]) {
      expect(events).to.have.length(1);
      expect(events[0]?.name).to.equal('SwapEvent');
      expect(String(events[0]?.data['input_amount'])).to.equal(MAX);
      expect(String(events[0]?.data['input_vault_before'])).to.equal(MAX);
    }
    expect(fromLog[0]?.source).to.equal('log');
    expect(viaCpi[0]?.source).to.equal('cpi');
  });

  it('decodes the known prefix of an event from a newer program version with extra trailing fields', () => {
    const longer = Buffer.concat([swapEvent(), Buffer.alloc(81, 0xab)]);
    const events = decodeEvents(input(txWith((b) => b.data(longer))), codec, { stats: new DecodeStats() });
    expect(events.map((e) => e.name)).to.deep.equal(['SwapEvent']);
    expect(String(events[0]?.data['output_amount'])).to.equal('2');
  });

  it('counts an unknown discriminator and reports it with its signature instead of failing', () => {
    const reports: UnknownDiscriminatorReport[] = [];
    const decoder = createRaydiumCpSwapProgram({ onUnknown: (r) => reports.push(r) });
    const unknown = Buffer.concat([Buffer.from('ffeeddccbbaa9988', 'hex'), Buffer.alloc(16)]);
    decoder.decodeTransaction(
      input(
        txWith((b) => b.data(unknown)),
        'sig-unknown',
      ),
    );
    expect(decoder.stats.unknownDiscriminators).to.be.greaterThan(0);
    expect(reports).to.deep.include({
      programId: RAYDIUM_CP_SWAP_PROGRAM_ID,
      signature: 'sig-unknown',
      kind: 'event',
      discriminator: 'ffeeddccbbaa9988',
    });
  });

  it('raises DecodeError naming the signature for a truncated event', () => {
    const truncated = swapEvent().subarray(0, 30);
    expect(() =>
      decodeEvents(
        input(
          txWith((b) => b.data(truncated)),
          'sig-truncated',
        ),
        codec,
        { stats: new DecodeStats() },
      ),
    )
      .to.throw(DecodeError)
      .with.property('where')
      .that.deep.equals({ signature: 'sig-truncated' });
  });

  it('raises DecodeError naming the pubkey for a truncated account', () => {
    const config = codec.encodeAccount('AmmConfig', {
      bump: 1,
      disable_create_pool: false,
      index: 0,
      trade_fee_rate: new BN(2500),
      protocol_fee_rate: new BN(0),
      fund_fee_rate: new BN(0),
      create_pool_fee: new BN(0),
      protocol_owner: new PublicKey(USER),
      fund_owner: new PublicKey(USER),
      padding: Array.from({ length: 16 }, () => new BN(0)),
    });
    expect(() => createRaydiumCpSwapProgram().decodeAccount(POOL, config.subarray(0, 40)))
      .to.throw(DecodeError)
      .with.property('where')
      .that.deep.equals({ pubkey: POOL });
  });
});

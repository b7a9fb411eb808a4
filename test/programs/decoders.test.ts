// Each program's decode and map stages fed with what the local cluster's activity encodes (with the
// project's interfaces and spl-governance's schemas), checked row by row; u64::MAX values; watch
// lists; and the joins that read earlier data from the rows or the chain instead of memory.
import { expect } from 'chai';
import { createEscrowProgram } from '../../src/programs/escrow.ts';
import { createRaydiumCpSwapProgram, tradeFee } from '../../src/programs/raydium-cp-swap.ts';
import { createSplGovernanceProgram } from '../../src/programs/spl-governance.ts';
import { createTensorMarketplaceProgram } from '../../src/programs/tensor-marketplace.ts';
import type { AnyProgram } from '../../src/programs/types.ts';
import { ActivityScript } from '../../src/simulate/activity/player.ts';
import { mapPlayed, memoryContext, MemoryRows, only, PlayedLedger } from '../support/program-harness.ts';

const MAX = '18446744073709551615';
const NOBODY = '11111111111111111111111111111111';

type Loose = Record<string, unknown>;

describe('all four programs over the local cluster’s activity', () => {
  it('map every played transaction to rows, covering every table they map, with nothing skipped', async () => {
    const programs: AnyProgram[] = [
      createEscrowProgram(),
      createRaydiumCpSwapProgram(),
      createTensorMarketplaceProgram(),
      createSplGovernanceProgram(),
    ];
    const chain = new PlayedLedger();
    const played = chain.play(new ActivityScript({ seed: 7 }), 600);
    const { store, rows } = await mapPlayed(programs, chain, played);
    rows.forEach((r, i) => expect(r.length, `rows for ${played[i]?.submitted.signature}`).to.be.greaterThan(0));
    for (const topic of [
      'transactions',
      'escrows',
      'escrow_events',
      'pools',
      'swaps',
      'liquidity_events',
      'listings',
      'sales',
      'governances',
      'proposals',
      'votes',
      'executions',
    ] as const) {
      expect(store.of(topic).length, topic).to.be.greaterThan(0);
    }
    expect(store.skips).to.deep.equal([]);
    for (const p of programs) expect(p.stats.unknownDiscriminators, p.name).to.equal(0);
  });
});

describe('escrow program', () => {
  it('maps make_offer, take_offer and refund_offer to escrows and escrow_events, u64::MAX exact', async () => {
    const chain = new PlayedLedger();
    const { store, rows } = await mapPlayed(
      [createEscrowProgram()],
      chain,
      chain.play(only('escrow', { extremeAmounts: true }), 40),
    );
    const made = rows.flat().find((r) => r.topic === 'escrows' && 'amount_a' in r.row);
    expect(made?.row).to.include({ amount_b: MAX, state: 'funded', taker: null, completed_slot: null });
    expect(BigInt(String((made?.row as Loose).amount_a)) > 2n ** 64n - 1002n).to.equal(true);
    expect(store.of('escrow_events').map((e) => e.event_type)).to.include.members([
      'make_offer',
      'take_offer',
      'refund',
    ]);
    const states = store.of('escrows').map((e) => e.state);
    expect(states).to.include.members(['completed', 'cancelled', 'funded']);
    expect(store.skips).to.deep.equal([]);
  });

  it('gives an escrow first met as an account the amount its vault holds', async () => {
    const chain = new PlayedLedger();
    chain.play(only('escrow'), 30);
    const program = createEscrowProgram();
    const store = new MemoryRows();
    const open = chain.ledger.accountsOwnedBy(program.programId);
    expect(open.length).to.be.greaterThan(0);
    for (const [pubkey, { account, slot }] of open) {
      const decoded = program.decodeAccount(pubkey, account.data);
      if (decoded === null) throw new Error(`${pubkey} is not an Offer`);
      store.add(
        await program.mapAccount(
          decoded,
          { pubkey, data: account.data, slot, origin: 'load' },
          memoryContext(chain, store),
        ),
      );
    }
    // Every open offer's amount_a equals what its make_offer offered.
    for (const escrow of store.of('escrows')) {
      const make = chain.played.find((p) => p.tx.instructions[0]?.accounts[4]?.pubkey === escrow.pubkey);
      const offered = make?.input.instructions[0]?.data;
      expect(offered, `make_offer of ${String(escrow.pubkey)}`).to.not.equal(undefined);
      expect(escrow.amount_a).to.equal(
        Buffer.from(offered as Uint8Array)
          .readBigUInt64LE(16)
          .toString(),
      );
      expect(escrow.state).to.equal('funded');
    }
  });

  it('rebuilds an escrow settled before it was ever written from its make_offer in the chain’s history', async () => {
    const chain = new PlayedLedger();
    const played = chain.play(only('escrow'), 60);
    // The ingester starts late: it sees only the second half of the activity.
    const { store } = await mapPlayed([createEscrowProgram()], chain, played.slice(30));
    const events = store.of('escrow_events');
    expect(events.some((e) => e.event_type !== 'make_offer')).to.equal(true);
    for (const event of events) {
      const escrow = store.get('escrows', String(event.escrow_pubkey));
      expect(escrow, `escrow of ${String(event.signature)}`).to.not.equal(null);
      expect(escrow).to.have.property('amount_a').that.is.a('string');
      expect(escrow).to.have.property('escrow_id').that.is.a('string');
    }
    expect(store.skips).to.deep.equal([]);
  });

  it('writes nothing for makers outside the watch list', async () => {
    const chain = new PlayedLedger();
    const { rows } = await mapPlayed([createEscrowProgram({ watch: [NOBODY] })], chain, chain.play(only('escrow'), 20));
    expect(rows.flat()).to.deep.equal([]);
  });
});

describe('Raydium CP-Swap program', () => {
  it('maps pools with their AmmConfig’s trade fee read from the chain, swaps with the fee, and liquidity events', async () => {
    const chain = new PlayedLedger();
    const { store, rows } = await mapPlayed([createRaydiumCpSwapProgram()], chain, chain.play(only('cpSwap'), 60));
    const pools = store.of('pools');
    expect(pools.length).to.equal(3);
    for (const pool of pools) expect(pool.fee_rate).to.equal(2500);
    const swap = store.of('swaps')[0];
    expect(swap?.fee_amount).to.equal(tradeFee(BigInt(String(swap?.input_amount)), 2500n).toString());
    const events = store.of('liquidity_events').map((e) => e.event_type);
    expect(events).to.include.members(['add', 'remove']);
    expect(
      rows.flat().some((r) => r.topic === 'pools' && typeof (r.row as Loose).token_a_reserve === 'string'),
    ).to.equal(true);
    expect(store.skips).to.deep.equal([]);
  });

  it('ends every pool’s reserves at its vault balances minus the fees set aside', async () => {
    const chain = new PlayedLedger();
    const program = createRaydiumCpSwapProgram();
    const { store } = await mapPlayed([program], chain, chain.play(only('cpSwap'), 120));
    for (const pool of store.of('pools')) {
      const state = program.decodeAccount(String(pool.pubkey), chain.ledger.getAccount(String(pool.pubkey))!.data);
      if (state?.kind !== 'pool') throw new Error('not a pool');
      const vault = (k: string) => Buffer.from(chain.ledger.getAccount(k)!.data).readBigUInt64LE(64);
      expect(pool.token_a_reserve).to.equal((vault(state.vault0) - state.protocolFees0 - state.fundFees0).toString());
      expect(pool.token_b_reserve).to.equal((vault(state.vault1) - state.protocolFees1 - state.fundFees1).toString());
      expect(pool.lp_supply).to.equal(state.lpSupply.toString());
    }
  });

  it('writes nothing for pools outside the watch list', async () => {
    const chain = new PlayedLedger();
    const { rows } = await mapPlayed(
      [createRaydiumCpSwapProgram({ watch: [NOBODY] })],
      chain,
      chain.play(only('cpSwap'), 30),
    );
    expect(rows.flat()).to.deep.equal([]);
  });
});

describe('Tensor marketplace program', () => {
  it('maps listings, sales with fees and royalties from the self-CPI events, and delistings', async () => {
    const chain = new PlayedLedger();
    const { store } = await mapPlayed(
      [createTensorMarketplaceProgram()],
      chain,
      chain.play(only('tensor', { extremeAmounts: true }), 60),
    );
    const sale = store.of('sales')[0];
    expect(sale).to.not.equal(undefined);
    const price = BigInt(String(sale?.price));
    expect(sale?.marketplace_fee).to.equal(((price * 200n) / 10_000n).toString());
    expect(['0', ...[250n, 500n, 750n, 1000n].map((b) => ((price * b) / 10_000n).toString())]).to.include(
      sale?.royalty_amount,
    );
    expect(store.of('listings').map((l) => l.state)).to.include.members(['active', 'sold', 'cancelled']);
    expect(store.of('listings').some((l) => BigInt(String(l.price)) > 2n ** 64n - 10n ** 6n - 2n)).to.equal(true);
  });

  it('rebuilds a listing sold before it was ever written from its list transaction', async () => {
    const chain = new PlayedLedger();
    const played = chain.play(only('tensor'), 60);
    const { store } = await mapPlayed([createTensorMarketplaceProgram()], chain, played.slice(30));
    expect(store.of('sales').length).to.be.greaterThan(0);
    for (const sale of store.of('sales')) {
      const listing = store.get('listings', String(sale.listing_pubkey));
      expect(listing, `listing of ${String(sale.signature)}`).to.include({ state: 'sold' });
      expect(listing?.seller).to.be.a('string');
    }
    expect(store.skips).to.deep.equal([]);
  });

  it('writes nothing for sellers and mints outside the watch list', async () => {
    const chain = new PlayedLedger();
    const { rows } = await mapPlayed(
      [createTensorMarketplaceProgram({ watch: [NOBODY] })],
      chain,
      chain.play(only('tensor'), 30),
    );
    expect(rows.flat()).to.deep.equal([]);
  });
});

describe('SPL Governance program', () => {
  it('maps governances with their realm, proposals, and votes with exact u64 weight', async () => {
    const chain = new PlayedLedger();
    const { store } = await mapPlayed(
      [createSplGovernanceProgram()],
      chain,
      chain.play(only('governance', { extremeAmounts: true }), 120),
    );
    expect(store.of('governances').at(-1)).to.include({
      voting_period: 3 * 86_400,
      quorum_votes: '60',
      proposal_threshold: '1000000',
      execution_delay: 0,
    });
    const votes = store.of('votes');
    expect(votes.length).to.be.greaterThan(0);
    for (const vote of votes) {
      expect(vote.vote_weight).to.equal(MAX);
      expect(vote.signature).to.be.a('string');
    }
    const proposal = store.of('proposals')[0];
    expect(proposal?.proposal_id).to.equal(0);
    expect(String(proposal?.title)).to.match(/^Proposal 1: /);
    expect(store.skips).to.deep.equal([]);
  });

  it('maps executions of passed proposals, failed ones included', async () => {
    const chain = new PlayedLedger();
    const { store } = await mapPlayed([createSplGovernanceProgram()], chain, chain.play(only('governance'), 300));
    const executions = store.of('executions');
    expect(executions.length).to.be.greaterThan(0);
    for (const e of executions) expect(store.get('proposals', String(e.proposal_pubkey))).to.not.equal(null);
  });

  it('gives a vote record read at first start the signature of its CastVote, from the record’s history', async () => {
    const chain = new PlayedLedger();
    chain.play(only('governance'), 80);
    const program = createSplGovernanceProgram();
    const store = new MemoryRows();
    const context = memoryContext(chain, store);
    for (const [pubkey, { account, slot }] of chain.ledger.accountsOwnedBy(program.programId)) {
      const decoded = program.decodeAccount(pubkey, account.data);
      if (decoded !== null)
        store.add(await program.mapAccount(decoded, { pubkey, data: account.data, slot, origin: 'load' }, context));
    }
    const votes = store.of('votes');
    expect(votes.length).to.be.greaterThan(0);
    for (const vote of votes) {
      const cast = chain.played.find((p) => p.submitted.signature === vote.signature);
      expect(cast?.tx.logMessages.join('\n'), String(vote.pubkey)).to.contain('CastVote');
    }
    expect(store.skips).to.deep.equal([]);
  });

  it('writes nothing for realms outside the watch list', async () => {
    const chain = new PlayedLedger();
    const { rows } = await mapPlayed(
      [createSplGovernanceProgram({ watch: [NOBODY] })],
      chain,
      chain.play(only('governance'), 40),
    );
    expect(rows.flat()).to.deep.equal([]);
  });
});

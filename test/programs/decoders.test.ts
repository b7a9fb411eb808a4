// Each program's decoder fed with what the activity player encodes through the published IDLs /
// spl-governance schemas, checked row by row; u64::MAX values; watch lists.
import { expect } from 'chai';
import { LocalLedger } from '../../src/simulate/ledger.ts';
import { ActivityScript, type ActivityProgram } from '../../src/simulate/activity/player.ts';
import { decodeSimTransaction, toTransactionInput } from '../../src/simulate/activity/transaction-input.ts';
import { createEscrowDecoder } from '../../src/programs/escrow.ts';
import { createRaydiumCpSwapDecoder, tradeFee } from '../../src/programs/raydium-cp-swap.ts';
import { createTensorMarketplaceDecoder } from '../../src/programs/tensor-marketplace.ts';
import { createSplGovernanceDecoder } from '../../src/programs/spl-governance.ts';
import type { DecodedRow, ProgramDecoder } from '../../src/programs/types.ts';

type LooseRow = { topic: string; row: Record<string, unknown> };
import type { SimTransaction } from '../../src/simulate/types.ts';

const MAX = '18446744073709551615';
const ALL: ActivityProgram[] = ['escrow', 'cpSwap', 'tensor', 'governance'];

function only(program: ActivityProgram, extremeAmounts = false): ActivityScript {
  return new ActivityScript({
    seed: 11,
    extremeAmounts,
    programs: Object.fromEntries(ALL.filter((p) => p !== program).map((p) => [p, false])),
  });
}

function play(
  script: ActivityScript,
  decoders: ProgramDecoder[],
  steps: number,
): { tx: SimTransaction; rows: DecodedRow[] }[] {
  const ledger = new LocalLedger({ seed: 'decoders', now: () => 1_767_225_600_000 });
  const out: { tx: SimTransaction; rows: DecodedRow[] }[] = [];
  for (let i = 0; i < steps; i++) {
    const tx = script.next();
    const submitted = ledger.submit(tx);
    out.push({ tx, rows: decodeSimTransaction(decoders, tx, submitted) });
  }
  return out;
}

const rowsOf = (played: { rows: DecodedRow[] }[], topic: string): LooseRow[] =>
  played.flatMap((p) => p.rows.filter((r) => r.topic === topic) as LooseRow[]);

describe('escrow decoder', () => {
  it('maps make_offer, take_offer and refund_offer to escrows and escrow_events, u64::MAX exact', () => {
    const played = play(only('escrow', true), [createEscrowDecoder()], 40);
    const make = rowsOf(played, 'escrows').find((r) => r.row.state === 'funded' && 'amount_a' in r.row);
    expect(make?.row).to.include({ amount_b: MAX, state: 'funded', taker: null, completed_slot: null });
    expect(BigInt(String(make?.row.amount_a)) > 2n ** 64n - 1002n).to.equal(true);
    const events = rowsOf(played, 'escrow_events').map((r) => r.row.event_type);
    expect(events).to.include.members(['make_offer', 'take_offer', 'refund']);
    const completed = rowsOf(played, 'escrows').find((r) => r.row.state === 'completed');
    expect(completed?.row).to.have.keys(['pubkey', 'taker', 'state', 'completed_slot']);
    expect(rowsOf(played, 'escrows').some((r) => r.row.state === 'cancelled')).to.equal(true);
  });

  it('writes nothing for makers outside the watch list', () => {
    const decoder = createEscrowDecoder({ watch: ['11111111111111111111111111111111'] });
    const played = play(only('escrow'), [decoder], 20);
    expect(played.flatMap((p) => p.rows)).to.deep.equal([]);
  });
});

describe('Raydium CP-Swap decoder', () => {
  it('holds pools until their AmmConfig is known, then maps pools, swaps with the trade fee, and liquidity events', () => {
    const script = only('cpSwap');
    const txs = Array.from({ length: 60 }, () => script.next());
    const decoder = createRaydiumCpSwapDecoder();
    const ledger = new LocalLedger({ seed: 'cp' });
    const submitted = txs.map((tx) => ({ tx, s: ledger.submit(tx) }));
    // Pool accounts before the config: nothing yet.
    const pools = submitted
      .slice(1, 4)
      .flatMap(({ tx, s }) => tx.accountWrites.flatMap((w) => decoder.decodeAccount(w.pubkey, w.data, s.slot)));
    expect(pools).to.deep.equal([]);
    expect(decoder.heldCount).to.equal(3);
    const first = submitted[0];
    const released =
      first?.tx.accountWrites.flatMap((w) => decoder.decodeAccount(w.pubkey, w.data, first.s.slot)) ?? [];
    expect(released.map((r) => r.topic)).to.deep.equal(['pools', 'pools', 'pools']);
    expect(released[0]?.row).to.include({ fee_rate: 2500 });
    const rows = submitted.slice(4).flatMap(({ tx, s }) => decodeSimTransaction([decoder], tx, s)) as LooseRow[];
    const swap = rows.find((r) => r.topic === 'swaps');
    expect(swap).to.not.equal(undefined);
    expect(swap?.row.fee_amount).to.equal(tradeFee(BigInt(String(swap?.row.input_amount)), 2500n).toString());
    expect(rows.some((r) => r.topic === 'liquidity_events' && r.row.event_type === 'add')).to.equal(true);
    expect(rows.some((r) => r.topic === 'liquidity_events' && r.row.event_type === 'remove')).to.equal(true);
    expect(rows.some((r) => r.topic === 'pools' && typeof r.row.token_a_reserve === 'string')).to.equal(true);
  });

  it('reserves from the events match the constant-product state the player keeps', () => {
    const played = play(only('cpSwap'), [createRaydiumCpSwapDecoder()], 80);
    const last = new Map<string, LooseRow>();
    for (const r of rowsOf(played, 'pools')) if (r.row.token_a_reserve !== undefined) last.set(String(r.row.pubkey), r);
    expect(last.size).to.be.greaterThan(0);
    for (const r of last.values()) expect(BigInt(String(r.row.token_a_reserve)) > 0n).to.equal(true);
  });

  it('writes nothing for pools outside the watch list', () => {
    const played = play(
      only('cpSwap'),
      [createRaydiumCpSwapDecoder({ watch: ['11111111111111111111111111111111'] })],
      30,
    );
    expect(played.flatMap((p) => p.rows)).to.deep.equal([]);
  });
});

describe('Tensor marketplace decoder', () => {
  it('maps listings, sales with fees and royalties from the self-CPI events, and delistings', () => {
    const played = play(only('tensor', true), [createTensorMarketplaceDecoder()], 60);
    const listing = rowsOf(played, 'listings').find((r) => r.row.state === 'active');
    expect(BigInt(String(listing?.row.price)) > 2n ** 64n - 10n ** 6n - 2n).to.equal(true);
    const sale = rowsOf(played, 'sales')[0];
    expect(sale).to.not.equal(undefined);
    const price = BigInt(String(sale?.row.price));
    expect(sale?.row.marketplace_fee).to.equal(((price * 200n) / 10_000n).toString());
    expect(['0', ...[250n, 500n, 750n, 1000n].map((b) => ((price * b) / 10_000n).toString())]).to.include(
      sale?.row.royalty_amount,
    );
    const states = rowsOf(played, 'listings').map((r) => r.row.state);
    expect(states).to.include.members(['active', 'sold', 'cancelled']);
  });

  it('writes nothing for sellers and mints outside the watch list', () => {
    const played = play(
      only('tensor'),
      [createTensorMarketplaceDecoder({ watch: ['11111111111111111111111111111111'] })],
      30,
    );
    expect(played.flatMap((p) => p.rows)).to.deep.equal([]);
  });
});

describe('SPL Governance decoder', () => {
  it('maps realm + governance, proposals with their state, votes with exact u64 weight and executions', () => {
    const played = play(only('governance', true), [createSplGovernanceDecoder()], 120);
    const governance = rowsOf(played, 'governances').at(-1);
    expect(governance?.row).to.include({
      voting_period: 3 * 86_400,
      quorum_votes: '60',
      proposal_threshold: '1000000',
      execution_delay: 0,
    });
    const votes = rowsOf(played, 'votes');
    expect(votes.length).to.be.greaterThan(0);
    expect(votes.every((v) => v.row.vote_weight === MAX && typeof v.row.signature === 'string')).to.equal(true);
    const states = new Set(rowsOf(played, 'proposals').map((r) => r.row.state));
    expect(states.has('active')).to.equal(true);
    const proposal = rowsOf(played, 'proposals')[0];
    expect(proposal?.row.proposal_id).to.equal(0);
    expect(String(proposal?.row.title)).to.match(/^Proposal 1: /);
  });

  it('writes nothing for realms outside the watch list', () => {
    const played = play(
      only('governance'),
      [createSplGovernanceDecoder({ watch: ['11111111111111111111111111111111'] })],
      40,
    );
    expect(played.flatMap((p) => p.rows)).to.deep.equal([]);
  });

  it('joins a vote record seen before its CastVote transaction with that transaction signature', () => {
    const script = only('governance');
    const decoder = createSplGovernanceDecoder();
    const ledger = new LocalLedger({ seed: 'gov-join' });
    const votes: DecodedRow[] = [];
    for (let i = 0; i < 80; i++) {
      const tx = script.next();
      const s = ledger.submit(tx);
      const fromAccounts = tx.accountWrites.flatMap((w) => decoder.decodeAccount(w.pubkey, w.data, s.slot));
      votes.push(...fromAccounts.filter((r) => r.topic === 'votes'));
      const fromTx = decoder.decodeTransaction(toTransactionInput(tx, s)).filter((r) => r.topic === 'votes');
      for (const v of fromTx) expect((v.row as Record<string, unknown>)['signature']).to.equal(s.signature);
      votes.push(...fromTx);
    }
    expect(votes.length).to.be.greaterThan(0);
  });
});

import { expect } from 'chai';
import { LocalLedger } from '../../src/simulate/ledger.ts';
import { runActivity, type ActivityOptions } from '../../src/simulate/activity/player.ts';
import { decodeSimTransaction } from '../../src/simulate/activity/transaction-input.ts';
import { createEscrowDecoder } from '../../src/programs/escrow.ts';
import { createRaydiumCpSwapDecoder } from '../../src/programs/raydium-cp-swap.ts';
import { createTensorMarketplaceDecoder } from '../../src/programs/tensor-marketplace.ts';
import { createSplGovernanceDecoder } from '../../src/programs/spl-governance.ts';
import type { DecodedRow } from '../../src/programs/types.ts';

function ledger(): LocalLedger {
  return new LocalLedger({ seed: 'activity-test', firstSlot: 100, now: () => 1_767_225_600_000 });
}

function decoders() {
  return [
    createEscrowDecoder(),
    createRaydiumCpSwapDecoder(),
    createTensorMarketplaceDecoder(),
    createSplGovernanceDecoder(),
  ];
}

function serialise(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? v.toString() : v,
  );
}

describe('activity player', () => {
  it('plays the same transactions for the same seed, and different ones for another seed', () => {
    const options: ActivityOptions = { seed: 42 };
    const a = runActivity(ledger(), options, 60).map((p) => serialise(p.tx));
    const b = runActivity(ledger(), options, 60).map((p) => serialise(p.tx));
    const c = runActivity(ledger(), { seed: 43 }, 60).map((p) => serialise(p.tx));
    expect(a).to.deep.equal(b);
    expect(c).to.not.deep.equal(a);
  });

  it('produces only transactions that decode into rows of every table the programs map', () => {
    const decs = decoders();
    const played = runActivity(ledger(), { seed: 7 }, 600);
    const topics = new Map<string, number>();
    for (const { tx, submitted } of played) {
      const rows: DecodedRow[] = decodeSimTransaction(decs, tx, submitted);
      expect(rows.length, `rows for ${submitted.signature}: ${tx.logMessages.join('\n')}`).to.be.greaterThan(0);
      for (const r of rows) topics.set(r.topic, (topics.get(r.topic) ?? 0) + 1);
    }
    for (const t of [
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
    ]) {
      expect(topics.get(t) ?? 0, t).to.be.greaterThan(0);
    }
    for (const d of decs) expect(d.stats.unknownDiscriminators).to.equal(0);
  });
});

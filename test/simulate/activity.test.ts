import { expect } from 'chai';
import { LocalLedger } from '../../src/simulate/ledger.ts';
import { runActivity, type ActivityOptions } from '../../src/simulate/activity/player.ts';

function ledger(): LocalLedger {
  return new LocalLedger({ seed: 'activity-test', firstSlot: 100, now: () => 1_767_225_600_000 });
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
});

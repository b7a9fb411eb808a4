// Slot fates from uneven slot statuses: confirmations that name only the tip, forks that simply
// stop (no "dead" status), parents missed, and a finalized chain asked only where statuses fall short.
import { expect } from 'chai';
import { SlotFates, type SlotFate } from '../../src/ingest/slot-fates.ts';

function harness(rooted: readonly number[] = []) {
  const fates: [number, SlotFate][] = [];
  const finalized: number[] = [];
  const asked: [number, number][] = [];
  const tracker = new SlotFates({
    onFate: (slot, fate) => fates.push([slot, fate]),
    onFinalized: (slot) => finalized.push(slot),
    finalizedBlocks: async (from, to) => {
      asked.push([from, to]);
      return rooted.filter((s) => s >= from && s <= to);
    },
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { tracker, fates, finalized, asked, settle };
}

describe('slot fates', () => {
  it('confirms a tracked slot when a descendant is confirmed, and finalizes it with its ancestry', async () => {
    const { tracker, fates, asked } = harness();
    tracker.parent(11, 10);
    tracker.parent(12, 11);
    tracker.track(11);
    tracker.confirmed(12);
    expect(fates).to.deep.equal([[11, 'confirmed']]);
    tracker.finalizedAt(12);
    expect(fates).to.deep.equal([
      [11, 'confirmed'],
      [11, 'finalized'],
    ]);
    expect(asked, 'the chain is not asked when the parents tell').to.deep.equal([]);
  });

  it('declares dead a fork slot as soon as a slot off its fork is confirmed, with no dead status ever sent', () => {
    const { tracker, fates } = harness();
    // 10 ← 11 ← 13 is the chain; 12 (parent 11) was a fork.
    tracker.parent(11, 10);
    tracker.parent(12, 11);
    tracker.parent(13, 11);
    tracker.track(12);
    tracker.track(13);
    tracker.confirmed(13);
    expect(fates).to.deep.equal([
      [12, 'dead'],
      [13, 'confirmed'],
    ]);
    tracker.finalizedAt(13);
    expect(fates.at(-1)).to.deep.equal([13, 'finalized']);
  });

  it('declares dead at finalization a fork slot whose confirmation was never seen', () => {
    const { tracker, fates } = harness();
    tracker.parent(31, 30);
    tracker.parent(32, 31);
    tracker.parent(33, 31);
    tracker.track(32);
    tracker.finalizedAt(33);
    expect(fates).to.deep.equal([[32, 'dead']]);
  });

  it('kills the descendants of a slot reported dead', () => {
    const { tracker, fates } = harness();
    tracker.parent(21, 20);
    tracker.parent(22, 21);
    tracker.track(21);
    tracker.track(22);
    tracker.dead(21);
    expect(fates.map(([slot, fate]) => `${slot}:${fate}`).sort()).to.deep.equal(['21:dead', '22:dead']);
    tracker.finalizedAt(30);
    expect(fates).to.have.length(2);
  });

  it('asks the finalized chain when the parents were not all seen', async () => {
    const { tracker, fates, asked, settle } = harness([40, 42]);
    tracker.track(40);
    tracker.track(41);
    tracker.finalizedAt(42);
    await settle();
    expect(asked).to.deep.equal([[40, 42]]);
    expect(fates).to.deep.equal([
      [40, 'finalized'],
      [41, 'dead'],
    ]);
  });

  it('settles a slot tracked only after its fate was decided', async () => {
    const { tracker, fates, settle } = harness([50]);
    tracker.finalizedAt(55);
    tracker.track(50);
    tracker.track(51);
    await settle();
    expect(fates.map(([slot, fate]) => `${slot}:${fate}`).sort()).to.deep.equal(['50:finalized', '51:dead']);
  });

  it('settles at once a slot tracked after it was reported dead or confirmed (changes mapped late)', () => {
    const { tracker, fates } = harness();
    tracker.parent(71, 70);
    tracker.parent(72, 71);
    tracker.dead(71);
    tracker.track(72);
    tracker.confirmed(70);
    tracker.track(70);
    expect(fates).to.deep.equal([
      [72, 'dead'],
      [70, 'confirmed'],
    ]);
  });

  it('reports each rise of the finalized slot once, and never goes back', () => {
    const { tracker, finalized } = harness();
    tracker.finalizedAt(5);
    tracker.finalizedAt(4);
    tracker.finalizedAt(5);
    tracker.finalizedAt(7);
    expect(finalized).to.deep.equal([5, 7]);
    expect(tracker.finalized).to.equal(7);
  });

  it('leaves a slot open when the finalized chain cannot be asked, and asks again later', async () => {
    let fail = true;
    const fates: [number, SlotFate][] = [];
    const errors: string[] = [];
    const tracker = new SlotFates({
      onFate: (slot, fate) => fates.push([slot, fate]),
      finalizedBlocks: async () => {
        if (fail) throw new Error('rpc down');
        return [60];
      },
      onError: (error) => errors.push(error.message),
    });
    tracker.track(60);
    tracker.finalizedAt(61);
    await new Promise((resolve) => setImmediate(resolve));
    expect(fates).to.deep.equal([]);
    expect(errors).to.deep.equal(['rpc down']);
    fail = false;
    tracker.finalizedAt(62);
    await new Promise((resolve) => setImmediate(resolve));
    expect(fates).to.deep.equal([[60, 'finalized']]);
  });
});

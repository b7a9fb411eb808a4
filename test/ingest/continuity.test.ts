import { expect } from 'chai';
import { Continuity } from '../../src/ingest/continuity.ts';
import { silentLogger } from '../../src/log.ts';

function continuityOf(catchUp: () => Promise<boolean>) {
  let subscribed = true;
  const failures: Error[] = [];
  const continuity = new Continuity({
    source: { name: 'test', subscribed: () => subscribed },
    catchUp,
    metrics: { catchUp: () => undefined, phase: () => undefined, sourceDropped: () => undefined },
    logger: silentLogger,
    closed: () => false,
    stopped: () => false,
    fail: (error) => failures.push(error),
  });
  const finished = async () => {
    while (continuity.catchUpRunning !== null) await continuity.catchUpRunning;
  };
  return { continuity, failures, finished, setSubscribed: (value: boolean) => (subscribed = value) };
}

describe('ingest continuity', () => {
  it('holds once the first catch-up has read everything', async () => {
    const { continuity, finished } = continuityOf(async () => true);
    expect(continuity.contiguous).to.equal(false);
    continuity.supervise();
    await finished();
    expect(continuity.contiguous).to.equal(true);
    expect(continuity.catchUpNeeded).to.equal(false);
  });

  it('waits for every subscription before catching up', async () => {
    let runs = 0;
    const { continuity, finished, setSubscribed } = continuityOf(async () => {
      runs++;
      return true;
    });
    setSubscribed(false);
    continuity.supervise();
    await finished();
    expect(runs).to.equal(0);
    setSubscribed(true);
    continuity.supervise();
    await finished();
    expect(runs).to.equal(1);
  });

  it('is not restored by a catch-up that a new gap overtook, and catches up again', async () => {
    let release!: () => void;
    let runs = 0;
    const { continuity, finished } = continuityOf(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
      return true;
    });
    continuity.supervise();
    continuity.gap('websocket closed');
    release();
    await finished();
    expect(continuity.contiguous, 'the gap opened while reading').to.equal(false);
    expect(continuity.catchUpNeeded).to.equal(true);
    continuity.supervise();
    await finished();
    expect(runs).to.equal(2);
    expect(continuity.contiguous).to.equal(true);
  });

  it('retries a failed catch-up, and stops for good when the lease is gone', async () => {
    const leaseLost = Object.assign(new Error('lease taken over'), { name: 'LeaseLostError' });
    const outcomes: (Error | boolean)[] = [new Error('rpc timeout'), leaseLost];
    const { continuity, failures, finished } = continuityOf(async () => {
      const next = outcomes.shift()!;
      if (next instanceof Error) throw next;
      return next;
    });
    continuity.supervise();
    await finished();
    expect(continuity.catchUpNeeded, 'retried after a transient failure').to.equal(true);
    expect(failures).to.deep.equal([]);
    continuity.supervise();
    await finished();
    expect(failures).to.deep.equal([leaseLost]);
    expect(continuity.contiguous).to.equal(false);
  });

  it('needs no catch-up when the source replays from the checkpoints', () => {
    const { continuity } = continuityOf(async () => true);
    continuity.resumeFromCheckpoints();
    continuity.resumed();
    expect(continuity.contiguous).to.equal(true);
  });
});

import { expect } from 'chai';
import { LiveQueue, type LiveItem } from '../../src/ingest/live-queue.ts';
import type { IngestItem } from '../../src/ingest/pipeline.ts';
import type { TransactionInput } from '../../src/programs/types.ts';

const account = (slot: number): LiveItem => ({
  kind: 'account',
  programId: 'P',
  pubkey: `acct${slot}`,
  data: new Uint8Array([slot]),
  slot,
  at: Date.now(),
});

const transaction = (fetched: Promise<TransactionInput | null>, checkpointable = true): LiveItem => ({
  kind: 'transaction',
  programId: 'P',
  checkpointable,
  transaction: fetched,
  at: Date.now(),
});

const tx = (slot: number) => ({ slot, signature: `sig${slot}` }) as unknown as TransactionInput;

function queueOf(options: { batchSize?: number; write?: (items: readonly IngestItem[]) => Promise<unknown> } = {}) {
  const batches: IngestItem[][] = [];
  const errors: Error[] = [];
  let stopped = false;
  const queue = new LiveQueue({
    batchSize: options.batchSize ?? 100,
    flushMs: 0,
    metrics: { queued: () => undefined },
    write:
      options.write ??
      (async (items) => {
        batches.push([...items]);
      }),
    onError: (error) => {
      errors.push(error);
      stopped = true;
    },
    stopped: () => stopped,
  });
  const settled = async () => {
    while (queue.drained !== null) await queue.drained;
  };
  return { queue, batches, errors, settled, stop: () => (stopped = true) };
}

const slotsOf = (batch: readonly IngestItem[]) =>
  batch.map((item) =>
    item.kind === 'account' ? item.account.slot : item.kind === 'transaction' ? item.tx.slot : item.checkpoint.slot,
  );

describe('live queue', () => {
  it('writes updates in arrival order even when an earlier transaction is fetched last', async () => {
    const { queue, batches, settled } = queueOf();
    let release!: (value: TransactionInput) => void;
    const slow = new Promise<TransactionInput>((resolve) => (release = resolve));
    queue.push(transaction(slow));
    queue.push(account(2));
    queue.push(transaction(Promise.resolve(tx(3))));
    setTimeout(() => release(tx(1)), 20);
    await settled();
    expect(batches.flatMap(slotsOf)).to.deep.equal([1, 2, 3]);
  });

  it('writes what arrives while a batch commits in batches of at most the batch size', async () => {
    const batches: number[][] = [];
    let commit!: () => void;
    const { queue, settled } = queueOf({
      batchSize: 2,
      write: async (items) => {
        batches.push(slotsOf(items));
        // The first batch commits only once the rest has arrived.
        if (batches.length === 1) await new Promise<void>((resolve) => (commit = resolve));
      },
    });
    for (let slot = 1; slot <= 6; slot++) queue.push(account(slot));
    expect(queue.length, 'waiting behind the first batch').to.equal(5);
    commit();
    await settled();
    expect(batches).to.deep.equal([[1], [2, 3], [4, 5], [6]]);
  });

  it('moves checkpoints only for transactions that arrived while continuity held, and drops unavailable ones', async () => {
    const { queue, batches, settled } = queueOf();
    queue.push(transaction(Promise.resolve(tx(1)), true));
    queue.push(transaction(Promise.resolve(tx(2)), false));
    queue.push(transaction(Promise.resolve(null)));
    await settled();
    const written = batches.flat();
    expect(written).to.have.length(2);
    expect(written.map((item) => (item.kind === 'transaction' ? item.checkpoint?.slot : null))).to.deep.equal([
      1,
      undefined,
    ]);
  });

  it('stops at a failed write and takes nothing more', async () => {
    const failure = new Error('lease lost');
    const { queue, errors, settled } = queueOf({
      batchSize: 1,
      write: () => Promise.reject(failure),
    });
    queue.push(account(1));
    queue.push(account(2));
    await settled();
    expect(errors).to.deep.equal([failure]);
    expect(queue.length).to.equal(1);
    queue.push(account(3));
    expect(queue.length, 'refused after the failure').to.equal(1);
  });

  it('reports the wait of the oldest update not yet written', () => {
    const { queue, stop } = queueOf();
    stop();
    expect(queue.lagSeconds()).to.equal(0);
  });
});

import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { CommitmentLevel, SlotStatus, txErrDecode, type ClientDuplexStream } from '@triton-one/yellowstone-grpc';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../src/simulate/cluster.ts';
import type { SimTransaction } from '../../src/simulate/types.ts';
import {
  UpdateLog,
  YellowstoneClient as Client,
  base58,
  kindOf,
  rawGeyserClient,
  slotStatus,
  subscribeRequest,
  type RawGeyserClient,
  type RequestParts,
} from './geyser-client.ts';
import { OFFER_SIZE, encodeOffer, labelledOffer as offer, offerTransaction, testKey } from './sample-program.ts';

const programId = testKey('geyser-program');
const otherProgram = testKey('geyser-other-program');

const write = (stream: ClientDuplexStream, request: RequestParts) =>
  new Promise<void>((resolve, reject) =>
    stream.write(subscribeRequest(request), (error?: Error | null) => (error ? reject(error) : resolve())),
  );

describe('local cluster Yellowstone endpoint through the official client', function () {
  this.timeout(30_000);
  let cluster: LocalCluster;
  const clients: InstanceType<typeof Client>[] = [];
  const streams: ClientDuplexStream[] = [];

  const start = async (options: Partial<LocalClusterOptions> = {}) => {
    cluster = await startLocalCluster({
      port: 0,
      seed: 5,
      rate: 0,
      confirmation: { slots: 2 },
      finalization: { slots: 4 },
      ...options,
    });
  };

  const open = async (request: RequestParts): Promise<UpdateLog> => {
    const client = new Client(cluster.geyserUrl as string, undefined, undefined);
    await client.connect();
    clients.push(client);
    const stream = await client.subscribe();
    streams.push(stream);
    const log = new UpdateLog(stream);
    await write(stream, request);
    // Settled once the endpoint has applied the filters: a ping asked now is answered after them.
    await write(stream, { ping: { id: 7 } });
    await log.until((u) => u.pong?.id === 7);
    return log;
  };

  const submit = (tx: SimTransaction, onFork = false) => cluster.ledger.submit(tx, { onFork });
  const filler = (n: number) => {
    for (let i = 0; i < n; i++) submit(offerTransaction(otherProgram, offer(`filler-${Math.random()}`)));
  };

  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.destroy();
    clients.splice(0);
    await cluster.close();
  });

  it('streams accounts and transactions at processed as they land, and at confirmed once the slot confirms', async () => {
    await start();
    const filters = {
      accounts: { offers: { owner: [programId] } },
      transactions: { program: { accountInclude: [programId] } },
      slots: { slots: { filterByCommitment: false } },
    };
    const processed = await open({ ...filters, commitment: CommitmentLevel.PROCESSED });
    const confirmed = await open({ ...filters, commitment: CommitmentLevel.CONFIRMED });

    const made = offer('streamed');
    const tx = offerTransaction(programId, made);
    const { signature, slot } = submit(tx);
    await processed.until(slotStatus(slot, SlotStatus.SLOT_PROCESSED));
    const [account] = processed.of('account');
    expect(account?.filters).to.deep.equal(['offers']);
    expect(account?.account?.slot).to.equal(String(slot));
    const info = account!.account!.account!;
    expect(base58(info.pubkey)).to.equal(made.pubkey);
    expect(base58(info.owner)).to.equal(programId);
    expect(info.lamports).to.equal('2039280');
    expect(Buffer.from(info.data).equals(Buffer.from(encodeOffer(made)))).to.equal(true);
    expect(base58(info.txnSignature)).to.equal(signature);
    expect(Number(info.writeVersion)).to.be.greaterThan(0);
    const [transaction] = processed.of('transaction');
    expect(transaction?.filters).to.deep.equal(['program']);
    const txInfo = transaction!.transaction!.transaction!;
    expect(base58(txInfo.signature)).to.equal(signature);
    expect(txInfo.index).to.equal('0');
    expect(txInfo.meta?.logMessages).to.deep.equal(tx.logMessages);
    expect(txInfo.meta?.err).to.equal(undefined);
    expect(txInfo.transaction?.message?.accountKeys.map(base58)).to.deep.equal([made.maker, made.pubkey, programId]);
    expect(txInfo.transaction?.message?.instructions[0]?.programIdIndex).to.equal(2);
    // The confirmed stream is told the slot was processed, with none of its data yet.
    const processedAt = await confirmed.until(slotStatus(slot, SlotStatus.SLOT_PROCESSED));
    expect(confirmed.updates.slice(0, processedAt).map(kindOf)).to.not.include.members(['account', 'transaction']);

    filler(2);
    const confirmedAt = await confirmed.until(slotStatus(slot, SlotStatus.SLOT_CONFIRMED));
    const before = confirmed.updates.slice(processedAt, confirmedAt);
    expect(before.map(kindOf)).to.include.members(['account', 'transaction']);
    expect(base58(before.find((u) => u.account)?.account?.account?.pubkey)).to.equal(made.pubkey);
    expect(confirmed.of('account')).to.have.length(1);
  });

  it('filters accounts by account, memcmp, datasize and data slice, and transactions by exclude, required and failed', async () => {
    await start();
    const a = offer('filter-a', 5n);
    const b = offer('filter-b', 6n);
    const amountB = Buffer.alloc(8);
    amountB.writeBigUInt64LE(6n);
    const log = await open({
      accounts: {
        byKey: { account: [a.pubkey] },
        byAmount: {
          owner: [programId],
          filters: [{ memcmp: { offset: '112', bytes: amountB } }, { datasize: String(OFFER_SIZE) }],
        },
        wrongSize: { owner: [programId], filters: [{ datasize: '1' }] },
      },
      accountsDataSlice: [{ offset: '104', length: '16' }],
      transactions: {
        notOther: { accountInclude: [programId], accountExclude: [b.maker] },
        needsBoth: { accountRequired: [programId, b.maker] },
        failedOnly: { failed: true, accountInclude: [programId] },
      },
      slots: { slots: { filterByCommitment: false } },
    });
    const first = submit(offerTransaction(programId, a));
    const second = submit(offerTransaction(programId, b));
    const failing: SimTransaction = {
      ...offerTransaction(programId, offer('fails')),
      err: { InstructionError: [0, { Custom: 6001 }] },
    };
    const third = submit(failing);
    await log.until(slotStatus(third.slot, SlotStatus.SLOT_PROCESSED));

    const accounts = log.of('account').map((u) => [base58(u.account?.account?.pubkey), u.filters]);
    expect(accounts).to.deep.equal([
      [a.pubkey, ['byKey']],
      [b.pubkey, ['byAmount']],
    ]);
    const sliced = log.of('account')[0]!.account!.account!.data;
    expect(Buffer.from(sliced).equals(Buffer.from(encodeOffer(a)).subarray(104, 120))).to.equal(true);
    const transactions = log.of('transaction').map((u) => [u.transaction?.slot, [...u.filters].sort()]);
    expect(transactions).to.deep.equal([
      [String(first.slot), ['notOther']],
      [String(second.slot), ['needsBoth']],
      [String(third.slot), ['failedOnly', 'notOther']],
    ]);
    const err = log.of('transaction')[2]!.transaction!.transaction!.meta!.err!.err;
    expect(txErrDecode.decode(err)).to.deep.equal({ InstructionError: [0, { Custom: 6001 }] });
  });

  it('announces a dead fork slot to interslot subscribers, after streaming its data at processed only', async () => {
    await start();
    const filters = {
      accounts: { offers: { owner: [programId] } },
      slots: { all: { interslotUpdates: true }, main: { filterByCommitment: false } },
    };
    const processed = await open({ ...filters, commitment: CommitmentLevel.PROCESSED });
    const finalized = await open({ ...filters, commitment: CommitmentLevel.FINALIZED });
    submit(offerTransaction(programId, offer('before-fork')));
    const lost = offer('on-fork');
    const forked = submit(offerTransaction(programId, lost), true);
    const next = submit(offerTransaction(programId, offer('after-fork')));
    filler(4);
    await processed.until(slotStatus(next.slot, SlotStatus.SLOT_FINALIZED));
    await finalized.until(slotStatus(next.slot, SlotStatus.SLOT_FINALIZED));

    expect(processed.of('account').map((u) => base58(u.account?.account?.pubkey))).to.include(lost.pubkey);
    expect(finalized.of('account').map((u) => base58(u.account?.account?.pubkey))).to.not.include(lost.pubkey);
    const statuses = (log: UpdateLog) =>
      log
        .of('slot')
        .filter((u) => u.slot?.slot === String(forked.slot))
        .map((u) => [u.slot?.status, [...u.filters].sort()]);
    for (const log of [processed, finalized]) {
      expect(statuses(log)).to.deep.equal([
        [SlotStatus.SLOT_FIRST_SHRED_RECEIVED, ['all']],
        [SlotStatus.SLOT_CREATED_BANK, ['all']],
        [SlotStatus.SLOT_COMPLETED, ['all']],
        [SlotStatus.SLOT_PROCESSED, ['all', 'main']],
        [SlotStatus.SLOT_DEAD, ['all']],
      ]);
    }
    const dead = processed.of('slot').find((u) => u.slot?.status === SlotStatus.SLOT_DEAD);
    expect(dead?.slot).to.deep.include({ parent: String(forked.slot - 1) });
    expect(dead?.slot?.deadError).to.be.a('string').with.length.greaterThan(0);
    const afterFork = processed
      .of('slot')
      .find((u) => u.slot?.slot === String(next.slot) && u.slot.parent !== undefined);
    expect(afterFork?.slot?.parent).to.equal(String(forked.slot - 1));
  });

  it('replays kept slots from from_slot, and refuses a slot older than the window with OUT_OF_RANGE', async () => {
    await start({ geyser: { replaySlots: 4 } });
    const slots = Array.from({ length: 6 }, (_, i) => submit(offerTransaction(programId, offer(`replay-${i}`))).slot);
    filler(2);
    // Eight slots landed and four are kept: the last two offer slots, then the fillers.
    const from = slots[4] as number;
    expect(cluster.geyser?.firstReplayableSlot()).to.equal(from);
    const replayed = await open({
      accounts: { offers: { owner: [programId] } },
      commitment: CommitmentLevel.CONFIRMED,
      fromSlot: String(from),
    });
    // Only the kept slots that reached confirmed (two behind the tip) are replayed.
    const replayedSlots = replayed.of('account').map((u) => Number(u.account?.slot));
    expect(replayedSlots).to.deep.equal([from, from + 1]);

    const client = new Client(cluster.geyserUrl as string, undefined, undefined);
    await client.connect();
    expect(await client.subscribeReplayInfo()).to.deep.equal({
      firstAvailable: String(cluster.geyser?.firstReplayableSlot()),
    });
    const stream = await client.subscribe();
    streams.push(stream);
    const log = new UpdateLog(stream);
    await write(stream, { slots: { s: { filterByCommitment: false } }, fromSlot: String(slots[0]) });
    expect(await log.endReason()).to.include(
      `broadcast from ${slots[0]} is not available, last available: ${cluster.geyser?.firstReplayableSlot()}`,
    );
  });

  it('answers from_slot with "from_slot is not supported" when replay is off', async () => {
    await start({ geyser: { replaySlots: null } });
    const { slot } = submit(offerTransaction(programId, offer('no-replay')));
    const client = new Client(cluster.geyserUrl as string, undefined, undefined);
    await client.connect();
    expect((await client.subscribeReplayInfo()).firstAvailable).to.equal(undefined);
    const stream = await client.subscribe();
    streams.push(stream);
    const log = new UpdateLog(stream);
    await write(stream, { slots: { s: { filterByCommitment: false } }, fromSlot: String(slot) });
    expect(await log.endReason()).to.include('from_slot is not supported');
  });

  it('ends open streams when told to, and serves the next subscription as before', async () => {
    await start();
    const log = await open({ slots: { s: { filterByCommitment: false } } });
    expect(cluster.breakGeyserStreams()).to.equal(1);
    expect(await log.endReason()).to.include('server is shutting down');
    const again = await open({ slots: { s: { filterByCommitment: false } } });
    const { slot } = submit(offerTransaction(programId, offer('after-break')));
    await again.until(slotStatus(slot, SlotStatus.SLOT_PROCESSED));
  });

  it('answers unary calls at the asked commitment', async () => {
    await start();
    const client = new Client(cluster.geyserUrl as string, undefined, undefined);
    await client.connect();
    const first = submit(offerTransaction(programId, offer('unary')));
    filler(2);
    const tip = cluster.ledger.tip('processed');
    expect(await client.ping(3)).to.deep.equal({ count: 3 });
    expect(await client.getSlot()).to.deep.equal({ slot: String(tip.slot) });
    expect(await client.getSlot(CommitmentLevel.CONFIRMED)).to.deep.equal({ slot: String(first.slot) });
    expect(await client.getBlockHeight(CommitmentLevel.PROCESSED)).to.deep.equal({
      blockHeight: String(tip.blockHeight),
    });
    expect(await client.getLatestBlockhash(CommitmentLevel.CONFIRMED)).to.deep.equal({
      slot: String(first.slot),
      blockhash: cluster.ledger.blockhash(first.slot),
      lastValidBlockHeight: String(cluster.ledger.slotInfo(first.slot)!.blockHeight + 300),
    });
    expect(await client.isBlockhashValid(tip.blockhash, CommitmentLevel.PROCESSED)).to.deep.equal({
      slot: String(tip.slot),
      valid: true,
    });
    expect((await client.isBlockhashValid(tip.blockhash, CommitmentLevel.CONFIRMED)).valid).to.equal(false);
    const version = JSON.parse((await client.getVersion()).version) as { version: { solana: string } };
    expect(version.version.solana).to.be.a('string');
  });
});

describe('local cluster Yellowstone endpoint through @grpc/grpc-js', function () {
  this.timeout(30_000);
  let cluster: LocalCluster;
  let client: RawGeyserClient;

  afterEach(async () => {
    client.close();
    await cluster.close();
  });

  it('pings an idle stream, answers a ping request with its pong and keeps the filters', async () => {
    cluster = await startLocalCluster({ port: 0, seed: 1, rate: 0, geyser: { pingIntervalMs: 20 } });
    client = rawGeyserClient(cluster.geyserUrl as string);
    const stream = client.subscribe();
    const log = new UpdateLog(stream);
    stream.write(subscribeRequest({ slots: { s: {} } }));
    await log.until((u) => u.ping !== undefined);
    stream.write(subscribeRequest({ ping: { id: 42 } }));
    const pongAt = await log.until((u) => u.pong !== undefined);
    expect(log.updates[pongAt]).to.deep.include({ filters: [], pong: { id: 42 } });
    const { slot } = cluster.ledger.submit(offerTransaction(programId, offer('kept-filters')));
    await log.until(slotStatus(slot, SlotStatus.SLOT_PROCESSED), pongAt);
    stream.cancel();
  });

  it('sends block meta, entries and blocks with the parts each block filter asks for', async () => {
    cluster = await startLocalCluster({ port: 0, seed: 1, rate: 0 });
    client = rawGeyserClient(cluster.geyserUrl as string);
    const made = offer('block');
    const stream = client.subscribe();
    const log = new UpdateLog(stream);
    stream.write(
      subscribeRequest({
        blocksMeta: { meta: {} },
        entry: { entries: {} },
        blocks: {
          full: { includeAccounts: true, includeEntries: true },
          // account_include picks the block's accounts by their own key.
          ofOffer: { accountInclude: [made.pubkey], includeTransactions: false, includeAccounts: true },
        },
        slots: { s: {} },
      }),
    );
    stream.write(subscribeRequest({ ping: { id: 1 } }));
    await log.until((u) => u.pong !== undefined);
    const mine = cluster.ledger.submit(offerTransaction(programId, made));
    const other = cluster.ledger.submit(offerTransaction(otherProgram, offer('other-block')));
    await log.until(slotStatus(other.slot, SlotStatus.SLOT_PROCESSED));

    const metas = log.of('blockMeta').map((u) => u.blockMeta!);
    expect(metas.map((m) => m.slot)).to.deep.equal([String(mine.slot), String(other.slot)]);
    expect(metas[0]).to.deep.include({
      blockhash: cluster.ledger.blockhash(mine.slot),
      parentSlot: String(mine.slot - 1),
      parentBlockhash: cluster.ledger.blockhash(mine.slot - 1),
      executedTransactionCount: '1',
      entriesCount: '1',
    });
    expect(log.of('entry').map((u) => u.entry?.slot)).to.deep.equal([String(mine.slot), String(other.slot)]);
    const blocks = log.of('block').filter((u) => u.block?.slot === String(mine.slot));
    const full = blocks.find((u) => u.filters[0] === 'full')!.block!;
    expect(full.transactions.map((t) => base58(t.signature))).to.deep.equal([mine.signature]);
    expect(full.accounts.map((a) => base58(a.pubkey))).to.deep.equal([made.pubkey]);
    expect(full.entries).to.have.length(1);
    const ofOffer = blocks.find((u) => u.filters[0] === 'ofOffer')!.block!;
    expect(ofOffer.transactions).to.deep.equal([]);
    expect(ofOffer.accounts.map((a) => base58(a.pubkey))).to.deep.equal([made.pubkey]);
    const otherBlock = log.of('block').find((u) => u.block?.slot === String(other.slot) && u.filters[0] === 'ofOffer');
    expect(otherBlock?.block?.accounts).to.deep.equal([]);
    stream.cancel();
  });

  it('refuses a bad filter with INVALID_ARGUMENT in the words of the real server', async () => {
    cluster = await startLocalCluster({ port: 0, seed: 1, rate: 0 });
    client = rawGeyserClient(cluster.geyserUrl as string);
    const cases: [RequestParts, string][] = [
      [{ accounts: { a: { owner: ['not-a-key'] } } }, 'failed to create filter: Invalid Base58 string'],
      [
        {
          accountsDataSlice: [
            { offset: '0', length: '8' },
            { offset: '4', length: '8' },
          ],
        },
        'failed to create filter: failed to create filter: data slices overlapped',
      ],
      [{ commitment: 7 as CommitmentLevel }, 'failed to create filter: failed to create CommitmentLevel from 7'],
      [
        { accounts: { a: { owner: [programId], filters: [{ datasize: '1' }, { datasize: '2' }] } } },
        'failed to create filter: datasize used more than once',
      ],
    ];
    for (const [request, details] of cases) {
      const stream = client.subscribe();
      const log = new UpdateLog(stream);
      stream.write(subscribeRequest(request));
      const error = await log.ended();
      expect(error, details).to.deep.include({ code: grpc.status.INVALID_ARGUMENT, details });
    }
  });

  it('requires the x-token it was given', async () => {
    cluster = await startLocalCluster({ port: 0, seed: 1, rate: 0, geyser: { xToken: 'secret-token' } });
    client = rawGeyserClient(cluster.geyserUrl as string);
    const refused = await client.ping({ count: 1 }).catch((error: grpc.ServiceError) => error);
    expect(refused).to.deep.include({ code: grpc.status.UNAUTHENTICATED, details: 'No valid auth token' });
    const metadata = new grpc.Metadata();
    metadata.set('x-token', 'secret-token');
    expect(await client.ping({ count: 2 }, metadata)).to.deep.equal({ count: 2 });
  });
});

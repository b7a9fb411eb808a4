import { expect } from 'chai';
import {
  Connection,
  PublicKey,
  type AccountInfo,
  type KeyedAccountInfo,
  type Logs,
  type SlotUpdate,
} from '@solana/web3.js';
import { LocalLedger } from '../../src/simulate/ledger.ts';
import { startRpcServer, type RpcServer } from '../../src/simulate/rpc-server.ts';
import { rpc } from './json-rpc.ts';
import { OFFER_SIZE, labelledOffer as offer, offerTransaction, testKey } from './sample-program.ts';
import { waitFor, waitUntil } from './wait.ts';
import { stopReconnecting } from './web3-socket.ts';

describe('local cluster commitment levels over the real web3.js Connection', () => {
  const programId = testKey('commitment-program');
  const program = new PublicKey(programId);
  let ledger: LocalLedger;
  let server: RpcServer;
  let connection: Connection;

  beforeEach(async () => {
    // Confirmed two slots later, finalized four slots later: stepping the ledger moves commitment.
    ledger = new LocalLedger({ seed: 'commitment', firstSlot: 200, confirmationDepth: 2, finalizationDepth: 4 });
    server = await startRpcServer({ ledger, port: 0 });
    connection = new Connection(server.rpcUrl, { wsEndpoint: server.wsUrl });
  });

  afterEach(async () => {
    stopReconnecting(connection);
    await server.close();
  });

  const filler = (n: number) => {
    for (let i = 0; i < n; i++) ledger.submit(offerTransaction(testKey('other-program'), offer(`filler-${i}`)));
  };

  it('shows a processed transaction at confirmed only once its slot is confirmed, and at finalized later', async () => {
    const made = offer('a');
    const { signature, slot } = ledger.submit(offerTransaction(programId, made));
    const key = new PublicKey(made.pubkey);

    expect(await connection.getAccountInfo(key, 'processed')).to.not.equal(null);
    expect(await connection.getAccountInfo(key, 'confirmed')).to.equal(null);
    expect(await connection.getAccountInfo(key, 'finalized')).to.equal(null);
    expect(await connection.getTransaction(signature, { commitment: 'confirmed' })).to.equal(null);
    expect(await connection.getSignaturesForAddress(program, {}, 'confirmed')).to.deep.equal([]);
    const [status] = (await connection.getSignatureStatuses([signature])).value;
    expect(status).to.include({ slot, confirmationStatus: 'processed' });
    expect(await connection.getSlot('processed')).to.equal(slot);
    expect(await connection.getSlot('confirmed')).to.equal(slot - 1);

    filler(2);
    expect(ledger.slotInfo(slot)?.status).to.equal('confirmed');
    expect(await connection.getAccountInfo(key, 'confirmed')).to.not.equal(null);
    expect(await connection.getAccountInfo(key, 'finalized')).to.equal(null);
    expect((await connection.getTransaction(signature, { commitment: 'confirmed' }))?.slot).to.equal(slot);
    expect(await connection.getTransaction(signature, { commitment: 'finalized' })).to.equal(null);
    const confirmed = await connection.getSignaturesForAddress(program, {}, 'confirmed');
    expect(confirmed.map((s) => [s.signature, s.confirmationStatus])).to.deep.equal([[signature, 'confirmed']]);
    expect(await connection.getSignaturesForAddress(program, {}, 'finalized')).to.deep.equal([]);
    const owned = await connection.getProgramAccounts(program, { commitment: 'confirmed' });
    expect(owned.map((a) => a.pubkey.toBase58())).to.deep.equal([made.pubkey]);
    expect(await connection.getProgramAccounts(program, { commitment: 'finalized' })).to.deep.equal([]);

    filler(2);
    expect(await connection.getAccountInfo(key, 'finalized')).to.not.equal(null);
    expect((await connection.getTransaction(signature, { commitment: 'finalized' }))?.slot).to.equal(slot);
    const [final] = (await connection.getSignatureStatuses([signature])).value;
    expect(final).to.include({ confirmationStatus: 'finalized', confirmations: null });
    expect(await connection.getSlot('finalized')).to.equal(slot);
    expect(await connection.getBlockTime(slot)).to.equal(ledger.blockTime(slot));
  });

  it('reads every method at finalized when no commitment is given, as a validator does', async () => {
    const made = offer('default');
    ledger.submit(offerTransaction(programId, made));
    const plain = new Connection(server.rpcUrl);
    expect(await plain.getAccountInfo(new PublicKey(made.pubkey))).to.equal(null);
    expect(await plain.getSlot()).to.equal(199);
    filler(4);
    expect(await plain.getAccountInfo(new PublicKey(made.pubkey))).to.not.equal(null);
  });

  it('refuses processed for history methods and answers minContextSlot like a validator', async () => {
    const { signature } = ledger.submit(offerTransaction(programId, offer('history')));
    const history = await rpc(server.rpcUrl, 'getSignaturesForAddress', [programId, { commitment: 'processed' }]);
    expect(history.error).to.deep.include({
      code: -32602,
      message: 'Invalid params: Method does not support commitment below `confirmed`',
    });
    const tx = await rpc(server.rpcUrl, 'getTransaction', [signature, { commitment: 'processed' }]);
    expect((tx.error as { code: number }).code).to.equal(-32602);
    const ahead = await rpc(server.rpcUrl, 'getSlot', [{ commitment: 'confirmed', minContextSlot: 10_000 }]);
    expect(ahead.error).to.deep.include({ code: -32016, message: 'Minimum context slot has not been reached' });
    const blockTime = await rpc(server.rpcUrl, 'getBlockTime', [ledger.slot()]);
    expect((blockTime.error as { code: number }).code).to.equal(-32004);
  });

  it('notifies program, account and logs subscriptions when the slot reaches their commitment', async () => {
    const made = offer('notified');
    const processed: KeyedAccountInfo[] = [];
    const confirmed: { slot: number; info: KeyedAccountInfo }[] = [];
    const finalizedLogs: { slot: number; logs: Logs }[] = [];
    const accounts: AccountInfo<Buffer>[] = [];
    connection.onProgramAccountChange(program, (c) => processed.push(c), {
      commitment: 'processed',
      filters: [{ dataSize: OFFER_SIZE }],
    });
    connection.onProgramAccountChange(program, (info, ctx) => confirmed.push({ slot: ctx.slot, info }), 'confirmed');
    connection.onLogs(program, (logs, ctx) => finalizedLogs.push({ slot: ctx.slot, logs }), 'finalized');
    connection.onAccountChange(new PublicKey(made.pubkey), (info) => accounts.push(info), { commitment: 'confirmed' });
    await waitUntil(() => server.pubsub.subscriptionCount() === 4);

    const { signature, slot } = ledger.submit(offerTransaction(programId, made));
    await waitFor(processed, 1);
    // Notifications share one socket in order: anything sent for confirmed would have come first.
    expect(confirmed).to.deep.equal([]);
    expect(accounts).to.deep.equal([]);

    filler(2);
    await waitFor(confirmed, 1);
    await waitFor(accounts, 1);
    expect(confirmed[0]).to.deep.include({ slot });
    expect(confirmed[0]!.info.accountId.toBase58()).to.equal(made.pubkey);
    expect(finalizedLogs).to.deep.equal([]);

    filler(2);
    await waitFor(finalizedLogs, 1);
    expect(finalizedLogs[0]).to.deep.include({ slot });
    expect(finalizedLogs[0]!.logs.signature).to.equal(signature);
  });

  it('follows slots through slotSubscribe and slotsUpdatesSubscribe, from first shred to root', async () => {
    const slots: { slot: number; parent: number; root: number }[] = [];
    const updates: SlotUpdate[] = [];
    connection.onSlotChange((s) => slots.push(s));
    connection.onSlotUpdate((u) => updates.push(u));
    await waitUntil(() => server.pubsub.subscriptionCount() === 2);

    const { slot } = ledger.submit(offerTransaction(programId, offer('slots')));
    filler(4);
    await waitFor(slots, 5);
    expect(slots[0]).to.deep.equal({ slot, parent: slot - 1, root: slot - 1 });
    expect(slots[4]).to.deep.equal({ slot: slot + 4, parent: slot + 3, root: slot - 1 });
    await waitUntil(() => updates.some((u) => u.type === 'root' && u.slot === slot));
    const ofSlot = updates.filter((u) => u.slot === slot).map((u) => u.type);
    expect(ofSlot).to.deep.equal([
      'firstShredReceived',
      'createdBank',
      'completed',
      'frozen',
      'optimisticConfirmation',
      'root',
    ]);
    const frozen = updates.find((u) => u.slot === slot && u.type === 'frozen');
    expect(frozen).to.deep.include({
      stats: {
        numTransactionEntries: 1,
        numSuccessfulTransactions: 1,
        numFailedTransactions: 0,
        maxTransactionsPerEntry: 1,
      },
    });
  });
});

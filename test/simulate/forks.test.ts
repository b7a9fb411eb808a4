import { expect } from 'chai';
import { Connection, PublicKey, type AccountInfo, type SlotUpdate } from '@solana/web3.js';
import { runActivity } from '../../src/simulate/activity/player.ts';
import { ABANDONED_FORK_ERROR, LocalLedger, type LedgerEvent, type StoredAccount } from '../../src/simulate/ledger.ts';
import { startRpcServer, type RpcServer } from '../../src/simulate/rpc-server.ts';
import { encodeOffer, labelledOffer as offer, offerTransaction, testKey } from './sample-program.ts';
import { waitFor, waitUntil } from './wait.ts';
import { stopReconnecting } from './web3-socket.ts';

describe('minority forks on the local cluster', () => {
  const programId = testKey('fork-program');
  const program = new PublicKey(programId);
  let ledger: LocalLedger;
  let server: RpcServer;
  let connection: Connection;

  beforeEach(async () => {
    ledger = new LocalLedger({ seed: 'forks', firstSlot: 300, confirmationDepth: 1, finalizationDepth: 2 });
    server = await startRpcServer({ ledger, port: 0 });
    connection = new Connection(server.rpcUrl, { wsEndpoint: server.wsUrl });
  });

  afterEach(async () => {
    stopReconnecting(connection);
    await server.close();
  });

  it('keeps a dead slot at processed only, undoes its account writes and announces it dead', async () => {
    const kept = offer('kept', 1n);
    const updates: SlotUpdate[] = [];
    const accountSeen: AccountInfo<Buffer>[] = [];
    connection.onSlotUpdate((u) => updates.push(u));
    connection.onAccountChange(new PublicKey(kept.pubkey), (info) => accountSeen.push(info), 'processed');
    await waitUntil(() => server.pubsub.subscriptionCount() === 2);

    ledger.submit(offerTransaction(programId, kept));
    const lost = offer('lost');
    const forked = ledger.submit(offerTransaction(programId, lost), { onFork: true });
    const changed = ledger.submit(offerTransaction(programId, { ...kept, amountB: 2n }), { onFork: true });
    expect(ledger.forkAlive()).to.equal(true);
    expect(ledger.slotInfo(forked.slot)).to.deep.include({ onFork: true, status: 'processed', parent: 300 });

    expect(await connection.getAccountInfo(new PublicKey(lost.pubkey), 'processed')).to.not.equal(null);
    expect(await connection.getAccountInfo(new PublicKey(lost.pubkey), 'confirmed')).to.equal(null);
    const [status] = (await connection.getSignatureStatuses([forked.signature])).value;
    expect(status).to.include({ confirmationStatus: 'processed' });

    // The surviving chain moves on from slot 300: both fork slots die.
    const next = ledger.submit(offerTransaction(programId, offer('next')));
    expect(ledger.slotInfo(next.slot)).to.deep.include({ parent: 300, status: 'processed' });
    expect(ledger.slotInfo(300)?.status).to.equal('finalized');
    expect(ledger.slotInfo(forked.slot)?.status).to.equal('dead');
    expect(ledger.slotInfo(changed.slot)?.status).to.equal('dead');
    expect(await connection.getAccountInfo(new PublicKey(lost.pubkey), 'processed')).to.equal(null);
    const keptNow = await connection.getAccountInfo(new PublicKey(kept.pubkey), 'processed');
    expect(Buffer.from(keptNow!.data).equals(Buffer.from(encodeOffer(kept)))).to.equal(true);
    expect((await connection.getSignatureStatuses([forked.signature])).value[0]).to.equal(null);

    ledger.submit(offerTransaction(programId, offer('after')));
    ledger.submit(offerTransaction(programId, offer('later')));
    for (const commitment of ['confirmed', 'finalized'] as const) {
      const signatures = (await connection.getSignaturesForAddress(program, {}, commitment)).map((s) => s.signature);
      expect(signatures, commitment).to.not.include(forked.signature);
      expect(signatures, commitment).to.not.include(changed.signature);
      expect(await connection.getTransaction(forked.signature, { commitment })).to.equal(null);
      const owned = (await connection.getProgramAccounts(program, { commitment })).map((a) => a.pubkey.toBase58());
      expect(owned, commitment).to.not.include(lost.pubkey);
    }

    await waitUntil(() => updates.filter((u) => u.type === 'dead').length === 2);
    const dead = updates.filter((u) => u.type === 'dead');
    expect(dead.map((u) => u.slot)).to.deep.equal([forked.slot, changed.slot]);
    expect(dead[0]).to.deep.include({ err: ABANDONED_FORK_ERROR });
    // A processed account subscription saw the fork's write, then the surviving data again.
    await waitFor(accountSeen, 3);
    expect(accountSeen.map((a) => Buffer.from(a.data).readBigUInt64LE(112))).to.deep.equal([1n, 2n, 1n]);
  });

  it('never confirms a fork slot and lets abandonFork kill a fork without a new slot', () => {
    const events: LedgerEvent[] = [];
    ledger.onEvent((e) => events.push(e));
    ledger.submit(offerTransaction(programId, offer('base')));
    const { slot } = ledger.submit(offerTransaction(programId, offer('doomed')), { onFork: true });
    expect(() => ledger.confirm(slot)).to.throw(RangeError);
    const dead = ledger.abandonFork();
    expect(dead.map((s) => s.slot)).to.deep.equal([slot]);
    expect(ledger.forkAlive()).to.equal(false);
    expect(ledger.slot('processed')).to.equal(300);
    expect(
      events.filter((e) => e.type === 'slotConfirmed' || e.type === 'slotFinalized').map((e) => e.slot.slot),
    ).to.not.include(slot);
    expect(events.filter((e) => e.type === 'slotDead').map((e) => e.slot.slot)).to.deep.equal([slot]);
  });

  it('plays the activity on from the surviving state after each fork, the same way for the same seed', () => {
    const play = () => {
      const chain = new LocalLedger({ seed: 'activity-forks' });
      // The state the surviving chain has built, applied slot by slot as a confirmed reader would.
      const surviving = new Map<string, StoredAccount>();
      const problems: string[] = [];
      chain.onEvent((event) => {
        if (event.type !== 'slotConfirmed') return;
        for (const update of event.slot.updates) {
          const closing = update.account.lamports === 0n && update.account.data.length === 0;
          // A transaction that closes an account (a taken offer, a bought listing) needs it to exist here;
          // an actor that remembered a dead fork's offer would close one the surviving chain never had.
          if (closing && !surviving.has(update.account.pubkey))
            problems.push(`${event.slot.slot}:${update.account.pubkey}`);
          if (closing) surviving.delete(update.account.pubkey);
          else surviving.set(update.account.pubkey, update);
        }
      });
      const played = runActivity(chain, { seed: 11, forks: { rate: 0.3, maxSlots: 3 } }, 600);
      return { chain, played, surviving, problems };
    };
    const first = play();
    const forked = first.played.filter((p) => p.onFork);
    expect(forked.length).to.be.greaterThan(50);
    expect(first.problems).to.deep.equal([]);
    for (const p of forked) expect(first.chain.slotInfo(p.submitted.slot)?.status).to.be.oneOf(['dead', 'processed']);
    for (const p of first.played.filter((x) => !x.onFork))
      expect(first.chain.getTransaction(p.submitted.signature, 'confirmed')).to.not.equal(null);
    // What the surviving chain holds is exactly what a reader of the confirmed slots rebuilt.
    const confirmed = new Map(
      [...new Set(first.played.flatMap((p) => p.tx.accountWrites.map((w) => w.owner)))].flatMap((owner) =>
        first.chain.accountsOwnedBy(owner, 'confirmed'),
      ),
    );
    expect([...confirmed.keys()].sort()).to.deep.equal([...first.surviving.keys()].sort());

    const again = play();
    expect(again.played.map((p) => [p.submitted.signature, p.onFork])).to.deep.equal(
      first.played.map((p) => [p.submitted.signature, p.onFork]),
    );
  });
});

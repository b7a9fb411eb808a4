import { expect } from 'chai';
import { Connection, PublicKey, type KeyedAccountInfo, type Logs } from '@solana/web3.js';
import { LocalLedger } from '../../src/simulate/ledger.ts';
import { startRpcServer, type RpcServer } from '../../src/simulate/rpc-server.ts';
import { OFFER_SIZE, encodeOffer, offerTransaction, testKey, type Offer } from './sample-program.ts';

function waitFor<T>(items: T[], count: number): Promise<T[]> {
  return new Promise((resolve) => {
    const check = () => (items.length >= count ? resolve(items) : setTimeout(check, 10));
    check();
  });
}

describe('local cluster over the real web3.js Connection', () => {
  const programId = testKey('rpc-server-program');
  let ledger: LocalLedger;
  let server: RpcServer;
  let connection: Connection;

  const offer = (n: number, state: Offer['state'] = 'created'): Offer => ({
    pubkey: testKey(`offer-${n}`),
    maker: testKey(`maker-${n}`),
    mintA: testKey('mint-a'),
    mintB: testKey('mint-b'),
    amountA: 18446744073709551615n,
    amountB: BigInt(n),
    state,
  });

  beforeEach(async () => {
    ledger = new LocalLedger({ seed: 'rpc-test', firstSlot: 100 });
    server = await startRpcServer({ ledger, port: 0 });
    connection = new Connection(server.rpcUrl, {
      commitment: 'confirmed',
      wsEndpoint: server.wsUrl,
    });
  });

  afterEach(async () => {
    await server.close();
  });

  it('serves slots, versions, health and blockhashes', async () => {
    ledger.submit(offerTransaction(programId, offer(1)));
    expect(await connection.getSlot()).to.equal(100);
    expect((await connection.getVersion())['solana-core']).to.be.a('string');
    const { blockhash } = await connection.getLatestBlockhash();
    expect(blockhash).to.equal(ledger.blockhash());
    expect(await connection.getBlockTime(100)).to.equal(ledger.blockTime(100));
  });

  it('returns account data byte for byte, alone, in batches and by program with filters', async () => {
    const first = offer(1);
    const second = offer(2);
    ledger.submit(offerTransaction(programId, first));
    ledger.submit(offerTransaction(programId, second));

    const info = await connection.getAccountInfo(new PublicKey(first.pubkey));
    expect(info?.owner.toBase58()).to.equal(programId);
    expect(Buffer.from(info!.data).equals(Buffer.from(encodeOffer(first)))).to.equal(true);

    const many = await connection.getMultipleAccountsInfo([
      new PublicKey(second.pubkey),
      new PublicKey(testKey('nobody')),
    ]);
    expect(Buffer.from(many[0]!.data).equals(Buffer.from(encodeOffer(second)))).to.equal(true);
    expect(many[1]).to.equal(null);

    const all = await connection.getProgramAccounts(new PublicKey(programId), {
      filters: [{ dataSize: OFFER_SIZE }],
    });
    expect(all.map((a) => a.pubkey.toBase58()).sort()).to.deep.equal([first.pubkey, second.pubkey].sort());
    const byMaker = await connection.getProgramAccounts(new PublicKey(programId), {
      filters: [{ memcmp: { offset: 8, bytes: second.maker } }],
    });
    expect(byMaker.map((a) => a.pubkey.toBase58())).to.deep.equal([second.pubkey]);
    const wrongSize = await connection.getProgramAccounts(new PublicKey(programId), { filters: [{ dataSize: 1 }] });
    expect(wrongSize).to.deep.equal([]);
  });

  it('pages signatures newest first with before and until', async () => {
    const sigs = [1, 2, 3, 4, 5].map((n) => ledger.submit(offerTransaction(programId, offer(n))).signature);
    const program = new PublicKey(programId);
    const page1 = await connection.getSignaturesForAddress(program, {
      limit: 2,
    });
    expect(page1.map((s) => s.signature)).to.deep.equal([sigs[4], sigs[3]]);
    expect(page1[0]).to.include({
      err: null,
      memo: null,
      confirmationStatus: 'finalized',
      slot: 104,
    });
    const page2 = await connection.getSignaturesForAddress(program, {
      limit: 2,
      before: sigs[3],
    });
    expect(page2.map((s) => s.signature)).to.deep.equal([sigs[2], sigs[1]]);
    const untilSecond = await connection.getSignaturesForAddress(program, {
      until: sigs[1],
    });
    expect(untilSecond.map((s) => s.signature)).to.deep.equal([sigs[4], sigs[3], sigs[2]]);
  });

  it('returns a transaction with its message, logs and metadata', async () => {
    const o = offer(7);
    const tx = offerTransaction(programId, o);
    const { signature, slot } = ledger.submit(tx);
    const got = await connection.getTransaction(signature, {
      maxSupportedTransactionVersion: 0,
      commitment: 'confirmed',
    });
    expect(got).to.not.equal(null);
    expect(got!.slot).to.equal(slot);
    expect(got!.meta!.logMessages).to.deep.equal(tx.logMessages);
    expect(got!.meta!.fee).to.equal(5000);
    expect(got!.meta!.err).to.equal(null);
    const message = got!.transaction.message;
    const keys = message.staticAccountKeys.map((k) => k.toBase58());
    expect(keys).to.deep.equal([o.maker, o.pubkey, programId]);
    expect(message.header).to.deep.equal({
      numRequiredSignatures: 1,
      numReadonlySignedAccounts: 0,
      numReadonlyUnsignedAccounts: 1,
    });
    const [ix] = message.compiledInstructions;
    expect(keys[ix!.programIdIndex]).to.equal(programId);
    expect(Buffer.from(ix!.data).equals(Buffer.from(tx.instructions[0]!.data))).to.equal(true);
    expect(got!.transaction.signatures[0]).to.equal(signature);
    expect(
      await connection.getTransaction('1'.repeat(64), {
        maxSupportedTransactionVersion: 0,
      }),
    ).to.equal(null);
  });

  it('notifies logs and program account changes to web3.js subscribers', async () => {
    const logs: Logs[] = [];
    const changes: KeyedAccountInfo[] = [];
    const slots: number[] = [];
    const logsId = connection.onLogs(new PublicKey(programId), (l) => logs.push(l), 'confirmed');
    const programSub = connection.onProgramAccountChange(new PublicKey(programId), (c) => changes.push(c), {
      commitment: 'confirmed',
      filters: [{ dataSize: OFFER_SIZE }],
    });
    const slotSub = connection.onSlotChange((s) => slots.push(s.slot));
    await waitUntil(() => server.pubsub.subscriptionCount() === 3);

    const o = offer(9);
    const { signature } = ledger.submit(offerTransaction(programId, o));
    ledger.submit(offerTransaction(testKey('another-program'), offer(10)));
    await waitFor(logs, 1);
    await waitFor(changes, 1);
    await waitFor(slots, 2);
    expect(logs).to.have.length(1);
    expect(logs[0]).to.deep.include({ signature, err: null });
    expect(changes).to.have.length(1);
    expect(changes[0]!.accountId.toBase58()).to.equal(o.pubkey);
    expect(Buffer.from(changes[0]!.accountInfo.data).equals(Buffer.from(encodeOffer(o)))).to.equal(true);

    await connection.removeOnLogsListener(logsId);
    await connection.removeProgramAccountChangeListener(programSub);
    await connection.removeSlotChangeListener(slotSub);
    await waitUntil(() => server.pubsub.subscriptionCount() === 0);
  });

  it('answers rate-limited requests with HTTP 429', async () => {
    const strict = new Connection(server.rpcUrl, {
      disableRetryOnRateLimit: true,
    });
    server.failNextRequests(1);
    let error: unknown;
    try {
      await strict.getSlot();
    } catch (e) {
      error = e;
    }
    expect(String(error)).to.match(/429/);
    expect(await strict.getSlot()).to.equal(99);
  });
});

function waitUntil(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (condition() ? resolve() : setTimeout(check, 10));
    check();
  });
}

import { expect } from 'chai';
import { Connection } from '@solana/web3.js';
import { startLocalCluster, type LocalCluster } from '../../src/simulate/cluster.ts';
import { waitUntil } from './wait.ts';
import { stopReconnecting } from './web3-socket.ts';

describe('local cluster controls for end-to-end tests', () => {
  let cluster: LocalCluster;

  afterEach(async () => {
    await cluster.close();
  });

  it('confirms and finalizes by the clock, and tells a waiter when a slot reaches a commitment', async () => {
    cluster = await startLocalCluster({
      port: 0,
      seed: 2,
      rate: 0,
      confirmation: { ms: 20 },
      finalization: { ms: 40 },
      geyser: false,
    });
    const { submitted } = cluster.player.step();
    expect(cluster.ledger.slotInfo(submitted.slot)?.status).to.equal('processed');
    const finalized = await cluster.waitForCommitment(submitted.slot, 'finalized');
    expect(finalized.status).to.equal('finalized');
    expect(cluster.ledger.slot('confirmed')).to.equal(submitted.slot);
    // A slot not produced yet is waited for.
    const later = cluster.waitForCommitment(submitted.slot + 1, 'confirmed');
    cluster.player.step();
    expect((await later).slot).to.equal(submitted.slot + 1);
  });

  it('forks the next steps on demand, kills the fork on demand, and rejects a waiter on a slot that died', async () => {
    cluster = await startLocalCluster({ port: 0, seed: 2, rate: 0, confirmation: { slots: 1 }, geyser: false });
    cluster.player.step();
    cluster.forkNext(2);
    const first = cluster.player.step();
    const second = cluster.player.step();
    expect([first.onFork, second.onFork]).to.deep.equal([true, true]);
    expect(cluster.ledger.forkSlots().map((s) => s.slot)).to.deep.equal([first.submitted.slot, second.submitted.slot]);
    const waiting = cluster.waitForCommitment(first.submitted.slot, 'confirmed');
    const dead = cluster.abandonFork();
    expect(dead.map((s) => s.status)).to.deep.equal(['dead', 'dead']);
    let error: Error | null = null;
    await waiting.catch((e: Error) => (error = e));
    expect(String(error)).to.match(/died/);
    // The player notices the fork is gone and plays on from the surviving chain.
    expect(cluster.player.step().onFork).to.equal(false);
  });

  it('drops every PubSub websocket, which web3.js then reopens', async () => {
    cluster = await startLocalCluster({ port: 0, seed: 2, rate: 0, geyser: false });
    const connection = new Connection(cluster.rpcUrl, { wsEndpoint: cluster.wsUrl, commitment: 'processed' });
    const slots: number[] = [];
    connection.onSlotChange((s) => slots.push(s.slot));
    await waitUntil(() => cluster.rpc.pubsub.subscriptionCount() === 1);
    const [dropped] = cluster.rpc.pubsub.connections();
    expect(cluster.dropWebsockets()).to.equal(1);
    const reopened = () => cluster.rpc.pubsub.connections().filter((socket) => socket !== dropped);
    await waitUntil(() => reopened().length === 1 && cluster.rpc.pubsub.subscriptionCount() === 1);
    const { submitted } = cluster.player.step();
    await waitUntil(() => slots.includes(submitted.slot));
    stopReconnecting(connection);
  });
});

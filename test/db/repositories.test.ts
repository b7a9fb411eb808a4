import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import type { Database } from '../../src/db/connection.ts';
import {
  findActiveEscrows,
  findByPubkey,
  findEscrowsByParty,
  findListings,
  findProposals,
  findSwaps,
  findVotes,
  modelsFor,
  upsertRows,
} from '../../src/db/repositories/index.ts';
import { DIALECTS } from '../support/database.ts';
import { pubkey, sampleRow, U64_MAX, type Parents, type Row, withSeededDatabase } from './fixtures.ts';

/** Rows written one call after another, so that ids (and creation times) follow the array order. */
async function writeInOrder(db: Database, topic: Parameters<typeof upsertRows>[1], rows: Row[]): Promise<void> {
  for (const row of rows) await upsertRows(db, topic, [row]);
}

for (const dialect of DIALECTS) {
  describe(`repositories (${dialect})`, function () {
    this.timeout(60_000);
    let db: Database;
    let parents: Parents;

    withSeededDatabase(dialect, (seeded) => ({ db, parents } = seeded));

    describe('findByPubkey', () => {
      it('returns the row in wire form (u64 strings, numbers, ISO timestamps, null for absent values)', async () => {
        const row = sampleRow('escrows', null, { amount_a: U64_MAX });
        await upsertRows(db, 'escrows', [row]);
        const found = await findByPubkey(db, 'escrows', row.pubkey as string);
        expect(found).to.include({ ...row, taker: null, completed_slot: null });
        expect(found?.id).to.be.a('number');
        expect(found?.created_at).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(Date.now() - Date.parse(found?.created_at as string)).to.be.lessThan(3_600_000);
      });

      it('returns null for a pubkey that is not stored', async () => {
        expect(await findByPubkey(db, 'escrows', pubkey())).to.equal(null);
        expect(await findByPubkey(db, 'votes', pubkey())).to.equal(null);
      });

      it('finds votes, pools, governances, proposals, listings and accounts by pubkey', async () => {
        for (const topic of ['accounts', 'listings', 'pools', 'governances'] as const) {
          const row = sampleRow(topic, null);
          await upsertRows(db, topic, [row]);
          expect((await findByPubkey(db, topic, row.pubkey as string))?.pubkey).to.equal(row.pubkey);
        }
        const vote = sampleRow('votes', parents);
        await upsertRows(db, 'votes', [vote]);
        expect(await findByPubkey(db, 'votes', vote.pubkey as string)).to.include({
          support: true,
          vote_weight: '250',
        });
        expect((await findByPubkey(db, 'proposals', parents.proposal))?.governance_pubkey).to.equal(parents.governance);
      });
    });

    describe('escrows', () => {
      it('lists escrows by maker, newest first, with an optional state and pages', async () => {
        const maker = pubkey();
        const rows = ['created', 'funded', 'completed', 'funded', 'cancelled'].map((state) =>
          sampleRow('escrows', null, { maker, state }),
        );
        await writeInOrder(db, 'escrows', rows);
        await upsertRows(db, 'escrows', [sampleRow('escrows', null)]);
        const keys = (list: { pubkey: string }[]) => list.map((r) => r.pubkey);
        const newestFirst = rows.map((r) => r.pubkey as string).reverse();

        expect(keys(await findEscrowsByParty(db, { maker }))).to.deep.equal(newestFirst);
        expect(keys(await findEscrowsByParty(db, { maker }, { state: 'funded' }))).to.deep.equal([
          rows[3]?.pubkey,
          rows[1]?.pubkey,
        ]);
        expect(keys(await findEscrowsByParty(db, { maker }, { page: 1, pageSize: 2 }))).to.deep.equal(
          newestFirst.slice(0, 2),
        );
        expect(keys(await findEscrowsByParty(db, { maker }, { page: 2, pageSize: 2 }))).to.deep.equal(
          newestFirst.slice(2, 4),
        );
        expect(keys(await findEscrowsByParty(db, { maker }, { page: 3, pageSize: 2 }))).to.deep.equal(
          newestFirst.slice(4),
        );
        expect(await findEscrowsByParty(db, { maker }, { page: 4, pageSize: 2 })).to.deep.equal([]);
        expect(await findEscrowsByParty(db, { maker: pubkey() })).to.deep.equal([]);
      });

      it('orders by creation time before id: a row created earlier comes last even if written later', async () => {
        const maker = pubkey();
        const recent = sampleRow('escrows', null, { maker });
        const old = sampleRow('escrows', null, { maker });
        await upsertRows(db, 'escrows', [recent]);
        await upsertRows(db, 'escrows', [old]);
        await db.sequelize.query("UPDATE escrows SET created_at = '2020-01-01 00:00:00' WHERE pubkey = $1", {
          bind: [old.pubkey],
        });
        const found = await findEscrowsByParty(db, { maker });
        expect(found.map((r) => r.pubkey)).to.deep.equal([recent.pubkey, old.pubkey]);
        expect(found[1]?.created_at).to.equal('2020-01-01T00:00:00.000Z');
      });

      it('lists escrows by taker', async () => {
        const taker = pubkey();
        const rows = [
          sampleRow('escrows', null, { taker, state: 'funded' }),
          sampleRow('escrows', null, { taker, state: 'completed' }),
        ];
        await writeInOrder(db, 'escrows', rows);
        expect((await findEscrowsByParty(db, { taker })).map((r) => r.pubkey)).to.deep.equal([
          rows[1]?.pubkey,
          rows[0]?.pubkey,
        ]);
        expect((await findEscrowsByParty(db, { taker }, { state: 'completed' })).map((r) => r.pubkey)).to.deep.equal([
          rows[1]?.pubkey,
        ]);
      });

      it('lists active escrows (created or funded) only, newest first', async () => {
        await writeInOrder(
          db,
          'escrows',
          ['created', 'completed', 'funded', 'cancelled'].map((state) => sampleRow('escrows', null, { state })),
        );
        const expected = await db.sequelize.query<{ pubkey: string }>(
          "SELECT pubkey FROM escrows WHERE state IN ('created', 'funded') ORDER BY created_at DESC, id DESC",
          { type: QueryTypes.SELECT },
        );
        const found = await findActiveEscrows(db, { pageSize: 1000 });
        expect(found.map((r) => r.pubkey)).to.deep.equal(expected.map((r) => r.pubkey));
        expect(found.every((r) => r.state === 'created' || r.state === 'funded')).to.equal(true);
        expect(found.length).to.be.greaterThan(1);
        expect(await findActiveEscrows(db, { pageSize: 1 })).to.have.length(1);
      });

      it('refuses page sizes and pages out of range', async () => {
        const maker = pubkey();
        for (const options of [{ pageSize: 0 }, { pageSize: 1001 }, { page: 0 }, { page: 1.5 }]) {
          let caught: unknown;
          try {
            await findEscrowsByParty(db, { maker }, options);
          } catch (error) {
            caught = error;
          }
          expect(caught, JSON.stringify(options)).to.be.instanceOf(RangeError);
        }
      });
    });

    describe('listings', () => {
      it('lists active listings cheapest first, comparing u64 prices above 2^63 numerically', async () => {
        const seller = pubkey();
        const prices = ['9223372036854775808', '1000', U64_MAX, '999', '9223372036854775807', '10000000000000000000'];
        await writeInOrder(
          db,
          'listings',
          prices.map((price) => sampleRow('listings', null, { seller, price })),
        );
        await upsertRows(db, 'listings', [sampleRow('listings', null, { seller, price: '1', state: 'sold' })]);
        const found = await findListings(db, { seller });
        expect(found.map((r) => r.price)).to.deep.equal([
          '999',
          '1000',
          '9223372036854775807',
          '9223372036854775808',
          '10000000000000000000',
          U64_MAX,
        ]);
        expect((await findListings(db, { seller }, { page: 2, pageSize: 4 })).map((r) => r.price)).to.deep.equal([
          '10000000000000000000',
          U64_MAX,
        ]);
        expect((await findListings(db, { seller, state: 'sold' })).map((r) => r.price)).to.deep.equal(['1']);
      });

      it('filters by mint and by seller and mint together; equal prices keep write order', async () => {
        const mint = pubkey();
        const seller = pubkey();
        const rows = [
          sampleRow('listings', null, { mint, seller, price: '5' }),
          sampleRow('listings', null, { mint, price: '5' }),
          sampleRow('listings', null, { mint, price: '4' }),
        ];
        await writeInOrder(db, 'listings', rows);
        expect((await findListings(db, { mint })).map((r) => r.pubkey)).to.deep.equal([
          rows[2]?.pubkey,
          rows[0]?.pubkey,
          rows[1]?.pubkey,
        ]);
        expect((await findListings(db, { mint, seller })).map((r) => r.pubkey)).to.deep.equal([rows[0]?.pubkey]);
      });
    });

    describe('swaps, proposals and votes', () => {
      it('lists swaps of a pool or of a user, highest slot first, paged', async () => {
        const pool = sampleRow('pools', null);
        await upsertRows(db, 'pools', [pool]);
        const user = pubkey();
        const slots = [5, 9, 7, 1];
        const swaps = slots.map((slot, i) =>
          sampleRow(
            'swaps',
            { ...parents, pool: pool.pubkey as string },
            { slot, user_address: i % 2 === 0 ? user : pubkey() },
          ),
        );
        await writeInOrder(db, 'swaps', swaps);
        await upsertRows(db, 'swaps', [sampleRow('swaps', parents, { user_address: user, slot: 100 })]);
        expect((await findSwaps(db, { pool: pool.pubkey as string })).map((r) => r.slot)).to.deep.equal([9, 7, 5, 1]);
        expect(
          (await findSwaps(db, { pool: pool.pubkey as string }, { page: 2, pageSize: 3 })).map((r) => r.slot),
        ).to.deep.equal([1]);
        const byUser = await findSwaps(db, { user });
        expect(byUser.map((r) => r.slot)).to.deep.equal([100, 7, 5]);
        expect(byUser[0]?.pool_pubkey).to.equal(parents.pool);
      });

      it('lists proposals of a governance, newest first, optionally by state', async () => {
        const governance = sampleRow('governances', null);
        await upsertRows(db, 'governances', [governance]);
        const g = { ...parents, governance: governance.pubkey as string };
        const proposals = ['active', 'defeated', 'active', 'executed'].map((state, i) =>
          sampleRow('proposals', g, { state, proposal_id: i }),
        );
        await writeInOrder(db, 'proposals', proposals);
        const found = await findProposals(db, governance.pubkey as string);
        expect(found.map((r) => r.proposal_id)).to.deep.equal([3, 2, 1, 0]);
        expect(found[0]?.voting_ends_at).to.equal('2026-01-04T00:00:00.000Z');
        expect(
          (await findProposals(db, governance.pubkey as string, { state: 'active' })).map((r) => r.proposal_id),
        ).to.deep.equal([2, 0]);
        expect(await findProposals(db, governance.pubkey as string, { state: 'queued' })).to.deep.equal([]);
      });

      it('lists the votes on a proposal, latest slot first', async () => {
        const proposal = sampleRow('proposals', parents);
        await upsertRows(db, 'proposals', [proposal]);
        const p = { ...parents, proposal: proposal.pubkey as string };
        const votes = [3, 8, 5].map((slot, i) => sampleRow('votes', p, { slot, support: i !== 1 }));
        await writeInOrder(db, 'votes', votes);
        const found = await findVotes(db, proposal.pubkey as string);
        expect(found.map((r) => [r.slot, r.support])).to.deep.equal([
          [8, false],
          [5, true],
          [3, true],
        ]);
        expect(await findVotes(db, pubkey())).to.deep.equal([]);
      });
    });

    describe('model associations', () => {
      it('loads an escrow with its events', async () => {
        const escrow = sampleRow('escrows', null);
        await upsertRows(db, 'escrows', [escrow]);
        const p = { ...parents, escrow: escrow.pubkey as string };
        await upsertRows(db, 'escrow_events', [
          sampleRow('escrow_events', p, { event_type: 'created' }),
          sampleRow('escrow_events', p, { event_type: 'funded' }),
        ]);
        const { Escrow, EscrowEvent } = modelsFor(db);
        const found = await Escrow.findOne({
          where: { pubkey: escrow.pubkey as string },
          include: [{ association: 'events' }],
        });
        const events = (found?.get('events' as never) as unknown as { get(k: string): unknown }[])
          .map((e) => e.get('event_type'))
          .sort();
        expect(events).to.deep.equal(['created', 'funded']);
        const event = await EscrowEvent.findOne({
          where: { escrow_pubkey: escrow.pubkey as string },
          include: [{ association: 'escrow' }],
        });
        expect((event?.get('escrow' as never) as unknown as { get(k: string): unknown }).get('amount_a')).to.equal(
          '1000',
        );
      });

      it('loads a listing with its sales', async () => {
        const listing = sampleRow('listings', null);
        await upsertRows(db, 'listings', [listing]);
        await upsertRows(db, 'sales', [
          sampleRow('sales', { ...parents, listing: listing.pubkey as string }, { price: U64_MAX }),
        ]);
        const found = await modelsFor(db).Listing.findOne({
          where: { pubkey: listing.pubkey as string },
          include: [{ association: 'sales' }],
        });
        const sales = found?.get('sales' as never) as unknown as { get(k: string): unknown }[];
        expect(sales.map((s) => s.get('price'))).to.deep.equal([U64_MAX]);
      });

      it('loads a pool with its swaps and liquidity events', async () => {
        const pool = sampleRow('pools', null);
        await upsertRows(db, 'pools', [pool]);
        const p = { ...parents, pool: pool.pubkey as string };
        await upsertRows(db, 'swaps', [sampleRow('swaps', p), sampleRow('swaps', p)]);
        await upsertRows(db, 'liquidity_events', [sampleRow('liquidity_events', p)]);
        const found = await modelsFor(db).Pool.findOne({
          where: { pubkey: pool.pubkey as string },
          include: [{ association: 'swaps' }, { association: 'liquidityEvents' }],
        });
        expect(found?.get('swaps' as never)).to.have.length(2);
        expect(found?.get('liquidityEvents' as never)).to.have.length(1);
      });

      it('loads a governance with its proposals and their votes and executions', async () => {
        const governance = sampleRow('governances', null);
        await upsertRows(db, 'governances', [governance]);
        const proposal = sampleRow('proposals', { ...parents, governance: governance.pubkey as string });
        await upsertRows(db, 'proposals', [proposal]);
        const p = { ...parents, proposal: proposal.pubkey as string };
        await upsertRows(db, 'votes', [sampleRow('votes', p), sampleRow('votes', p), sampleRow('votes', p)]);
        await upsertRows(db, 'executions', [sampleRow('executions', p)]);
        const found = await modelsFor(db).Governance.findOne({
          where: { pubkey: governance.pubkey as string },
          include: [{ association: 'proposals', include: [{ association: 'votes' }, { association: 'executions' }] }],
        });
        const proposals = found?.get('proposals' as never) as unknown as { get(k: string): unknown }[];
        expect(proposals).to.have.length(1);
        expect(proposals[0]?.get('votes')).to.have.length(3);
        expect(proposals[0]?.get('executions')).to.have.length(1);
        const vote = await modelsFor(db).Vote.findOne({
          where: { proposal_pubkey: proposal.pubkey as string },
          include: [{ association: 'proposal' }],
        });
        expect((vote?.get('proposal' as never) as unknown as { get(k: string): unknown }).get('title')).to.equal(
          'Raise the fee',
        );
      });
    });
  });
}

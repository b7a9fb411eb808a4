// SPL Governance's rows: governances (realm authority and mint joined in), proposals, votes and
// executions.
//
// One account often needs another: a governance's authority and mint are its realm's, a
// proposal's voting time and index come from its governance and its proposer from its token owner
// record, a vote's signature from its CastVote transaction and its weight from its vote record.
// Each is read from the rows already written or from the chain when needed. Only values that can
// always be read again (a realm's mint, a record's owner, a proposal's index) are kept in the
// program's cache.
import { ProposalState } from '@solana/spl-governance';
import { toIsoTimestamp, toU64String } from '../../db/rows.ts';
import type { ProposalState as SeedProposalState } from '../../db/schema.ts';
import { programAddress } from '../addresses.ts';
import { decodedRow } from '../decoded-row.ts';
import type { WatchList } from '../decoder-options.ts';
import { succeeded, transactionRow } from '../transactions.ts';
import type { AccountInput, DecodedRow, MapContext, TransactionInput } from '../types.ts';
import type {
  GovernanceAccount,
  GovernanceDecoder,
  GovernanceProgramAccount,
  GovernanceTransaction,
  ProposalAccount,
  RealmAccount,
  VoteRecordAccount,
} from './decode.ts';

const DEFAULT_PUBKEY = '11111111111111111111111111111111';

/** Program proposal states → the seed's proposal_state enum (see docs/programs.md). */
export const PROPOSAL_STATE_MAP: Readonly<Record<ProposalState, SeedProposalState>> = {
  [ProposalState.Draft]: 'active',
  [ProposalState.SigningOff]: 'active',
  [ProposalState.Voting]: 'active',
  [ProposalState.Succeeded]: 'succeeded',
  [ProposalState.Executing]: 'queued',
  [ProposalState.ExecutingWithErrors]: 'queued',
  [ProposalState.Completed]: 'executed',
  [ProposalState.Cancelled]: 'cancelled',
  [ProposalState.Defeated]: 'defeated',
  [ProposalState.Vetoed]: 'defeated',
};

export function nativeTreasuryAddress(programId: string, governance: string): string {
  return programAddress(programId, [Buffer.from('native-treasury'), governance]);
}

/** The V2 proposal address of index `index` (seeds: "governance", governance, mint, index u32 LE). */
export function proposalAddress(programId: string, governance: string, mint: string, index: number): string {
  const i = Buffer.alloc(4);
  i.writeUInt32LE(index);
  return programAddress(programId, [Buffer.from('governance'), governance, mint, i]);
}

/** Most proposal indexes searched for a proposal's address (V3 proposals are not indexed PDAs). */
const MAX_PROPOSAL_INDEX = 4096;

export class GovernanceMapper {
  constructor(
    private readonly decoder: GovernanceDecoder,
    private readonly watch: WatchList,
  ) {}

  private get programId(): string {
    return this.decoder.programId;
  }

  async mapAccount(account: GovernanceProgramAccount, input: AccountInput, context: MapContext): Promise<DecodedRow[]> {
    const { pubkey, slot } = input;
    switch (account.kind) {
      case 'realm':
        return this.realmChanged(pubkey, account, slot, context);
      case 'governance':
        if (!this.watch.admits(pubkey, account.realm)) return [];
        return this.governanceRows(pubkey, account, slot, context);
      case 'tokenOwnerRecord':
        context.cache.set(`owner:${pubkey}`, account.owner);
        return [];
      case 'proposal':
        if (!(await this.watched(context, pubkey, account.governance))) return [];
        return this.proposalRows(pubkey, account, slot, context);
      case 'voteRecord':
        return this.voteRecordRows(pubkey, account, input, context);
    }
  }

  async mapTransaction(
    decoded: GovernanceTransaction,
    tx: TransactionInput,
    context: MapContext,
  ): Promise<DecodedRow[]> {
    const rows: DecodedRow[] = [];
    let watched = this.watch.all;
    for (const ix of decoded.instructions) {
      if (ix.kind === 'other') {
        if (this.watch.admits(...ix.accounts)) watched = true;
        continue;
      }
      if (!(await this.watched(context, ix.proposal, ix.governance, ix.kind === 'castVote' ? ix.realm : undefined)))
        continue;
      watched = true;
      if (ix.kind === 'castVote') {
        if (!decoded.succeeded) continue;
        rows.push(...(await this.castVote(ix.voteRecord, ix.proposal, tx, context)));
      } else {
        if (!(await this.ensureProposal(ix.proposal, tx, context, rows))) continue;
        rows.push(
          decodedRow('executions', {
            proposal_pubkey: ix.proposal,
            executor: decoded.signer,
            signature: tx.signature,
            slot: tx.slot,
            success: decoded.succeeded,
            error_message: decoded.succeeded ? null : JSON.stringify(tx.err),
          }),
        );
      }
    }
    if (!watched) return [];
    return [transactionRow(tx, this.programId, decoded.firstName), ...rows];
  }

  // --- watch list ---------------------------------------------------------------------------

  /** True when nothing is watched in particular, or the proposal, its governance or the governance's realm is. */
  private async watched(
    context: MapContext,
    proposal: string | undefined,
    governance: string | undefined,
    realm?: string,
  ): Promise<boolean> {
    if (this.watch.admits(proposal, governance, realm)) return true;
    if (governance === undefined) return false;
    return this.watch.admits(await this.realmOf(governance, context));
  }

  private async realmOf(governance: string, context: MapContext): Promise<string | null> {
    const key = `realmOf:${governance}`;
    const cached = context.cache.get(key) as string | undefined;
    if (cached !== undefined) return cached;
    const account = await this.read(governance, context);
    if (account?.decoded.kind !== 'governance') return null;
    context.cache.set(key, account.decoded.realm);
    return account.decoded.realm;
  }

  // --- realms and governances ---------------------------------------------------------------

  private async realmInfo(realm: string, context: MapContext): Promise<RealmAccount | null> {
    const key = `realm:${realm}`;
    const cached = context.cache.get(key) as RealmAccount | undefined;
    if (cached !== undefined) return cached;
    const account = await this.read(realm, context);
    if (account?.decoded.kind !== 'realm') return null;
    context.cache.set(key, account.decoded);
    return account.decoded;
  }

  /** A realm changed: its governances known to this process take its new authority and mint. */
  private realmChanged(pubkey: string, realm: RealmAccount, slot: number, context: MapContext): DecodedRow[] {
    const key = `realm:${pubkey}`;
    const previous = context.cache.get(key) as RealmAccount | undefined;
    context.cache.set(key, realm);
    if (previous === undefined) return [];
    if (previous.authority === realm.authority && previous.communityMint === realm.communityMint) return [];
    return [...governancesOf(context, pubkey)].map((governance) =>
      decodedRow(
        'governances',
        { pubkey: governance, authority: realm.authority ?? pubkey, governance_token_mint: realm.communityMint },
        { pubkey: governance, slot, from: 'account' },
      ),
    );
  }

  private async governanceRows(
    pubkey: string,
    gov: GovernanceAccount,
    slot: number,
    context: MapContext,
  ): Promise<DecodedRow[]> {
    context.cache.set(`realmOf:${pubkey}`, gov.realm);
    governancesOf(context, gov.realm).add(pubkey);
    const realm = await this.realmInfo(gov.realm, context);
    return [
      decodedRow(
        'governances',
        {
          pubkey,
          // Without a realm authority the realm itself governs.
          authority: realm?.authority ?? gov.realm,
          governance_token_mint: realm?.communityMint ?? DEFAULT_PUBKEY,
          treasury: nativeTreasuryAddress(this.programId, pubkey),
          proposal_count: gov.proposalCount,
          voting_period: gov.baseVotingTime,
          proposal_threshold: toU64String(gov.minCommunityTokensToCreateProposal, 'proposal_threshold'),
          quorum_votes: toU64String(gov.communityVoteThreshold, 'quorum_votes'),
          execution_delay: gov.minInstructionHoldUpTime,
        },
        { pubkey, slot, from: 'account' },
      ),
    ];
  }

  // --- proposals ----------------------------------------------------------------------------

  private async proposalRows(
    pubkey: string,
    p: ProposalAccount,
    slot: number,
    context: MapContext,
  ): Promise<DecodedRow[]> {
    const rows: DecodedRow[] = [];
    let governance = await context.row('governances', p.governance);
    if (governance === null) {
      // The governance is the proposal's parent row: read it first.
      const read = await this.read(p.governance, context);
      if (read?.decoded.kind !== 'governance') {
        context.skip('parent_unavailable', {
          proposal: pubkey,
          governance: p.governance,
          why: 'governance unreadable',
        });
        return [];
      }
      const governanceRows = await this.governanceRows(p.governance, read.decoded, read.slot, context);
      rows.push(...governanceRows);
      governance = governanceRows[0]?.row as NonNullable<typeof governance>;
    }
    const index = this.proposalIndex(pubkey, p, Number(governance.proposal_count ?? 0), context);
    const startsAt = p.votingAt ?? p.startVotingAt ?? p.draftAt ?? 0;
    const votingTime = p.maxVotingTime ?? Number(governance.voting_period ?? 0);
    const endsAt = p.votingCompletedAt ?? startsAt + votingTime;
    const executedAt = p.executingAt ?? (p.state === ProposalState.Completed ? p.closedAt : null);
    rows.push(
      decodedRow(
        'proposals',
        {
          pubkey,
          governance_pubkey: p.governance,
          // V2 proposals are PDAs of their index; otherwise (V3 seeds) the draft time stands in.
          proposal_id: index ?? p.draftAt ?? 0,
          proposer: (await this.ownerOf(p.tokenOwnerRecord, context)) ?? p.tokenOwnerRecord,
          title: p.name.slice(0, 255),
          description_uri: p.descriptionLink === '' ? null : p.descriptionLink.slice(0, 500),
          votes_for: toU64String(p.yes, 'votes_for'),
          votes_against: toU64String(p.no, 'votes_against'),
          state: PROPOSAL_STATE_MAP[p.state],
          voting_starts_at: toIsoTimestamp(startsAt),
          voting_ends_at: toIsoTimestamp(endsAt),
          execution_time: executedAt === null ? null : toIsoTimestamp(executedAt),
          created_slot: slot,
        },
        { pubkey, slot, from: 'account' },
      ),
    );
    return rows;
  }

  private proposalIndex(pubkey: string, p: ProposalAccount, proposalCount: number, context: MapContext): number | null {
    const key = `index:${pubkey}`;
    const cached = context.cache.get(key) as number | undefined;
    if (cached !== undefined) return cached;
    // +1: a new proposal account can arrive before its governance's incremented count.
    for (let i = Math.min(proposalCount + 1, MAX_PROPOSAL_INDEX) - 1; i >= 0; i--) {
      if (proposalAddress(this.programId, p.governance, p.mint, i) === pubkey) {
        context.cache.set(key, i);
        return i;
      }
    }
    return null;
  }

  /** True once the proposal row exists (stored, or read from the chain into `rows`). */
  private async ensureProposal(
    proposal: string,
    tx: TransactionInput,
    context: MapContext,
    rows: DecodedRow[],
  ): Promise<boolean> {
    if ((await context.row('proposals', proposal)) !== null) return true;
    const read = await this.read(proposal, context);
    if (read?.decoded.kind === 'proposal') {
      const proposalRows = await this.proposalRows(proposal, read.decoded, read.slot, context);
      if (proposalRows.some((r) => r.topic === 'proposals')) {
        rows.push(...proposalRows);
        return true;
      }
    }
    context.skip('parent_unavailable', { signature: tx.signature, proposal, why: 'proposal unreadable' });
    return false;
  }

  private async ownerOf(tokenOwnerRecord: string, context: MapContext): Promise<string | null> {
    const key = `owner:${tokenOwnerRecord}`;
    const cached = context.cache.get(key) as string | undefined;
    if (cached !== undefined) return cached;
    const read = await this.read(tokenOwnerRecord, context);
    if (read?.decoded.kind !== 'tokenOwnerRecord') return null;
    context.cache.set(key, read.decoded.owner);
    return read.decoded.owner;
  }

  // --- votes --------------------------------------------------------------------------------

  /** A CastVote: the vote row, with the weight its vote record holds. */
  private async castVote(
    voteRecord: string,
    proposal: string,
    tx: TransactionInput,
    context: MapContext,
  ): Promise<DecodedRow[]> {
    if ((await context.row('votes', voteRecord)) !== null) return [];
    const read = await this.read(voteRecord, context);
    if (read?.decoded.kind !== 'voteRecord') {
      context.skip('parent_unavailable', { signature: tx.signature, voteRecord, why: 'vote record unreadable' });
      return [];
    }
    const rows: DecodedRow[] = [];
    if (!(await this.ensureProposal(proposal, tx, context, rows))) return [];
    rows.push(voteRow(voteRecord, read.decoded, tx));
    return rows;
  }

  /**
   * A vote record read or notified. A notified one is written by its CastVote transaction, which
   * follows; one read on purpose (open votes at first start) takes its signature from its
   * CastVote in the record's history.
   */
  private async voteRecordRows(
    pubkey: string,
    record: VoteRecordAccount,
    input: AccountInput,
    context: MapContext,
  ): Promise<DecodedRow[]> {
    if (input.origin !== 'load') return [];
    if (
      !(await this.watched(
        context,
        record.proposal,
        (await context.row('proposals', record.proposal))?.governance_pubkey,
      ))
    )
      return [];
    if ((await context.row('votes', pubkey)) !== null) return [];
    for (const past of await context.history(pubkey)) {
      const cast = this.decoder
        .decodeTransaction(past)
        ?.instructions.some((ix) => ix.kind === 'castVote' && ix.voteRecord === pubkey);
      if (cast === true && succeeded(past)) {
        const rows: DecodedRow[] = [];
        if (!(await this.ensureProposal(record.proposal, past, context, rows))) return [];
        return [...rows, voteRow(pubkey, record, past)];
      }
    }
    context.skip('parent_unavailable', { voteRecord: pubkey, why: 'vote record without its CastVote in the history' });
    return [];
  }

  /** An account of this program read now, decoded, with the slot it was read at. */
  private async read(
    pubkey: string,
    context: MapContext,
  ): Promise<{ decoded: GovernanceProgramAccount; slot: number } | null> {
    const { slot, values } = await context.accounts([pubkey]);
    const account = values[0];
    if (account === null || account === undefined || account.owner !== this.programId) return null;
    const decoded = this.decoder.decodeAccount(pubkey, account.data);
    return decoded === null ? null : { decoded, slot };
  }
}

function voteRow(pubkey: string, record: VoteRecordAccount, tx: TransactionInput): DecodedRow {
  return decodedRow('votes', {
    pubkey,
    proposal_pubkey: record.proposal,
    voter: record.voter,
    support: record.support,
    vote_weight: toU64String(record.weight, 'vote_weight'),
    signature: tx.signature,
    slot: tx.slot,
  });
}

function governancesOf(context: MapContext, realm: string): Set<string> {
  const key = `governances:${realm}`;
  let set = context.cache.get(key) as Set<string> | undefined;
  if (set === undefined) context.cache.set(key, (set = new Set()));
  return set;
}

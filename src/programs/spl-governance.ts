// SPL Governance (not an Anchor program: the account type is the first byte). Layouts are the
// borsh schemas of @solana/spl-governance, used as published.
//   Realm (V1/V2) + Governance (V1/V2 of any governed kind) accounts → governances
//   Proposal (V1/V2) accounts → proposals
//   VoteRecord (V1/V2) accounts + the CastVote instruction's signature → votes
//   ExecuteTransaction instructions (success or failure of the transaction) → executions
// A decoder instance keeps in memory what one account needs from another (a realm's mint and
// authority, a governance's voting time and proposal count, a token owner record's owner, a vote
// record's signature) and re-emits the dependent row when the missing piece arrives.
import { PublicKey } from '@solana/web3.js';
import {
  GovernanceAccountParser,
  GovernanceAccountType,
  GovernanceInstruction,
  Governance,
  Proposal,
  ProposalState,
  Realm,
  TokenOwnerRecord,
  VoteKind,
  VoteRecord,
  getAccountTypes,
} from '@solana/spl-governance';
import { toIsoTimestamp, toU64String } from '../db/rows.ts';
import type { ProposalState as SeedProposalState } from '../db/schema.ts';
import { decodedRow } from './decoded-row.ts';
import { WatchList, statsFor, type DecoderOptions } from './decoder-options.ts';
import { programInstructions, u64Of, type DecodeStats } from './events.ts';
import { succeeded, transactionRow } from './transactions.ts';
import { DecodeError, type DecodedRow, type ProgramDecoder, type TransactionInput } from './types.ts';

export const SPL_GOVERNANCE_PROGRAM_ID = 'GovER5Lthms3bLBqWub97yVrMmEogzX7xNjdXpPPCVZw';
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

const KINDS = {
  realm: new Set(getAccountTypes(Realm)),
  governance: new Set(getAccountTypes(Governance)),
  proposal: new Set(getAccountTypes(Proposal)),
  voteRecord: new Set(getAccountTypes(VoteRecord)),
  tokenOwnerRecord: new Set(getAccountTypes(TokenOwnerRecord)),
};

const ALL_TYPES = new Set<number>(
  Object.values(GovernanceAccountType).filter((v): v is number => typeof v === 'number'),
);

function parse<T>(cls: unknown, pubkey: string, data: Uint8Array): T {
  const parser = GovernanceAccountParser(cls as Parameters<typeof GovernanceAccountParser>[0]);
  const info = { data: Buffer.from(data), owner: PublicKey.default, lamports: 0, executable: false };
  return parser(new PublicKey(pubkey), info).account as T;
}

function num(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return Number(u64Of(value));
}

export function nativeTreasuryAddress(programId: string, governance: string): string {
  return PublicKey.findProgramAddressSync(
    [Buffer.from('native-treasury'), new PublicKey(governance).toBuffer()],
    new PublicKey(programId),
  )[0].toBase58();
}

/** The V2 proposal address of index `index` (seeds: "governance", governance, mint, index u32 LE). */
export function proposalAddress(programId: string, governance: string, mint: string, index: number): string {
  const i = Buffer.alloc(4);
  i.writeUInt32LE(index);
  return PublicKey.findProgramAddressSync(
    [Buffer.from('governance'), new PublicKey(governance).toBuffer(), new PublicKey(mint).toBuffer(), i],
    new PublicKey(programId),
  )[0].toBase58();
}

interface RealmInfo {
  readonly communityMint: string;
  readonly authority: string | null;
  readonly slot: number;
}
interface GovernanceInfo {
  readonly realm: string;
  readonly proposalCount: number;
  readonly baseVotingTime: number;
  readonly build: (realm: RealmInfo | undefined) => DecodedRow;
  readonly slot: number;
}
interface ProposalInfo {
  readonly build: () => DecodedRow;
  readonly governance: string;
  readonly tokenOwnerRecord: string;
  readonly createdSlot: number;
}

/** Bounded insertion-ordered map. */
class Recent<K, V> extends Map<K, V> {
  constructor(private readonly limit = 100_000) {
    super();
  }
  override set(key: K, value: V): this {
    super.set(key, value);
    if (this.size > this.limit) {
      const first = this.keys().next().value;
      if (first !== undefined) this.delete(first);
    }
    return this;
  }
}

export class SplGovernanceDecoder implements ProgramDecoder {
  readonly name = 'spl-governance';
  readonly domain = 'governance' as const;
  readonly programId: string;
  readonly stats: DecodeStats;
  private readonly watch: WatchList;
  private readonly realms = new Recent<string, RealmInfo>();
  private readonly governances = new Recent<string, GovernanceInfo>();
  private readonly owners = new Recent<string, string>();
  private readonly proposals = new Recent<string, ProposalInfo>();
  private readonly voteRecords = new Recent<
    string,
    { row: Omit<NonNullable<DecodedRow<'votes'>['row']>, 'signature' | 'slot'>; slot: number }
  >();
  private readonly voteSignatures = new Recent<string, { signature: string; slot: number }>();

  constructor(options: DecoderOptions = {}) {
    this.programId = options.programId ?? SPL_GOVERNANCE_PROGRAM_ID;
    this.watch = new WatchList(options.watch);
    this.stats = statsFor(options);
  }

  decodeAccount(pubkey: string, data: Uint8Array, slot: number): DecodedRow[] {
    if (data.length === 0) return [];
    const type = data[0] ?? 0;
    if (!ALL_TYPES.has(type) || type === GovernanceAccountType.Uninitialized) {
      if (type !== GovernanceAccountType.Uninitialized)
        this.stats.unknown({
          programId: this.programId,
          pubkey,
          kind: 'account',
          discriminator: type.toString(16).padStart(2, '0'),
        });
      return [];
    }
    try {
      if (KINDS.realm.has(type)) return this.realm(pubkey, parse<Realm>(Realm, pubkey, data), slot);
      if (KINDS.governance.has(type)) return this.governance(pubkey, parse<Governance>(Governance, pubkey, data), slot);
      if (KINDS.tokenOwnerRecord.has(type))
        return this.tokenOwnerRecord(pubkey, parse<TokenOwnerRecord>(TokenOwnerRecord, pubkey, data));
      if (KINDS.proposal.has(type)) return this.proposal(pubkey, parse<Proposal>(Proposal, pubkey, data), slot);
      if (KINDS.voteRecord.has(type)) return this.voteRecord(pubkey, parse<VoteRecord>(VoteRecord, pubkey, data), slot);
    } catch (err) {
      throw new DecodeError(`SPL Governance account type ${type}: ${(err as Error).message}`, { pubkey });
    }
    return [];
  }

  private realm(pubkey: string, realm: Realm, slot: number): DecodedRow[] {
    const info: RealmInfo = {
      communityMint: realm.communityMint.toBase58(),
      authority: realm.authority?.toBase58() ?? null,
      slot,
    };
    this.realms.set(pubkey, info);
    const rows: DecodedRow[] = [];
    for (const g of this.governances.values()) if (g.realm === pubkey) rows.push(g.build(info));
    return rows;
  }

  private governance(pubkey: string, gov: Governance, slot: number): DecodedRow[] {
    const realm = gov.realm.toBase58();
    if (!this.watch.admits(pubkey, realm)) return [];
    const config = gov.config;
    const build = (r: RealmInfo | undefined): DecodedRow =>
      decodedRow(
        'governances',
        {
          pubkey,
          // Without the realm's authority (none, or realm not seen yet) the realm itself governs.
          authority: r?.authority ?? realm,
          governance_token_mint: r?.communityMint ?? DEFAULT_PUBKEY,
          treasury: nativeTreasuryAddress(this.programId, pubkey),
          proposal_count: gov.proposalCount,
          voting_period: config.baseVotingTime,
          proposal_threshold: toU64String(u64Of(config.minCommunityTokensToCreateProposal), 'proposal_threshold'),
          quorum_votes: toU64String(config.communityVoteThreshold.value ?? 0, 'quorum_votes'),
          execution_delay: config.minInstructionHoldUpTime,
        },
        { pubkey, slot: Math.max(slot, r?.slot ?? 0) },
      );
    this.governances.set(pubkey, {
      realm,
      proposalCount: gov.proposalCount,
      baseVotingTime: config.baseVotingTime,
      build,
      slot,
    });
    const rows = [build(this.realms.get(realm))];
    // Proposals already seen depend on this governance's voting time and proposal count.
    for (const p of this.proposals.values()) if (p.governance === pubkey) rows.push(p.build());
    return rows;
  }

  private tokenOwnerRecord(pubkey: string, record: TokenOwnerRecord): DecodedRow[] {
    this.owners.set(pubkey, record.governingTokenOwner.toBase58());
    const rows: DecodedRow[] = [];
    for (const p of this.proposals.values()) if (p.tokenOwnerRecord === pubkey) rows.push(p.build());
    return rows;
  }

  private proposalIndex(pubkey: string, governance: string, mint: string): number | null {
    const gov = this.governances.get(governance);
    if (gov === undefined) return null;
    // +1: a new proposal account can arrive before its governance's incremented count.
    for (let i = Math.min(gov.proposalCount + 1, 4096) - 1; i >= 0; i--)
      if (proposalAddress(this.programId, governance, mint, i) === pubkey) return i;
    return null;
  }

  private proposal(pubkey: string, p: Proposal, slot: number): DecodedRow[] {
    const governance = p.governance.toBase58();
    if (!this.watch.admits(pubkey, governance, this.governances.get(governance)?.realm)) return [];
    const tokenOwnerRecord = p.tokenOwnerRecord.toBase58();
    const mint = p.governingTokenMint.toBase58();
    const known = this.proposals.get(pubkey);
    let index: number | null = null;
    const build = (): DecodedRow => {
      index ??= this.proposalIndex(pubkey, governance, mint);
      const startsAt = num(p.votingAt) ?? num(p.startVotingAt) ?? num(p.draftAt) ?? 0;
      const votingTime = p.maxVotingTime ?? this.governances.get(governance)?.baseVotingTime ?? 0;
      const endsAt = num(p.votingCompletedAt) ?? startsAt + votingTime;
      const executedAt = num(p.executingAt) ?? (p.state === ProposalState.Completed ? num(p.closedAt) : null);
      return decodedRow(
        'proposals',
        {
          pubkey,
          governance_pubkey: governance,
          // V2 proposals are PDAs of their index; otherwise (V3 seeds) the draft time stands in.
          proposal_id: index ?? num(p.draftAt) ?? 0,
          proposer: this.owners.get(tokenOwnerRecord) ?? tokenOwnerRecord,
          title: p.name.slice(0, 255),
          description_uri: p.descriptionLink === '' ? null : p.descriptionLink.slice(0, 500),
          votes_for: toU64String(u64Of(p.getYesVoteCount()), 'votes_for'),
          votes_against: toU64String(u64Of(p.getNoVoteCount()), 'votes_against'),
          state: PROPOSAL_STATE_MAP[p.state],
          voting_starts_at: toIsoTimestamp(startsAt),
          voting_ends_at: toIsoTimestamp(endsAt),
          execution_time: executedAt === null ? null : toIsoTimestamp(executedAt),
          created_slot: known?.createdSlot ?? slot,
        },
        { pubkey, slot },
      );
    };
    const info = { build, governance, tokenOwnerRecord, createdSlot: known?.createdSlot ?? slot };
    this.proposals.set(pubkey, info);
    return [build()];
  }

  private voteRecord(pubkey: string, v: VoteRecord, slot: number): DecodedRow[] {
    const proposal = v.proposal.toBase58();
    const governance = this.proposals.get(proposal)?.governance;
    if (
      !this.watch.admits(
        pubkey,
        proposal,
        governance,
        governance === undefined ? undefined : this.governances.get(governance)?.realm,
      )
    )
      return [];
    const support = v.vote !== undefined ? v.vote.voteType === VoteKind.Approve : (v.voteWeight?.yes.gtn(0) ?? false);
    const weight = v.voterWeight ?? (v.voteWeight !== undefined ? v.voteWeight.yes.add(v.voteWeight.no) : undefined);
    const row = {
      pubkey,
      proposal_pubkey: proposal,
      voter: v.governingTokenOwner.toBase58(),
      support,
      vote_weight: toU64String(u64Of(weight ?? 0), 'vote_weight'),
    };
    const seen = this.voteSignatures.get(pubkey);
    if (seen !== undefined) return [decodedRow('votes', { ...row, ...seen })];
    this.voteRecords.set(pubkey, { row, slot });
    return [];
  }

  decodeTransaction(tx: TransactionInput): DecodedRow[] {
    const instructions = programInstructions(tx, this.programId);
    if (instructions.length === 0) return [];
    const rows: DecodedRow[] = [];
    let watched = this.watch.all;
    let firstName: string | null = null;
    for (const ix of instructions) {
      const code = ix.data[0];
      if (code === undefined) throw new DecodeError('empty SPL Governance instruction', { signature: tx.signature });
      const name = GovernanceInstruction[code];
      if (name === undefined) {
        this.stats.unknown({
          programId: this.programId,
          signature: tx.signature,
          kind: 'instruction',
          discriminator: code.toString(16).padStart(2, '0'),
        });
        continue;
      }
      firstName ??= name;
      if (code === GovernanceInstruction.CastVote) {
        // Accounts: realm, governance, proposal, proposal owner record, voter record, authority, vote record, …
        const [realm, governance, proposal] = ix.accounts;
        if (!this.watch.admits(realm, governance, proposal)) continue;
        watched = true;
        const voteRecord = ix.accounts[6];
        if (voteRecord === undefined || !succeeded(tx)) continue;
        const at = { signature: tx.signature, slot: tx.slot };
        this.voteSignatures.set(voteRecord, at);
        const pending = this.voteRecords.get(voteRecord);
        if (pending !== undefined) {
          this.voteRecords.delete(voteRecord);
          rows.push(decodedRow('votes', { ...pending.row, ...at }));
        }
      } else if (code === GovernanceInstruction.ExecuteTransaction) {
        // Accounts: governance, proposal, proposal transaction, then the instruction's own accounts.
        const [governance, proposal] = ix.accounts;
        if (proposal === undefined) continue;
        if (
          !this.watch.admits(
            governance,
            proposal,
            governance === undefined ? undefined : this.governances.get(governance)?.realm,
          )
        )
          continue;
        watched = true;
        rows.push(
          decodedRow('executions', {
            proposal_pubkey: proposal,
            executor: tx.accountKeys[0] ?? '',
            signature: tx.signature,
            slot: tx.slot,
            success: succeeded(tx),
            error_message: succeeded(tx) ? null : JSON.stringify(tx.err),
          }),
        );
      } else if (this.watch.admits(...ix.accounts.slice(0, 3))) {
        watched = true;
      }
    }
    if (!watched) return [];
    return [transactionRow(tx, this.programId, firstName), ...rows];
  }
}

export function createSplGovernanceDecoder(options: DecoderOptions = {}): SplGovernanceDecoder {
  return new SplGovernanceDecoder(options);
}

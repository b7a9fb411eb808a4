// SPL Governance's decoder. Not an Anchor program: an account's type is its first byte, an
// instruction's its first byte. Layouts are the borsh schemas of @solana/spl-governance, used as
// published. Realm (V1/V2), Governance (V1/V2, any governed kind), TokenOwnerRecord, Proposal and
// VoteRecord accounts, and the CastVote / ExecuteTransaction instructions.
import { PublicKey } from '@solana/web3.js';
import type { ProposalState } from '@solana/spl-governance';
import {
  GovernanceAccountParser,
  GovernanceAccountType,
  GovernanceInstruction,
  Governance,
  Proposal,
  Realm,
  TokenOwnerRecord,
  VoteKind,
  VoteRecord,
  getAccountTypes,
} from '@solana/spl-governance';
import { programInstructions, u64Of, type DecodeStats } from '../events.ts';
import { succeeded } from '../transactions.ts';
import { DecodeError, type TransactionInput } from '../types.ts';

export const SPL_GOVERNANCE_PROGRAM_ID = 'GovER5Lthms3bLBqWub97yVrMmEogzX7xNjdXpPPCVZw';

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

/** A unix time the program stores (BN / number / absent) as seconds, or null. */
function seconds(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return Number(u64Of(value));
}

export interface RealmAccount {
  readonly kind: 'realm';
  readonly communityMint: string;
  readonly authority: string | null;
}

export interface GovernanceAccount {
  readonly kind: 'governance';
  readonly realm: string;
  readonly proposalCount: number;
  readonly baseVotingTime: number;
  readonly minCommunityTokensToCreateProposal: bigint;
  /** The community yes-vote threshold's value (a percentage, or a quorum), 0 when disabled. */
  readonly communityVoteThreshold: number;
  readonly minInstructionHoldUpTime: number;
}

export interface TokenOwnerRecordAccount {
  readonly kind: 'tokenOwnerRecord';
  readonly owner: string;
}

export interface ProposalAccount {
  readonly kind: 'proposal';
  readonly governance: string;
  readonly tokenOwnerRecord: string;
  readonly mint: string;
  readonly name: string;
  readonly descriptionLink: string;
  readonly yes: bigint;
  readonly no: bigint;
  readonly state: ProposalState;
  readonly draftAt: number | null;
  readonly startVotingAt: number | null;
  readonly votingAt: number | null;
  readonly votingCompletedAt: number | null;
  readonly executingAt: number | null;
  readonly closedAt: number | null;
  readonly maxVotingTime: number | null;
}

export interface VoteRecordAccount {
  readonly kind: 'voteRecord';
  readonly proposal: string;
  readonly voter: string;
  readonly support: boolean;
  readonly weight: bigint;
}

export type GovernanceProgramAccount =
  RealmAccount | GovernanceAccount | TokenOwnerRecordAccount | ProposalAccount | VoteRecordAccount;

export interface CastVote {
  readonly kind: 'castVote';
  readonly realm: string | undefined;
  readonly governance: string | undefined;
  readonly proposal: string;
  readonly voteRecord: string;
}

export interface ExecuteTransaction {
  readonly kind: 'execute';
  readonly governance: string | undefined;
  readonly proposal: string;
}

/** Any other instruction, kept for the watch list (its first three accounts name realm/governance/proposal). */
export interface OtherInstruction {
  readonly kind: 'other';
  readonly accounts: readonly string[];
}

export interface GovernanceTransaction {
  readonly firstName: string | null;
  readonly succeeded: boolean;
  readonly signer: string;
  readonly instructions: readonly (CastVote | ExecuteTransaction | OtherInstruction)[];
}

export class GovernanceDecoder {
  constructor(
    readonly programId: string,
    private readonly stats: DecodeStats,
  ) {}

  decodeAccount(pubkey: string, data: Uint8Array): GovernanceProgramAccount | null {
    if (data.length === 0) return null;
    const type = data[0] ?? 0;
    if (type === GovernanceAccountType.Uninitialized) return null;
    if (!ALL_TYPES.has(type)) {
      this.stats.unknown({
        programId: this.programId,
        pubkey,
        kind: 'account',
        discriminator: type.toString(16).padStart(2, '0'),
      });
      return null;
    }
    try {
      if (KINDS.realm.has(type)) return realm(parse<Realm>(Realm, pubkey, data));
      if (KINDS.governance.has(type)) return governance(parse<Governance>(Governance, pubkey, data));
      if (KINDS.tokenOwnerRecord.has(type))
        return {
          kind: 'tokenOwnerRecord',
          owner: parse<TokenOwnerRecord>(TokenOwnerRecord, pubkey, data).governingTokenOwner.toBase58(),
        };
      if (KINDS.proposal.has(type)) return proposal(parse<Proposal>(Proposal, pubkey, data));
      if (KINDS.voteRecord.has(type)) return voteRecord(parse<VoteRecord>(VoteRecord, pubkey, data));
    } catch (err) {
      throw new DecodeError(`SPL Governance account type ${type}: ${(err as Error).message}`, { pubkey });
    }
    return null;
  }

  decodeTransaction(tx: TransactionInput): GovernanceTransaction | null {
    const found = programInstructions(tx, this.programId);
    if (found.length === 0) return null;
    const instructions: (CastVote | ExecuteTransaction | OtherInstruction)[] = [];
    let firstName: string | null = null;
    for (const ix of found) {
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
        const [realmKey, governanceKey, proposalKey] = ix.accounts;
        const voteRecordKey = ix.accounts[6];
        if (proposalKey !== undefined && voteRecordKey !== undefined)
          instructions.push({
            kind: 'castVote',
            realm: realmKey,
            governance: governanceKey,
            proposal: proposalKey,
            voteRecord: voteRecordKey,
          });
      } else if (code === GovernanceInstruction.ExecuteTransaction) {
        // Accounts: governance, proposal, proposal transaction, then the instruction's own accounts.
        const [governanceKey, proposalKey] = ix.accounts;
        if (proposalKey !== undefined)
          instructions.push({ kind: 'execute', governance: governanceKey, proposal: proposalKey });
      } else {
        instructions.push({ kind: 'other', accounts: ix.accounts.slice(0, 3) });
      }
    }
    return { firstName, succeeded: succeeded(tx), signer: tx.accountKeys[0] ?? '', instructions };
  }
}

function realm(r: Realm): RealmAccount {
  return { kind: 'realm', communityMint: r.communityMint.toBase58(), authority: r.authority?.toBase58() ?? null };
}

function governance(g: Governance): GovernanceAccount {
  const config = g.config;
  return {
    kind: 'governance',
    realm: g.realm.toBase58(),
    proposalCount: g.proposalCount,
    baseVotingTime: config.baseVotingTime,
    minCommunityTokensToCreateProposal: u64Of(config.minCommunityTokensToCreateProposal),
    communityVoteThreshold: config.communityVoteThreshold.value ?? 0,
    minInstructionHoldUpTime: config.minInstructionHoldUpTime,
  };
}

function proposal(p: Proposal): ProposalAccount {
  return {
    kind: 'proposal',
    governance: p.governance.toBase58(),
    tokenOwnerRecord: p.tokenOwnerRecord.toBase58(),
    mint: p.governingTokenMint.toBase58(),
    name: p.name,
    descriptionLink: p.descriptionLink,
    yes: u64Of(p.getYesVoteCount()),
    no: u64Of(p.getNoVoteCount()),
    state: p.state,
    draftAt: seconds(p.draftAt),
    startVotingAt: seconds(p.startVotingAt),
    votingAt: seconds(p.votingAt),
    votingCompletedAt: seconds(p.votingCompletedAt),
    executingAt: seconds(p.executingAt),
    closedAt: seconds(p.closedAt),
    maxVotingTime: p.maxVotingTime ?? null,
  };
}

function voteRecord(v: VoteRecord): VoteRecordAccount {
  const support = v.vote !== undefined ? v.vote.voteType === VoteKind.Approve : (v.voteWeight?.yes.gtn(0) ?? false);
  const weight = v.voterWeight ?? (v.voteWeight !== undefined ? v.voteWeight.yes.add(v.voteWeight.no) : undefined);
  return {
    kind: 'voteRecord',
    proposal: v.proposal.toBase58(),
    voter: v.governingTokenOwner.toBase58(),
    support,
    weight: u64Of(weight ?? 0),
  };
}

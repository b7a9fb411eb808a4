// SPL Governance activity: one realm with a community mint, one governance, members depositing
// tokens; proposals are created, collect votes, are finalized (passing or failing), and the passed
// ones execute (occasionally failing). Accounts and instruction data are serialized with the
// borsh schemas of @solana/spl-governance (program version 2 instruction layouts).
import BN from 'bn.js';
import { serialize } from 'borsh';
import { PublicKey } from '@solana/web3.js';
import {
  CastVoteArgs,
  CreateGovernanceArgs,
  CreateProposalArgs,
  CreateRealmArgs,
  DepositGoverningTokensArgs,
  ExecuteTransactionArgs,
  FinalizeVoteArgs,
  Governance,
  GovernanceAccountType,
  GovernanceConfig,
  GoverningTokenConfigArgs,
  GoverningTokenType,
  MintMaxVoteWeightSource,
  OptionVoteResult,
  Proposal,
  ProposalOption,
  ProposalState,
  Realm,
  RealmConfig,
  RealmConfigArgs,
  TokenOwnerRecord,
  Vote,
  VoteChoice,
  VoteKind,
  VoteRecord,
  VoteThreshold,
  VoteThresholdType,
  VoteTipping,
  VoteType,
  getGovernanceAccountSchema,
  getGovernanceInstructionSchema,
} from '@solana/spl-governance';
import { nativeTreasuryAddress, proposalAddress } from '../../programs/spl-governance.ts';
import type { SimAccountWrite, SimInstruction, SimTransaction } from '../types.ts';
import type { Prng } from './prng.ts';
import { SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID, meta, rentExempt, singleInstructionTransaction } from './runtime.ts';
import type { ActivityContext, ProgramActor } from './actor.ts';

const ACCOUNTS = getGovernanceAccountSchema(2);
const INSTRUCTIONS = getGovernanceInstructionSchema(2);
const VOTING_TIME = 3 * 86_400;

interface Member {
  readonly wallet: string;
  readonly record: string;
  readonly deposit: bigint;
}

interface OpenProposal {
  readonly pubkey: string;
  readonly proposal: Proposal;
  readonly voters: Set<string>;
  readonly proposer: Member;
}

const bn = (v: bigint | number): BN => new BN(v.toString());

function pda(programId: string, ...seeds: (string | Buffer)[]): string {
  return PublicKey.findProgramAddressSync(
    seeds.map((s) => (typeof s === 'string' ? new PublicKey(s).toBuffer() : s)),
    new PublicKey(programId),
  )[0].toBase58();
}

export class GovernanceActor implements ProgramActor {
  readonly name = 'spl-governance';
  private readonly authority: string;
  private readonly mint: string;
  private readonly realm: string;
  private readonly governance: string;
  private readonly governed: string;
  private readonly members: Member[] = [];
  private readonly config: GovernanceConfig;
  private proposalCount = 0;
  private readonly open: OpenProposal[] = [];
  private readonly passed: OpenProposal[] = [];

  constructor(
    readonly programId: string,
    rng: Prng,
  ) {
    this.authority = rng.pubkey();
    this.mint = rng.pubkey();
    this.governed = rng.pubkey();
    this.realm = pda(programId, Buffer.from('governance'), Buffer.from('solstream DAO'));
    this.governance = pda(programId, Buffer.from('account-governance'), this.realm, this.governed);
    for (let i = 0; i < 6; i++) {
      const wallet = rng.pubkey();
      this.members.push({
        wallet,
        record: pda(programId, Buffer.from('governance'), this.realm, this.mint, wallet),
        deposit: rng.bigint(10n ** 6n, 10n ** 12n),
      });
    }
    const threshold = new VoteThreshold({ type: VoteThresholdType.YesVotePercentage, value: 60 });
    const disabled = new VoteThreshold({ type: VoteThresholdType.Disabled });
    this.config = new GovernanceConfig({
      communityVoteThreshold: threshold,
      minCommunityTokensToCreateProposal: bn(10n ** 6n),
      minInstructionHoldUpTime: 0,
      baseVotingTime: VOTING_TIME,
      communityVoteTipping: VoteTipping.Strict,
      minCouncilTokensToCreateProposal: bn(1),
      councilVoteThreshold: threshold,
      councilVetoVoteThreshold: disabled,
      communityVetoVoteThreshold: disabled,
      councilVoteTipping: VoteTipping.Strict,
      votingCoolOffTime: 0,
      depositExemptProposalCount: 10,
    });
  }

  private write(pubkey: string, value: object): SimAccountWrite {
    const data = Buffer.from(serialize(ACCOUNTS, value));
    return { pubkey, owner: this.programId, lamports: rentExempt(data.length), data };
  }

  private ix(accounts: SimInstruction['accounts'], args: object): SimInstruction {
    return { programId: this.programId, accounts, data: Buffer.from(serialize(INSTRUCTIONS, args)) };
  }

  private governanceWrite(): SimAccountWrite {
    const gov = new Governance({
      accountType: GovernanceAccountType.GovernanceV2,
      realm: new PublicKey(this.realm),
      governedAccount: new PublicKey(this.governed),
      config: this.config,
      proposalCount: this.proposalCount,
      activeProposalCount: bn(this.open.length),
      reserved: new Uint8Array(120),
    });
    return this.write(this.governance, gov);
  }

  setup(): SimTransaction[] {
    const realmValue = new Realm({
      communityMint: new PublicKey(this.mint),
      reserved: new Uint8Array(6),
      config: new RealmConfig({
        councilMint: null as unknown as undefined,
        communityMintMaxVoteWeightSource: MintMaxVoteWeightSource.FULL_SUPPLY_FRACTION,
        minCommunityTokensToCreateGovernance: bn(10n ** 6n),
        reserved: new Uint8Array(6),
        useCommunityVoterWeightAddin: false,
        useMaxCommunityVoterWeightAddin: false,
      }),
      votingProposalCount: 0,
      authority: new PublicKey(this.authority),
      name: 'solstream DAO',
    });
    realmValue.accountType = GovernanceAccountType.RealmV2;
    const tokenConfig = new GoverningTokenConfigArgs({
      useVoterWeightAddin: false,
      useMaxVoterWeightAddin: false,
      tokenType: GoverningTokenType.Liquid,
    });
    const holding = pda(this.programId, Buffer.from('governance'), this.realm, this.mint);
    const txs: SimTransaction[] = [
      singleInstructionTransaction({
        feePayer: this.authority,
        instruction: this.ix(
          [
            meta(this.realm, false, true),
            meta(this.authority),
            meta(this.mint),
            meta(holding, false, true),
            meta(this.authority, true, true),
            meta(SYSTEM_PROGRAM_ID),
            meta(TOKEN_PROGRAM_ID),
          ],
          new CreateRealmArgs({
            name: 'solstream DAO',
            configArgs: new RealmConfigArgs({
              useCouncilMint: false,
              minCommunityTokensToCreateGovernance: bn(10n ** 6n),
              communityMintMaxVoteWeightSource: MintMaxVoteWeightSource.FULL_SUPPLY_FRACTION,
              useCommunityVoterWeightAddin: false,
              useMaxCommunityVoterWeightAddin: false,
              communityTokenConfigArgs: tokenConfig,
              councilTokenConfigArgs: tokenConfig,
            }),
          }),
        ),
        units: 35_000,
        body: (b) => b.log('GOVERNANCE-INSTRUCTION: CreateRealm'),
        accountWrites: [this.write(this.realm, realmValue)],
      }),
    ];
    for (const m of this.members) {
      const record = new TokenOwnerRecord({
        realm: new PublicKey(this.realm),
        governingTokenMint: new PublicKey(this.mint),
        governingTokenOwner: new PublicKey(m.wallet),
        governingTokenDepositAmount: bn(m.deposit),
        unrelinquishedVotesCount: 0,
        totalVotesCount: 0,
        outstandingProposalCount: 0,
        reserved: new Uint8Array(6),
        governanceDelegate: null as unknown as undefined,
        version: 1,
      });
      record.accountType = GovernanceAccountType.TokenOwnerRecordV2;
      txs.push(
        singleInstructionTransaction({
          feePayer: m.wallet,
          instruction: this.ix(
            [
              meta(this.realm),
              meta(holding, false, true),
              meta(m.wallet, false, true),
              meta(m.wallet, true),
              meta(m.wallet, true),
              meta(m.record, false, true),
              meta(m.wallet, true, true),
              meta(SYSTEM_PROGRAM_ID),
              meta(TOKEN_PROGRAM_ID),
            ],
            new DepositGoverningTokensArgs({ amount: bn(m.deposit) }),
          ),
          units: 28_000,
          body: (b) =>
            b
              .log('GOVERNANCE-INSTRUCTION: DepositGoverningTokens')
              .tokenTransfer(m.wallet, this.mint, holding, m.wallet, m.deposit),
          accountWrites: [this.write(m.record, record)],
        }),
      );
    }
    const first = this.members[0];
    if (first !== undefined) {
      txs.push(
        singleInstructionTransaction({
          feePayer: first.wallet,
          instruction: this.ix(
            [
              meta(this.realm),
              meta(this.governance, false, true),
              meta(this.governed),
              meta(first.record),
              meta(first.wallet, true, true),
              meta(SYSTEM_PROGRAM_ID),
              meta(first.wallet, true),
            ],
            new CreateGovernanceArgs({ config: this.config }),
          ),
          units: 30_000,
          body: (b) => b.log('GOVERNANCE-INSTRUCTION: CreateGovernance'),
          accountWrites: [this.governanceWrite()],
        }),
      );
    }
    return txs;
  }

  snapshot(): () => void {
    // Votes and state changes mutate a proposal and its options in place (their BN values are
    // replaced, never changed), so proposals, options and voter sets are copied one level deep.
    const copy = (p: OpenProposal): OpenProposal => {
      const proposal = Object.assign(
        Object.create(Object.getPrototypeOf(p.proposal) as object) as Proposal,
        p.proposal,
      );
      proposal.options = p.proposal.options.map((o) =>
        Object.assign(Object.create(Object.getPrototypeOf(o) as object) as ProposalOption, o),
      );
      return { pubkey: p.pubkey, proposal, voters: new Set(p.voters), proposer: p.proposer };
    };
    const proposalCount = this.proposalCount;
    const open = this.open.map(copy);
    const passed = this.passed.map(copy);
    return () => {
      this.proposalCount = proposalCount;
      this.open.splice(0, this.open.length, ...open.map(copy));
      this.passed.splice(0, this.passed.length, ...passed.map(copy));
    };
  }

  next(ctx: ActivityContext): SimTransaction {
    const { rng } = ctx;
    const votable = this.open.filter((p) => p.voters.size < this.members.length);
    const roll = rng.next();
    if (this.passed.length > 0 && roll < 0.2) return this.execute(ctx, this.passed.shift() as OpenProposal);
    if (this.open.length === 0 || (this.open.length < 3 && roll < 0.35)) return this.createProposal(ctx);
    const open = rng.pick(this.open);
    if (votable.includes(open) && (open.voters.size < 2 || rng.chance(0.7))) return this.vote(ctx, open);
    return this.finalize(ctx, open);
  }

  private proposalWrite(p: OpenProposal): SimAccountWrite {
    return this.write(p.pubkey, p.proposal);
  }

  private createProposal(ctx: ActivityContext): SimTransaction {
    const proposer = ctx.rng.pick(this.members);
    const index = this.proposalCount;
    this.proposalCount += 1;
    const pubkey = proposalAddress(this.programId, this.governance, this.mint, index);
    const name = `Proposal ${index + 1}: ${ctx.rng.pick(['fund the grants round', 'raise the fee', 'add a market', 'rotate the multisig', 'renew the audit'])}`;
    const link = `https://forum.example.org/t/${index + 1}`;
    const proposal = new Proposal({
      accountType: GovernanceAccountType.ProposalV2,
      governance: new PublicKey(this.governance),
      governingTokenMint: new PublicKey(this.mint),
      state: ProposalState.Voting,
      tokenOwnerRecord: new PublicKey(proposer.record),
      signatoriesCount: 1,
      signatoriesSignedOffCount: 1,
      descriptionLink: link,
      name,
      yesVotesCount: bn(0),
      noVotesCount: bn(0),
      instructionsExecutedCount: 0,
      instructionsCount: 1,
      instructionsNextIndex: 1,
      voteType: VoteType.SINGLE_CHOICE,
      options: [
        new ProposalOption({
          label: 'Approve',
          voteWeight: bn(0),
          voteResult: OptionVoteResult.None,
          instructionsExecutedCount: 0,
          instructionsCount: 1,
          instructionsNextIndex: 1,
        }),
      ],
      denyVoteWeight: bn(0),
      reserved1: 0,
      abstainVoteWeight: null as unknown as undefined,
      startVotingAt: null,
      maxVotingTime: null,
      draftAt: bn(ctx.now),
      signingOffAt: bn(ctx.now),
      votingAt: bn(ctx.now),
      votingAtSlot: null,
      votingCompletedAt: null,
      executingAt: null,
      closedAt: null,
      executionFlags: 0,
      maxVoteWeight: null,
      voteThreshold: null,
      vetoVoteWeight: bn(0),
    });
    (proposal as unknown as { reserved: Uint8Array }).reserved = new Uint8Array(64);
    const open: OpenProposal = { pubkey, proposal, voters: new Set(), proposer };
    this.open.push(open);
    return singleInstructionTransaction({
      feePayer: proposer.wallet,
      instruction: this.ix(
        [
          meta(this.realm),
          meta(pubkey, false, true),
          meta(this.governance, false, true),
          meta(proposer.record, false, true),
          meta(this.mint),
          meta(proposer.wallet, true),
          meta(proposer.wallet, true, true),
          meta(SYSTEM_PROGRAM_ID),
        ],
        new CreateProposalArgs({
          name,
          descriptionLink: link,
          governingTokenMint: new PublicKey(this.mint),
          voteType: VoteType.SINGLE_CHOICE,
          options: ['Approve'],
          useDenyOption: true,
          proposalSeed: null as unknown as PublicKey,
        }),
      ),
      units: 45_000,
      body: (b) => b.log('GOVERNANCE-INSTRUCTION: CreateProposal'),
      accountWrites: [this.proposalWrite(open), this.governanceWrite()],
    });
  }

  private vote(ctx: ActivityContext, p: OpenProposal): SimTransaction {
    const voter = ctx.rng.pick(this.members.filter((m) => !p.voters.has(m.wallet)));
    p.voters.add(voter.wallet);
    const approve = ctx.rng.chance(0.6);
    const weight = ctx.extremeAmounts ? 2n ** 64n - 1n : voter.deposit;
    const option = p.proposal.options[0];
    if (approve && option !== undefined)
      option.voteWeight = option.voteWeight.add(bn(ctx.extremeAmounts ? 0n : weight));
    if (!approve)
      p.proposal.denyVoteWeight = (p.proposal.denyVoteWeight ?? bn(0)).add(bn(ctx.extremeAmounts ? 0n : weight));
    const vote = new Vote({
      voteType: approve ? VoteKind.Approve : VoteKind.Deny,
      approveChoices: approve ? [new VoteChoice({ rank: 0, weightPercentage: 100 })] : (null as unknown as undefined),
      deny: null as unknown as undefined,
      veto: null as unknown as undefined,
    });
    const recordAddress = pda(this.programId, Buffer.from('governance'), p.pubkey, voter.record);
    const record = new VoteRecord({
      accountType: GovernanceAccountType.VoteRecordV2,
      proposal: new PublicKey(p.pubkey),
      governingTokenOwner: new PublicKey(voter.wallet),
      isRelinquished: false,
      voteWeight: undefined,
      voterWeight: bn(weight),
      vote,
    });
    return singleInstructionTransaction({
      feePayer: voter.wallet,
      instruction: this.ix(
        [
          meta(this.realm),
          meta(this.governance, false, true),
          meta(p.pubkey, false, true),
          meta(p.proposer.record, false, true),
          meta(voter.record, false, true),
          meta(voter.wallet, true),
          meta(recordAddress, false, true),
          meta(this.mint),
          meta(voter.wallet, true, true),
          meta(SYSTEM_PROGRAM_ID),
        ],
        new CastVoteArgs({ yesNoVote: undefined, vote }),
      ),
      units: 38_000,
      body: (b) => b.log('GOVERNANCE-INSTRUCTION: CastVote'),
      accountWrites: [this.write(recordAddress, record), this.proposalWrite(p)],
    });
  }

  private finalize(ctx: ActivityContext, p: OpenProposal): SimTransaction {
    this.open.splice(this.open.indexOf(p), 1);
    const yes = p.proposal.options[0]?.voteWeight ?? bn(0);
    const no = p.proposal.denyVoteWeight ?? bn(0);
    const passed = yes.gt(no) && yes.gtn(0);
    p.proposal.state = passed ? ProposalState.Succeeded : ProposalState.Defeated;
    p.proposal.votingCompletedAt = bn(ctx.now);
    const option = p.proposal.options[0];
    if (option !== undefined) option.voteResult = passed ? OptionVoteResult.Succeeded : OptionVoteResult.Defeated;
    if (passed) this.passed.push(p);
    return singleInstructionTransaction({
      feePayer: p.proposer.wallet,
      instruction: this.ix(
        [
          meta(this.realm),
          meta(this.governance, false, true),
          meta(p.pubkey, false, true),
          meta(p.proposer.record, false, true),
          meta(this.mint),
        ],
        new FinalizeVoteArgs(),
      ),
      units: 21_000,
      body: (b) => b.log('GOVERNANCE-INSTRUCTION: FinalizeVote'),
      accountWrites: [this.proposalWrite(p), this.governanceWrite()],
    });
  }

  private execute(ctx: ActivityContext, p: OpenProposal): SimTransaction {
    const proposalTransaction = pda(
      this.programId,
      Buffer.from('governance'),
      p.pubkey,
      Buffer.alloc(1),
      Buffer.alloc(2),
    );
    const treasury = nativeTreasuryAddress(this.programId, this.governance);
    const failed = ctx.rng.chance(0.15);
    const ix = this.ix(
      [
        meta(this.governance),
        meta(p.pubkey, false, true),
        meta(proposalTransaction, false, true),
        meta(treasury, false, true),
        meta(SYSTEM_PROGRAM_ID),
      ],
      new ExecuteTransactionArgs(),
    );
    if (failed) {
      // The governed instruction fails: the transaction fails and changes nothing; it is retried later.
      this.passed.push(p);
      return {
        feePayer: p.proposer.wallet,
        instructions: [ix],
        logMessages: [
          `Program ${this.programId} invoke [1]`,
          'Program log: GOVERNANCE-INSTRUCTION: ExecuteTransaction',
          `Program ${SYSTEM_PROGRAM_ID} invoke [2]`,
          'Transfer: insufficient lamports 0, need 1000000',
          `Program ${SYSTEM_PROGRAM_ID} failed: custom program error: 0x1`,
          `Program ${this.programId} consumed 9000 of 200000 compute units`,
          `Program ${this.programId} failed: custom program error: 0x1`,
        ],
        accountWrites: [],
        err: { InstructionError: [0, { Custom: 1 }] },
      };
    }
    p.proposal.state = ProposalState.Completed;
    p.proposal.executingAt = bn(ctx.now);
    p.proposal.closedAt = bn(ctx.now);
    p.proposal.instructionsExecutedCount = 1;
    return singleInstructionTransaction({
      feePayer: p.proposer.wallet,
      instruction: ix,
      units: 25_000,
      body: (b) =>
        b.log('GOVERNANCE-INSTRUCTION: ExecuteTransaction').invoke(
          {
            programId: SYSTEM_PROGRAM_ID,
            accounts: [meta(treasury, true, true), meta(p.proposer.wallet, false, true)],
            data: Buffer.from([2, 0, 0, 0, 64, 66, 15, 0, 0, 0, 0, 0]),
          },
          150,
        ),
      accountWrites: [this.proposalWrite(p)],
    });
  }
}

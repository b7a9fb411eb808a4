"""SPL Governance (program version 2 layouts), written by hand from the program's published
account and instruction layouts. Not an Anchor program: an account's first byte is its type, an
instruction's first byte its index.

Accounts (V2): RealmV2 (16) at ["governance", name]; TokenOwnerRecordV2 (17) at
["governance", realm, mint, owner]; GovernanceV2 (18) at ["account-governance", realm, governed];
ProposalV2 (14) at ["governance", governance, mint, index u32 LE]; ProposalTransactionV2 (13) at
["governance", proposal, option u8, index u16 LE]; VoteRecordV2 (12) at
["governance", proposal, token_owner_record]; the native treasury ["native-treasury", governance]
is a system account the governance signs for.

A proposal is created (Draft), gets one transaction (a treasury transfer), is signed off by its
owner (Voting), collects votes — each CastVote creates a VoteRecordV2 and adds the voter's
deposit to the proposal's yes or deny weight — and ends Succeeded or Defeated, as soon as the
outcome is certain (strict tipping) or by FinalizeVote once the voting time has passed. A
succeeded proposal's transaction is executed (ExecuteTransaction); a transfer larger than the
treasury holds fails, the failure is the system program's, and the proposal stays Succeeded.
"""

from borsh import Writer
from keys import RENT_SYSVAR, SYSTEM_PROGRAM, TOKEN_PROGRAM, associated_token_address, pda
from runtime import Instruction, Invocation, PlannedTransaction, Step
import spl_token

PROGRAM_ID = "GovER5Lthms3bLBqWub97yVrMmEogzX7xNjdXpPPCVZw"
REALM_NAME = "Independent Ledger DAO"
SUPPLY_FRACTION_BASE = 10_000_000_000
VOTING_TIME = 120            # seconds of the cluster's virtual clock (300 slots)
YES_THRESHOLD_PCT = 60

# Account types
VOTE_RECORD_V2, PROPOSAL_TRANSACTION_V2, PROPOSAL_V2 = 12, 13, 14
REALM_V2, TOKEN_OWNER_RECORD_V2, GOVERNANCE_V2 = 16, 17, 18
# Proposal states
DRAFT, VOTING, SUCCEEDED, EXECUTING, COMPLETED, DEFEATED = 0, 2, 3, 4, 5, 7
# Instructions
CREATE_REALM, DEPOSIT, CREATE_GOVERNANCE, CREATE_PROPOSAL = 0, 1, 4, 6
INSERT_TRANSACTION, SIGN_OFF, CAST_VOTE, FINALIZE_VOTE, EXECUTE_TRANSACTION = 9, 12, 13, 14, 16
CREATE_NATIVE_TREASURY = 25


def vote_threshold(w: Writer, kind: int, value: "int | None") -> None:
    """VoteThreshold: 0 YesVotePercentage(u8), 1 QuorumPercentage(u8), 2 Disabled."""
    w.u8(kind)
    if kind in (0, 1):
        w.u8(value)


def governance_config(w: Writer) -> None:
    vote_threshold(w, 0, YES_THRESHOLD_PCT)   # community_vote_threshold
    w.u64(1_000_000)                          # min_community_weight_to_create_proposal
    w.u32(0)                                  # transactions_hold_up_time
    w.u32(VOTING_TIME)                        # voting_base_time
    w.u8(0)                                   # community_vote_tipping: Strict
    vote_threshold(w, 0, YES_THRESHOLD_PCT)   # council_vote_threshold
    vote_threshold(w, 2, None)                # council_veto_vote_threshold: Disabled
    w.u64(1)                                  # min_council_weight_to_create_proposal
    w.u8(0)                                   # council_vote_tipping: Strict
    vote_threshold(w, 2, None)                # community_veto_vote_threshold: Disabled
    w.u32(0)                                  # voting_cool_off_time
    w.u8(10)                                  # deposit_exempt_proposal_count


class Actor:
    name = "spl-governance"

    def __init__(self, program_id: str, rng, world):
        self.program_id = program_id
        self.rng = rng
        self.world = world
        self.authority = world.new_wallet()
        self.mint = world.new_mint(6)
        self.realm = pda([b"governance", REALM_NAME.encode()], program_id)
        self.holding = pda([b"governance", self.realm, self.mint], program_id)
        self.governed = world.new_key()
        self.governance = pda([b"account-governance", self.realm, self.governed], program_id)
        self.treasury = pda([b"native-treasury", self.governance], program_id)
        self.members = []
        for _ in range(6):
            wallet = world.new_wallet()
            deposit = rng.between(10**6, 10**12)
            world.fund_token_account(wallet, self.mint, deposit)
            self.members.append({"wallet": wallet, "deposit": deposit, "votes": 0, "outstanding": 0,
                                 "record": pda([b"governance", self.realm, self.mint, wallet], program_id)})
        self.recipients = [world.new_wallet() for _ in range(3)]
        self.proposal_count = 0
        self.voting_count = 0
        self.proposals: list = []

    # --- account layouts --------------------------------------------------------------------

    def realm_data(self) -> bytes:
        w = Writer().u8(REALM_V2).pubkey(self.mint)
        w.u8(0).u8(0).zeros(6)                 # config: legacy1, legacy2, reserved
        w.u64(1_000_000)                       # min_community_weight_to_create_governance
        w.u8(0).u64(SUPPLY_FRACTION_BASE)      # community_mint_max_voter_weight_source: SupplyFraction(100%)
        w.option_pubkey(None)                  # council_mint
        w.zeros(6)                             # reserved
        w.u16(self.voting_count)               # legacy1 (voting proposal count)
        w.option_pubkey(self.authority)
        w.string(REALM_NAME)
        w.zeros(128)                           # reserved_v2
        return w.build()

    def governance_data(self) -> bytes:
        w = Writer().u8(GOVERNANCE_V2).pubkey(self.realm).pubkey(self.governed)
        w.u32(self.proposal_count)             # proposals_count
        governance_config(w)
        w.zeros(119)                           # reserved_v2
        w.u8(0)                                # required_signatories_count
        w.u64(sum(1 for p in self.proposals if p["state"] in (DRAFT, VOTING)))  # active_proposal_count
        return w.build()

    def token_owner_record_data(self, m: dict) -> bytes:
        w = Writer().u8(TOKEN_OWNER_RECORD_V2).pubkey(self.realm).pubkey(self.mint).pubkey(m["wallet"])
        w.u64(m["deposit"])
        w.u32(m["unrelinquished"] if "unrelinquished" in m else 0)
        w.u32(m["votes"])                      # total_votes_count
        w.u8(m["outstanding"])                 # outstanding_proposal_count
        w.u8(1)                                # version
        w.zeros(6)
        w.option_pubkey(None)                  # governance_delegate
        w.zeros(128)                           # reserved_v2
        return w.build()

    def proposal_data(self, p: dict) -> bytes:
        w = Writer().u8(PROPOSAL_V2).pubkey(self.governance).pubkey(self.mint).u8(p["state"])
        w.pubkey(p["owner"]["record"])
        w.u8(0).u8(0)                          # signatories_count, signatories_signed_off_count
        w.u8(0)                                # vote_type: SingleChoice
        w.u32(1)                               # options: one
        w.string("Approve").u64(p["yes"])
        w.u8({VOTING: 0, DRAFT: 0, SUCCEEDED: 1, COMPLETED: 1, EXECUTING: 1, DEFEATED: 2}[p["state"]])
        w.u16(p["executed"]).u16(p["tx_count"]).u16(p["tx_count"])
        w.option_u64(p["deny"])                # deny_vote_weight (the deny option is used)
        w.u8(0)                                # reserved1
        w.option_u64(None)                     # abstain_vote_weight
        w.option_u64(None)                     # start_voting_at
        w.i64(p["draft_at"])
        w.option(p.get("signing_off_at"), w.i64)
        w.option(p.get("voting_at"), w.i64)
        w.option_u64(p.get("voting_at_slot"))
        w.option(p.get("voting_completed_at"), w.i64)
        w.option(p.get("executing_at"), w.i64)
        w.option(p.get("closed_at"), w.i64)
        w.u8(0)                                # execution_flags: None
        w.option_u64(p.get("max_vote_weight"))
        w.option(None, w.u32)                  # max_voting_time
        if p.get("vote_threshold"):
            w.u8(1)
            vote_threshold(w, 0, YES_THRESHOLD_PCT)
        else:
            w.u8(0)
        w.zeros(64)                            # reserved
        w.string(p["name"]).string(p["link"])
        w.u64(0)                               # veto_vote_weight
        return w.build()

    def proposal_space(self, p: dict) -> int:
        """ProposalV2's size with every optional field set: the space it is created with."""
        full = {**p, "signing_off_at": 0, "voting_at": 0, "voting_at_slot": 0, "voting_completed_at": 0,
                "executing_at": 0, "closed_at": 0, "max_vote_weight": 0, "vote_threshold": True}
        return len(self.proposal_data(full))

    def proposal_transaction_data(self, p: dict) -> bytes:
        w = Writer().u8(PROPOSAL_TRANSACTION_V2).pubkey(p["address"]).u8(0).u16(0).u32(0)
        w.u32(1)                               # instructions: one
        w.pubkey(SYSTEM_PROGRAM)
        w.u32(2)
        w.pubkey(self.treasury).u8(1).u8(1)
        w.pubkey(p["recipient"]).u8(0).u8(1)
        w.bytes(Writer().u32(2).u64(p["amount"]).build())
        w.option(p.get("executed_at"), w.i64)
        w.u8(1 if p.get("executed_at") is not None else 0)  # execution_status: None / Success
        w.zeros(8)
        return w.build()

    def vote_record_data(self, p: dict, m: dict, approve: bool) -> bytes:
        w = Writer().u8(VOTE_RECORD_V2).pubkey(p["address"]).pubkey(m["wallet"]).u8(0).u64(m["deposit"])
        if approve:
            w.u8(0).u32(1).u8(0).u8(100)       # Approve([VoteChoice { rank: 0, weight_percentage: 100 }])
        else:
            w.u8(1)                            # Deny
        w.zeros(8)
        return w.build()

    # --- helpers ----------------------------------------------------------------------------

    def _put(self, inv: Invocation, pubkey: str, data: bytes, payer: "str | None" = None, space: int = 0) -> None:
        """Writes a program account, creating it with `space` bytes (its largest serialized size,
        rent paid by `payer`); a shorter serialization leaves zeros after it, as Borsh writing
        into the account's buffer does."""
        acc = inv.accounts.get(pubkey)
        if acc is None:
            spl_token.create_account(inv, payer, pubkey, max(space, len(data)), self.program_id)
            acc = inv.accounts.require(pubkey)
        if len(data) > len(acc.data):
            raise AssertionError(f"{pubkey}: {len(data)} bytes do not fit its {len(acc.data)}-byte account")
        acc.data = data + bytes(len(acc.data) - len(data))
        inv.accounts.put(pubkey, acc)

    def _step(self, accounts: list, data: bytes, units: int, log: str, handler) -> Step:
        def body(inv: Invocation) -> None:
            inv.log(f"GOVERNANCE-INSTRUCTION: {log}")
            handler(inv)
        return Step(Instruction(self.program_id, accounts, data), units, body)

    def max_vote_weight(self) -> int:
        return sum(m["deposit"] for m in self.members)

    # --- setup ------------------------------------------------------------------------------

    def setup(self) -> list:
        txs = [self.create_realm()]
        txs += [self.deposit(m) for m in self.members]
        txs.append(self.create_governance())
        txs.append(self.create_treasury())
        return txs

    def create_realm(self) -> PlannedTransaction:
        data = (Writer().u8(CREATE_REALM).string(REALM_NAME).u8(0).u64(1_000_000).u8(0).u64(SUPPLY_FRACTION_BASE)
                .u8(0).u8(0).build())
        accounts = [(self.realm, False, True), (self.authority, False, False), (self.mint, False, False),
                    (self.holding, False, True), (self.authority, True, True), (SYSTEM_PROGRAM, False, False),
                    (TOKEN_PROGRAM, False, False), (RENT_SYSVAR, False, False)]

        def handler(inv: Invocation) -> None:
            spl_token.create_account(inv, self.authority, self.holding, spl_token.TOKEN_ACCOUNT_SIZE, TOKEN_PROGRAM)
            spl_token.initialize_account3(inv, self.holding, self.mint, self.realm)
            self._put(inv, self.realm, self.realm_data(), self.authority)

        log = (f'CreateRealm {{ name: "{REALM_NAME}", config_args: RealmConfigArgs {{ use_council_mint: false, '
               'min_community_weight_to_create_governance: 1000000, community_mint_max_voter_weight_source: '
               'SupplyFraction(10000000000) } }')
        return PlannedTransaction(self.authority, [self._step(accounts, data, 24_000, log, handler)])

    def deposit(self, m: dict) -> PlannedTransaction:
        source = associated_token_address(m["wallet"], self.mint)
        accounts = [(self.realm, False, False), (self.holding, False, True), (source, False, True),
                    (m["wallet"], True, False), (m["wallet"], True, False), (m["record"], False, True),
                    (m["wallet"], True, True), (SYSTEM_PROGRAM, False, False), (TOKEN_PROGRAM, False, False),
                    (RENT_SYSVAR, False, False)]

        def handler(inv: Invocation) -> None:
            transfer = Instruction(TOKEN_PROGRAM, [(source, False, True), (self.holding, False, True),
                                                   (m["wallet"], True, False)],
                                   Writer().u8(3).u64(m["deposit"]).build())

            def token(t: Invocation) -> None:
                t.log("Instruction: Transfer")
                for key, delta in ((source, -m["deposit"]), (self.holding, m["deposit"])):
                    acc = t.accounts.require(key)
                    have = spl_token.parse_token_account(acc.data)["amount"]
                    acc.data = acc.data[:64] + (have + delta).to_bytes(8, "little") + acc.data[72:]
                    t.accounts.put(key, acc)

            inv.invoke(transfer, 4_700, token)
            self._put(inv, m["record"], self.token_owner_record_data(m), m["wallet"])

        log = f"DepositGoverningTokens {{ amount: {m['deposit']} }}"
        data = Writer().u8(DEPOSIT).u64(m["deposit"]).build()
        return PlannedTransaction(m["wallet"], [self._step(accounts, data, 19_000, log, handler)])

    def create_governance(self) -> PlannedTransaction:
        owner = self.members[0]
        w = Writer().u8(CREATE_GOVERNANCE)
        governance_config(w)
        accounts = [(self.realm, False, False), (self.governance, False, True), (self.governed, False, False),
                    (owner["record"], False, False), (owner["wallet"], True, True), (SYSTEM_PROGRAM, False, False),
                    (RENT_SYSVAR, False, False), (owner["wallet"], True, False)]

        def handler(inv: Invocation) -> None:
            self._put(inv, self.governance, self.governance_data(), owner["wallet"])

        log = "CreateGovernance { config: GovernanceConfig { community_vote_threshold: YesVotePercentage(60), .. } }"
        return PlannedTransaction(owner["wallet"], [self._step(accounts, w.build(), 16_000, log, handler)])

    def create_treasury(self) -> PlannedTransaction:
        payer = self.members[0]["wallet"]
        accounts = [(self.governance, False, False), (self.treasury, False, True), (payer, True, True),
                    (SYSTEM_PROGRAM, False, False)]

        def handler(inv: Invocation) -> None:
            # The treasury is a system account the governance signs for; funded by the payer.
            spl_token.system_transfer(inv, payer, self.treasury, 20 * 10**9)

        return PlannedTransaction(payer, [self._step(accounts, bytes([CREATE_NATIVE_TREASURY]), 5_000,
                                                     "CreateNativeTreasury", handler)])

    # --- proposals --------------------------------------------------------------------------

    def next(self):
        # Keep two proposals in voting: while fewer are, drafts advance (or one is created) and no
        # vote is cast, so the one still in voting cannot end meanwhile.
        voting = [p for p in self.proposals if p["state"] == VOTING]
        drafts = [p for p in self.proposals if p["state"] == DRAFT]
        if len(voting) < 2:
            return self._action(drafts[0])() if drafts else self.create_proposal()
        if len(voting) + len(drafts) < 3:
            return self.create_proposal()
        candidates = []
        for p in self.proposals:
            action = self._action(p)
            if action is not None:
                candidates.append(action)
        if not candidates:
            return self.create_proposal()
        return self.rng.pick(candidates)()

    def _action(self, p: dict):
        if p["state"] == DRAFT:
            return (lambda: self.insert_transaction(p)) if p["tx_count"] == 0 else (lambda: self.sign_off(p))
        if p["state"] == VOTING:
            waiting = [m for m in self.members if m["wallet"] not in p["voters"]]
            if waiting:
                return lambda: self.cast_vote(p, self.rng.pick(waiting))
            if self.world.now() >= p["voting_at"] + VOTING_TIME:
                return lambda: self.finalize(p)
            return None
        if p["state"] == SUCCEEDED and p["attempts"] < 2 and p.get("attempted_slot") != self.world.slot():
            # A second attempt in the same block would be the same transaction (same blockhash).
            return lambda: self.execute(p)
        return None

    def create_proposal(self) -> PlannedTransaction:
        rng = self.rng
        owner = rng.pick(self.members)
        index = self.proposal_count
        address = pda([b"governance", self.governance, self.mint, index.to_bytes(4, "little")], self.program_id)
        treasury = self.world.ledger_view().lamports(self.treasury)
        # Every fourth proposal (from the second on) asks for more than the treasury holds and has
        # wide support: it passes, and its execution fails.
        oversized = index % 4 == 1
        amount = treasury * 4 if oversized else rng.between(10**6, 10**8)
        p = {"address": address, "index": index, "owner": owner, "state": DRAFT, "yes": 0, "deny": 0,
             "tx_count": 0, "executed": 0, "draft_at": self.world.now(), "name": f"Proposal {index}: treasury grant",
             "link": f"https://example.org/proposals/{index}", "voters": set(), "attempts": 0,
             "recipient": rng.pick(self.recipients), "amount": amount,
             "support": 97 if oversized else rng.between(35, 95),
             "transaction": pda([b"governance", address, bytes([0]), (0).to_bytes(2, "little")], self.program_id)}
        data = (Writer().u8(CREATE_PROPOSAL).string(p["name"]).string(p["link"]).u8(0).u32(1).string("Approve")
                .u8(1).build())
        accounts = [(self.realm, False, False), (address, False, True), (self.governance, False, True),
                    (owner["record"], False, True), (self.mint, False, False), (owner["wallet"], True, False),
                    (owner["wallet"], True, True), (SYSTEM_PROGRAM, False, False)]

        def handler(inv: Invocation) -> None:
            self.proposal_count += 1
            owner["outstanding"] += 1
            self.proposals.append(p)
            self._put(inv, address, self.proposal_data(p), owner["wallet"], self.proposal_space(p))
            self._put(inv, self.governance, self.governance_data())
            self._put(inv, owner["record"], self.token_owner_record_data(owner))

        log = (f'CreateProposal {{ name: "{p["name"]}", description_link: "{p["link"]}", vote_type: SingleChoice, '
               'options: ["Approve"], use_deny_option: true }')
        return PlannedTransaction(owner["wallet"], [self._step(accounts, data, 28_000, log, handler)])

    def insert_transaction(self, p: dict) -> PlannedTransaction:
        owner = p["owner"]
        instruction = (Writer().pubkey(SYSTEM_PROGRAM).u32(2).pubkey(self.treasury).u8(1).u8(1)
                       .pubkey(p["recipient"]).u8(0).u8(1).bytes(Writer().u32(2).u64(p["amount"]).build()).build())
        data = Writer().u8(INSERT_TRANSACTION).u8(0).u16(0).u32(0).u32(1).raw(instruction).build()
        accounts = [(self.governance, False, False), (p["address"], False, True), (owner["record"], False, False),
                    (owner["wallet"], True, False), (p["transaction"], False, True), (owner["wallet"], True, True),
                    (SYSTEM_PROGRAM, False, False), (RENT_SYSVAR, False, False)]

        def handler(inv: Invocation) -> None:
            p["tx_count"] = 1
            space = len(self.proposal_transaction_data({**p, "executed_at": 0}))
            self._put(inv, p["transaction"], self.proposal_transaction_data(p), owner["wallet"], space)
            self._put(inv, p["address"], self.proposal_data(p))

        log = "InsertTransaction { option_index: 0, index: 0, hold_up_time: 0, instructions: [..] }"
        return PlannedTransaction(owner["wallet"], [self._step(accounts, data, 17_000, log, handler)])

    def sign_off(self, p: dict) -> PlannedTransaction:
        owner = p["owner"]
        accounts = [(self.realm, False, True), (self.governance, False, True), (p["address"], False, True),
                    (owner["wallet"], True, False), (owner["record"], False, False)]

        def handler(inv: Invocation) -> None:
            now = self.world.now()
            p.update(state=VOTING, signing_off_at=now, voting_at=now, voting_at_slot=self.world.slot())
            self.voting_count += 1
            self._put(inv, p["address"], self.proposal_data(p))
            self._put(inv, self.realm, self.realm_data())
            self._put(inv, self.governance, self.governance_data())

        return PlannedTransaction(owner["wallet"], [self._step(accounts, bytes([SIGN_OFF]), 9_000,
                                                               "SignOffProposal", handler)])

    def _end_voting(self, p: dict, state: int) -> None:
        p.update(state=state, voting_completed_at=self.world.now(), max_vote_weight=self.max_vote_weight(),
                 vote_threshold=True)
        self.voting_count -= 1
        p["owner"]["outstanding"] -= 1

    def cast_vote(self, p: dict, m: dict) -> PlannedTransaction:
        approve = self.rng.below(100) < p["support"]
        vote_record = pda([b"governance", p["address"], m["record"]], self.program_id)
        accounts = [(self.realm, False, True), (self.governance, False, True), (p["address"], False, True),
                    (p["owner"]["record"], False, True), (m["record"], False, True), (m["wallet"], True, False),
                    (vote_record, False, True), (self.mint, False, False), (m["wallet"], True, True),
                    (SYSTEM_PROGRAM, False, False)]
        data = (Writer().u8(CAST_VOTE).u8(0).u32(1).u8(0).u8(100).build() if approve
                else Writer().u8(CAST_VOTE).u8(1).build())

        def handler(inv: Invocation) -> None:
            p["voters"].add(m["wallet"])
            if approve:
                p["yes"] += m["deposit"]
            else:
                p["deny"] += m["deposit"]
            m["votes"] += 1
            m["unrelinquished"] = m.get("unrelinquished", 0) + 1
            self._put(inv, vote_record, self.vote_record_data(p, m, approve), m["wallet"])
            # Strict tipping: the vote ends as soon as no further vote can change the outcome.
            total = self.max_vote_weight()
            threshold = -(-total * YES_THRESHOLD_PCT // 100)
            if p["yes"] >= threshold and p["yes"] > total - p["yes"]:
                self._end_voting(p, SUCCEEDED)
            elif p["deny"] > total - threshold:
                self._end_voting(p, DEFEATED)
            self._put(inv, p["address"], self.proposal_data(p))
            self._put(inv, m["record"], self.token_owner_record_data(m))
            if m["record"] != p["owner"]["record"]:
                self._put(inv, p["owner"]["record"], self.token_owner_record_data(p["owner"]))
            if p["state"] != VOTING:
                self._put(inv, self.realm, self.realm_data())
                self._put(inv, self.governance, self.governance_data())

        vote = "Approve([VoteChoice { rank: 0, weight_percentage: 100 }])" if approve else "Deny"
        return PlannedTransaction(m["wallet"], [self._step(accounts, data, 22_000, f"CastVote {{ vote: {vote} }}",
                                                           handler)])

    def finalize(self, p: dict) -> PlannedTransaction:
        payer = p["owner"]["wallet"]
        accounts = [(self.realm, False, True), (self.governance, False, True), (p["address"], False, True),
                    (p["owner"]["record"], False, True), (self.mint, False, False)]

        def handler(inv: Invocation) -> None:
            total = self.max_vote_weight()
            passed = p["yes"] >= -(-total * YES_THRESHOLD_PCT // 100) and p["yes"] > p["deny"]
            self._end_voting(p, SUCCEEDED if passed else DEFEATED)
            self._put(inv, p["address"], self.proposal_data(p))
            self._put(inv, p["owner"]["record"], self.token_owner_record_data(p["owner"]))
            self._put(inv, self.realm, self.realm_data())
            self._put(inv, self.governance, self.governance_data())

        return PlannedTransaction(payer, [self._step(accounts, bytes([FINALIZE_VOTE]), 12_000, "FinalizeVote",
                                                     handler)])

    def execute(self, p: dict) -> PlannedTransaction:
        executor = self.rng.pick(self.members)["wallet"]
        accounts = [(self.governance, False, False), (p["address"], False, True), (p["transaction"], False, True),
                    (self.treasury, False, True), (p["recipient"], False, True), (SYSTEM_PROGRAM, False, False)]
        p["attempts"] += 1
        p["attempted_slot"] = self.world.slot()

        def handler(inv: Invocation) -> None:
            # The governance signs for its native treasury (invoke_signed).
            spl_token.system_transfer(inv, self.treasury, p["recipient"], p["amount"])
            now = self.world.now()
            p.update(state=COMPLETED, executed=1, executing_at=now, closed_at=now, executed_at=now)
            self._put(inv, p["address"], self.proposal_data(p))
            self._put(inv, p["transaction"], self.proposal_transaction_data(p))

        return PlannedTransaction(executor, [self._step(accounts, bytes([EXECUTE_TRANSACTION]), 15_000,
                                                        "ExecuteTransaction", handler)])

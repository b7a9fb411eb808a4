"""How a transaction executes, as the Solana runtime reports it.

A transaction is a list of top-level instructions run in order against a copy-on-write view of
the ledger's accounts. Each program invocation writes the runtime's log lines
("Program <id> invoke [n]", "Program log: …", "Program data: …", "Program return: …",
"Program <id> consumed N of M compute units", "Program <id> success" / "failed: …"); a CPI is
recorded as an inner instruction with its stack height. A failing instruction aborts the whole
transaction: its account changes are dropped and only the fee is charged.

Programs are Python functions here; what they change is checked against the message (only
writable accounts may change), which keeps the simulated programs honest about their accounts.
"""

import base64
from dataclasses import dataclass, field

from keys import SYSTEM_PROGRAM

COMPUTE_UNIT_LIMIT = 200_000
MAX_COMPUTE_UNIT_LIMIT = 1_400_000
LAMPORTS_PER_SIGNATURE = 5_000
# Builtin programs log no "consumed" line; their cost is charged to the caller.
BUILTINS = {SYSTEM_PROGRAM, "ComputeBudget111111111111111111111111111111"}
BUILTIN_UNITS = 150


def rent_exempt(size: int) -> int:
    """Lamports for an account of `size` bytes to be rent-exempt (default rent: 3480 lamports per
    byte-year, two years, 128 bytes of account overhead)."""
    return (size + 128) * 3480 * 2


@dataclass
class Account:
    lamports: int
    owner: str
    data: bytes = b""
    executable: bool = False

    def copy(self) -> "Account":
        return Account(self.lamports, self.owner, self.data, self.executable)


@dataclass
class Instruction:
    program_id: str
    # (pubkey, is_signer, is_writable) in the program's order
    accounts: list
    data: bytes


class ProgramError(Exception):
    """A program failing: `code` is the custom error number (InstructionError Custom(code))."""

    def __init__(self, code: int, message: "str | None" = None):
        super().__init__(message or f"custom program error: {code:#x}")
        self.code = code
        self.message = message


class AccountView:
    """The ledger's accounts as one transaction sees them: reads fall through to the ledger,
    writes stay here until the transaction succeeds."""

    def __init__(self, base: dict):
        self._base = base
        self.changed: dict = {}

    def get(self, pubkey: str) -> "Account | None":
        if pubkey in self.changed:
            acc = self.changed[pubkey]
            return None if acc is None else acc.copy()
        acc = self._base.get(pubkey)
        return None if acc is None else acc.copy()

    def require(self, pubkey: str) -> Account:
        acc = self.get(pubkey)
        if acc is None:
            raise ProgramError(0xBC4, f"account {pubkey} does not exist")  # AccountNotInitialized
        return acc

    def put(self, pubkey: str, account: Account) -> None:
        # An account left with no lamports is gone at the end of the transaction.
        self.changed[pubkey] = None if account.lamports == 0 else account.copy()

    def lamports(self, pubkey: str) -> int:
        acc = self.get(pubkey)
        return 0 if acc is None else acc.lamports

    def move_lamports(self, source: str, destination: str, amount: int) -> None:
        src = self.require(source)
        if src.lamports < amount:
            raise ProgramError(1, f"insufficient lamports {src.lamports}, need {amount}")
        src.lamports -= amount
        self.put(source, src)
        dst = self.get(destination) or Account(0, SYSTEM_PROGRAM)
        dst.lamports += amount
        self.put(destination, dst)

    def close(self, pubkey: str, destination: str) -> None:
        """Anchor's `close = destination`: lamports to the destination, data emptied, owner
        reassigned to the system program; with no lamports left the runtime deletes the account."""
        acc = self.require(pubkey)
        self.move_lamports(pubkey, destination, acc.lamports)
        self.changed[pubkey] = None


@dataclass
class InnerInstruction:
    instruction: Instruction
    stack_height: int


@dataclass
class _Frame:
    program_id: str
    depth: int
    budget: int  # compute units remaining when the program was invoked
    consumed: int = 0


class Invocation:
    """One program's execution: its log lines and the CPIs it makes."""

    def __init__(self, tx: "TransactionRun", program_id: str, depth: int, budget: int):
        self.tx = tx
        self.program_id = program_id
        self.depth = depth
        self.budget = budget
        self.consumed = 0

    @property
    def accounts(self) -> AccountView:
        return self.tx.view

    def log(self, message: str) -> "Invocation":
        self.tx.logs.append(f"Program log: {message}")
        return self

    def data(self, *payloads: bytes) -> "Invocation":
        """sol_log_data, as Anchor's emit! uses it: "Program data: <base64> …"."""
        text = " ".join(base64.b64encode(p).decode() for p in payloads)
        self.tx.logs.append(f"Program data: {text}")
        return self

    def returns(self, data: bytes) -> "Invocation":
        self.tx.logs.append(f"Program return: {self.program_id} {base64.b64encode(data).decode()}")
        return self

    def use(self, units: int) -> "Invocation":
        self.consumed += units
        return self

    def invoke(self, ix: Instruction, units: int, body=None) -> "Invocation":
        """A CPI: recorded as an inner instruction; `body(callee)` is the callee's execution."""
        for key, _, _ in ix.accounts + [(ix.program_id, False, False)]:
            if key not in self.tx.key_index:
                raise AssertionError(f"CPI to {ix.program_id} uses {key}, which the transaction does not pass")
        self.tx.inner.append(InnerInstruction(ix, self.depth + 1))
        callee = Invocation(self.tx, ix.program_id, self.depth + 1, self.budget - self.consumed)
        self.tx.execute(callee, units, body)
        self.consumed += callee.consumed
        return self


class TransactionFailed(Exception):
    def __init__(self, index: int, error: ProgramError):
        self.index = index
        self.error = error


COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111"


def compute_budget_steps(unit_limit: int, micro_lamports: int) -> list:
    """SetComputeUnitLimit ([2, u32]) and SetComputeUnitPrice ([3, u64]), as wallets prepend them."""
    return [
        Step(Instruction(COMPUTE_BUDGET_PROGRAM, [], bytes([2]) + unit_limit.to_bytes(4, "little")), 0),
        Step(Instruction(COMPUTE_BUDGET_PROGRAM, [], bytes([3]) + micro_lamports.to_bytes(8, "little")), 0),
    ]


def compute_budget(instructions: list) -> "tuple[int, int]":
    """(compute unit limit, priority fee in lamports) the runtime derives from the instructions:
    a SetComputeUnitLimit, or 200,000 per other instruction, at most 1,400,000; the priority fee
    is ceil(limit · price / 10^6) for a SetComputeUnitPrice in micro-lamports per unit."""
    limit = None
    price = 0
    others = 0
    for ix in instructions:
        if ix.program_id != COMPUTE_BUDGET_PROGRAM:
            others += 1
        elif ix.data[0] == 2:
            limit = int.from_bytes(ix.data[1:5], "little")
        elif ix.data[0] == 3:
            price = int.from_bytes(ix.data[1:9], "little")
    if limit is None:
        limit = COMPUTE_UNIT_LIMIT * others
    limit = min(limit, MAX_COMPUTE_UNIT_LIMIT)
    return limit, -(-limit * price // 1_000_000)


class TransactionRun:
    """Executes the top-level instructions of one transaction and gathers what the runtime reports."""

    def __init__(self, accounts: dict, key_index: dict, unit_limit: int):
        self.view = AccountView(accounts)
        self.key_index = key_index
        self.logs: list = []
        self.inner: list = []
        self.remaining = unit_limit
        self.consumed = 0

    def execute(self, inv: Invocation, units: int, body) -> None:
        builtin = inv.program_id in BUILTINS
        self.logs.append(f"Program {inv.program_id} invoke [{inv.depth}]")
        # The program's own work is charged up front, so its CPIs see the budget that is left.
        inv.consumed = BUILTIN_UNITS if builtin else units
        try:
            if body is not None:
                body(inv)
        except ProgramError as e:
            if e.message:
                self.logs.append(e.message if builtin else f"Program log: {e.message}")
            if not builtin:
                self.logs.append(f"Program {inv.program_id} consumed {inv.consumed} of {inv.budget} compute units")
            self.logs.append(f"Program {inv.program_id} failed: custom program error: {e.code:#x}")
            raise ProgramError(e.code, None) from None
        if not builtin:
            self.logs.append(f"Program {inv.program_id} consumed {inv.consumed} of {inv.budget} compute units")
        self.logs.append(f"Program {inv.program_id} success")

    def run_top(self, index: int, ix: Instruction, units: int, body) -> None:
        inv = Invocation(self, ix.program_id, 1, self.remaining)
        try:
            self.execute(inv, units, body)
        except ProgramError as e:
            self.consumed += inv.consumed
            raise TransactionFailed(index, e) from None
        self.consumed += inv.consumed
        self.remaining -= inv.consumed


@dataclass
class Step:
    """One top-level instruction of a planned transaction and the program logic that runs it.
    `units` are the program's own compute units; `body(inv)` does its work."""
    instruction: Instruction
    units: int
    body: object = None


@dataclass
class PlannedTransaction:
    fee_payer: str
    steps: list
    # Extra signers besides the fee payer (e.g. a new account's keypair)
    signers: list = field(default_factory=list)

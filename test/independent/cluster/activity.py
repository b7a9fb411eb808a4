"""What the cluster plays: the genesis accounts, then each program's transactions, chosen by the
seeded generator, block after block.

Each program is an Actor with `setup()` (the transactions that bring it into being: configs,
pools, a realm…) and `next()` (its next transaction, planned against the ledger's current state).
Transactions are planned lazily, just before they execute, so each sees what the ones before it
left.
"""

from keys import (ASSOCIATED_TOKEN_PROGRAM, BPF_UPGRADEABLE_LOADER, NATIVE_LOADER, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM,
                  TOKEN_PROGRAM, MEMO_PROGRAM, associated_token_address, pda, to_bytes)
from ledger import Ledger
from prng import Prng
from runtime import Account, AccountView
import spl_token

WALLET_LAMPORTS = 10_000 * 10**9
EPOCH_SLOTS = 432_000


class World:
    """Genesis: wallets, mints and token accounts the programs' users start with."""

    def __init__(self, ledger: Ledger, rng: Prng):
        self.ledger = ledger
        self.rng = rng
        self._mints: dict = {}       # mint -> [decimals, supply]

    def genesis(self, pubkey: str, account: Account) -> None:
        self.ledger.genesis_account(pubkey, account)

    def new_key(self) -> str:
        """A fresh keypair's public key; the ledger keeps the secret to sign with."""
        return self.ledger.add_keypair(self.rng.keypair())

    def new_wallet(self, lamports: int = WALLET_LAMPORTS) -> str:
        key = self.new_key()
        self.genesis(key, Account(lamports, SYSTEM_PROGRAM))
        return key

    def fund_lamports(self, pubkey: str, lamports: int) -> None:
        self.genesis(pubkey, Account(lamports, SYSTEM_PROGRAM))

    def new_mint(self, decimals: int) -> str:
        mint = self.new_key()
        self._mints[mint] = [decimals, 0]
        return mint

    def decimals(self, mint: str) -> int:
        if mint in self._mints:
            return self._mints[mint][0]
        return spl_token.parse_mint(self.ledger.accounts[mint].data)["decimals"]

    def fund_token_account(self, owner: str, mint: str, amount: int) -> str:
        ata = associated_token_address(owner, mint)
        self.genesis(ata, spl_token.token_account(mint, owner, amount))
        self._mints[mint][1] += amount
        return ata

    def finish(self, mint_authority: str) -> None:
        """Writes the mints once every balance is known, so a mint's supply is the sum of its accounts."""
        for mint, (decimals, supply) in self._mints.items():
            self.genesis(mint, spl_token.mint_account(mint_authority, supply, decimals))

    def now(self) -> int:
        return self.ledger.block_time(self.ledger.slot)

    def slot(self) -> int:
        return self.ledger.slot

    def epoch(self) -> int:
        return self.ledger.slot // EPOCH_SLOTS

    def ledger_view(self) -> AccountView:
        return AccountView(self.ledger.accounts)


def program_account(program_id: str) -> Account:
    """An upgradeable program's account: UpgradeableLoaderState::Program (tag 2, u32) and the
    address of its ProgramData account, ["<program id>"] under the loader."""
    programdata = pda([program_id], BPF_UPGRADEABLE_LOADER)
    return Account(1_141_440, BPF_UPGRADEABLE_LOADER, (2).to_bytes(4, "little") + to_bytes(programdata),
                   executable=True)


class Activity:
    def __init__(self, ledger: Ledger, seed: int, programs: dict, idls: dict):
        """`programs`: name → program id of the programs to play."""
        from programs import cp_swap, escrow, governance, tensor

        self.ledger = ledger
        self.rng = Prng(seed, "activity")
        self.world = World(ledger, Prng(seed, "genesis"))
        for builtin in (SYSTEM_PROGRAM,):
            ledger.genesis_account(builtin, Account(1, NATIVE_LOADER, b"system_program", executable=True))
        for pid in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM, ASSOCIATED_TOKEN_PROGRAM, MEMO_PROGRAM):
            ledger.genesis_account(pid, program_account(pid))
        self.actors = []
        makers = {
            "raydium-cp-swap": lambda pid: cp_swap.Actor(pid, Prng(seed, "cp-swap"), self.world,
                                                         idls["raydium-cp-swap"]),
            "escrow": lambda pid: escrow.Actor(pid, Prng(seed, "escrow"), self.world),
            "tensor-marketplace": lambda pid: tensor.Actor(pid, Prng(seed, "tensor"), self.world,
                                                           idls["tensor-marketplace"]),
            "spl-governance": lambda pid: governance.Actor(pid, Prng(seed, "governance"), self.world),
        }
        for name, pid in programs.items():
            ledger.genesis_account(pid, program_account(pid))
            self.actors.append(makers[name](pid))
        self.world.finish(self.world.new_wallet())
        # Setup transactions of all programs, interleaved, before their regular activity.
        queues = [list(a.setup()) for a in self.actors]
        self.setup = []
        while any(queues):
            for q in queues:
                if q:
                    self.setup.append(q.pop(0))
        self.weights = {"raydium-cp-swap": 4, "escrow": 3, "tensor-marketplace": 3, "spl-governance": 3}

    def next_transaction(self):
        if self.setup:
            return self.setup.pop(0)
        total = sum(self.weights[a.name] for a in self.actors)
        roll = self.rng.below(total)
        for actor in self.actors:
            roll -= self.weights[actor.name]
            if roll < 0:
                return actor.next()
        raise AssertionError("unreachable")

    def play_block(self, count: int, skip_before: int = 0):
        """Produces one block of `count` transactions."""
        return self.ledger.produce_block([self.next_transaction for _ in range(count)], skip_before)

    def play_history(self, count: int) -> None:
        """The transactions before the cluster starts listening: one to three per block, with an
        occasional skipped slot."""
        left = count
        while left > 0:
            n = min(left, 1 + self.rng.below(3))
            skip = 1 if self.rng.chance(0.05) else 0
            self.play_block(n, skip)
            left -= n

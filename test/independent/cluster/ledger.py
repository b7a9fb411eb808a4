"""The ledger: accounts, blocks and confirmed transactions, and the indexes the RPC reads.

Every block is final as soon as it is produced (there are no forks here), so every commitment
level sees the same state. A block holds the transactions played in its slot; some slots are
skipped, as on a real cluster, and have no block.
"""

import hashlib
from dataclasses import dataclass, field

from base58 import b58decode, b58encode
from keys import TOKEN_PROGRAM
from runtime import (LAMPORTS_PER_SIGNATURE, Account, PlannedTransaction, TransactionFailed,
                     TransactionRun, compute_budget)
from spl_token import parse_mint, parse_token_account

# Slot duration of the virtual clock: blockTime = GENESIS_TIME + slot·400 ms, whatever the wall clock.
GENESIS_TIME = 1_750_000_000
FIRST_SLOT = 320_000_000
SLOT_MS = 400


@dataclass
class CompiledMessage:
    account_keys: list
    header: dict
    instructions: list  # [{programIdIndex, accounts, data(bytes)}]
    writable: set
    signers: list


def compile_message(fee_payer: str, instructions: list, extra_signers: list) -> CompiledMessage:
    """Orders the keys as a legacy message does: signers (writable, then read-only), then the
    other accounts (writable, then read-only), the fee payer first; flags are the union over all
    instructions; program ids are read-only non-signers."""
    flags: dict = {fee_payer: [True, True]}
    order = [fee_payer]

    def add(key: str, signer: bool, writable: bool) -> None:
        if key not in flags:
            flags[key] = [False, False]
            order.append(key)
        flags[key][0] |= signer
        flags[key][1] |= writable

    for s in extra_signers:
        add(s, True, True)
    for ix in instructions:
        for key, signer, writable in ix.accounts:
            add(key, signer, writable)
        add(ix.program_id, False, False)
    groups = [[k for k in order if flags[k] == [s, w]] for s, w in
              ((True, True), (True, False), (False, True), (False, False))]
    keys = [k for g in groups for k in g]
    index = {k: i for i, k in enumerate(keys)}
    header = {
        "numRequiredSignatures": len(groups[0]) + len(groups[1]),
        "numReadonlySignedAccounts": len(groups[1]),
        "numReadonlyUnsignedAccounts": len(groups[3]),
    }
    compiled = [{"programIdIndex": index[ix.program_id], "accounts": [index[k] for k, _, _ in ix.accounts],
                 "data": ix.data} for ix in instructions]
    return CompiledMessage(keys, header, compiled, {k for k in keys if flags[k][1]}, groups[0] + groups[1])


def compact_u16(n: int) -> bytes:
    """The "short vec" length prefix of the wire format: 7 bits a byte, low bits first."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def serialize_message(m: CompiledMessage, recent_blockhash: str) -> bytes:
    """The legacy message as signed and sent: header, keys, blockhash, compiled instructions."""
    h = m.header
    out = bytearray([h["numRequiredSignatures"], h["numReadonlySignedAccounts"], h["numReadonlyUnsignedAccounts"]])
    out += compact_u16(len(m.account_keys))
    for k in m.account_keys:
        out += b58decode(k)
    out += b58decode(recent_blockhash)
    out += compact_u16(len(m.instructions))
    for ix in m.instructions:
        out.append(ix["programIdIndex"])
        out += compact_u16(len(ix["accounts"])) + bytes(ix["accounts"])
        out += compact_u16(len(ix["data"])) + ix["data"]
    return bytes(out)


@dataclass
class TxRecord:
    signature: str
    slot: int
    index: int          # position in its block
    block_time: int
    recent_blockhash: str
    signatures: list
    message: CompiledMessage
    err: "dict | None"
    fee: int
    pre_balances: list
    post_balances: list
    pre_token_balances: list
    post_token_balances: list
    inner: list         # [InnerInstruction] in execution order, all under top-level index `inner_index`
    inner_index: list   # top-level index of each inner instruction
    logs: list
    compute_units: int
    changed: dict = field(default_factory=dict)  # pubkey -> Account | None, the transaction's writes


@dataclass
class Block:
    slot: int
    parent_slot: int
    block_height: int
    blockhash: str
    previous_blockhash: str
    block_time: int
    transactions: list


class Ledger:
    def __init__(self, seed: int):
        self.seed = seed
        self.accounts: dict = {}
        self.blocks: dict = {}
        self.slots: list = []          # slots that have a block, ascending
        self.by_signature: dict = {}
        self.by_address: dict = {}     # pubkey -> [TxRecord], oldest first
        self.transactions: list = []
        self.genesis_hash = b58encode(hashlib.sha256(f"genesis/{seed}".encode()).digest())
        self.slot = FIRST_SLOT
        self.block_height = 0
        self.last_blockhash = self.genesis_hash
        self.keyring: dict = {}        # pubkey -> Keypair of every key that may sign
        # Called with (block, changed accounts in order) after every block
        self.listeners: list = []
        self.blocks[self.slot] = Block(self.slot, self.slot, 0, self.genesis_hash, self.genesis_hash,
                                       self.block_time(self.slot), [])
        self.slots.append(self.slot)

    @staticmethod
    def block_time(slot: int) -> int:
        return GENESIS_TIME + (slot - FIRST_SLOT) * SLOT_MS // 1000

    # --- genesis ------------------------------------------------------------------------------

    def genesis_account(self, pubkey: str, account: Account) -> None:
        """Accounts that exist before the first block, as a test validator's preloaded accounts."""
        self.accounts[pubkey] = account

    # --- producing blocks ---------------------------------------------------------------------

    def add_keypair(self, keypair) -> str:
        pubkey = b58encode(keypair.public)
        self.keyring[pubkey] = keypair
        return pubkey

    def produce_block(self, planned: list, skip_before: int = 0) -> Block:
        """Executes `planned` transactions in a new slot (after `skip_before` skipped slots)."""
        parent = self.slot
        self.slot += 1 + skip_before
        self.block_height += 1
        blockhash = b58encode(hashlib.sha256(f"blockhash/{self.seed}/{self.slot}".encode()).digest())
        block = Block(self.slot, parent, self.block_height, blockhash, self.last_blockhash,
                      self.block_time(self.slot), [])
        changed_in_block: dict = {}
        for p in planned:
            # A callable plans its transaction only now, against the state the ones before it left.
            p = p() if callable(p) else p
            record = self._execute(p, block, len(block.transactions))
            block.transactions.append(record)
            for k, v in record.changed.items():
                changed_in_block.pop(k, None)
                changed_in_block[k] = v
        self.blocks[self.slot] = block
        self.slots.append(self.slot)
        self.last_blockhash = blockhash
        for listener in self.listeners:
            listener(block, changed_in_block)
        return block

    def _token_balances(self, keys: list, accounts) -> list:
        """The token accounts among `keys` as the RPC's TokenBalance entries; `accounts(key)`
        reads an account (before or after the transaction)."""
        out = []
        for i, key in enumerate(keys):
            acc = accounts(key)
            if acc is None or acc.owner != TOKEN_PROGRAM:
                continue
            parsed = parse_token_account(acc.data)
            if parsed is None:
                continue
            mint = accounts(parsed["mint"]) or self.accounts.get(parsed["mint"])
            decimals = parse_mint(mint.data)["decimals"] if mint is not None else 0
            out.append({"accountIndex": i, "mint": parsed["mint"], "owner": parsed["owner"],
                        "programId": TOKEN_PROGRAM, "uiTokenAmount": ui_amount(parsed["amount"], decimals)})
        return out

    def _execute(self, planned: PlannedTransaction, block: Block, index: int) -> TxRecord:
        message = compile_message(planned.fee_payer, [s.instruction for s in planned.steps], planned.signers)
        keys = message.account_keys
        key_index = {k: i for i, k in enumerate(keys)}
        pre = [self.accounts[k].lamports if k in self.accounts else 0 for k in keys]
        pre_tokens = self._token_balances(keys, self.accounts.get)
        unit_limit, priority_fee = compute_budget([s.instruction for s in planned.steps])
        run = TransactionRun(self.accounts, key_index, unit_limit)
        fee = LAMPORTS_PER_SIGNATURE * len(message.signers) + priority_fee
        inner_index: list = []
        err = None
        try:
            for i, step in enumerate(planned.steps):
                before = len(run.inner)
                try:
                    run.run_top(i, step.instruction, step.units, step.body)
                finally:
                    inner_index.extend([i] * (len(run.inner) - before))
        except TransactionFailed as failure:
            err = {"InstructionError": [failure.index, {"Custom": failure.error.code}]}
        changed = dict(run.view.changed) if err is None else {}
        for key in changed:
            if key not in message.writable:
                raise AssertionError(f"a program changed {key}, which the transaction passes read-only")
        # The fee is charged whether or not the instructions succeed.
        payer = (changed.get(planned.fee_payer) if planned.fee_payer in changed else self.accounts[planned.fee_payer])
        payer = payer.copy()
        payer.lamports -= fee
        changed[planned.fee_payer] = payer
        for key, acc in changed.items():
            if acc is None:
                self.accounts.pop(key, None)
            else:
                self.accounts[key] = acc
        post = [self.accounts[k].lamports if k in self.accounts else 0 for k in keys]
        post_tokens = self._token_balances(keys, self.accounts.get)
        # Each signer signs the serialized message with its own key, as a wallet does.
        wire = serialize_message(message, block.previous_blockhash)
        signatures = []
        for signer in message.signers:
            if signer not in self.keyring:
                raise AssertionError(f"{signer} signs a transaction but has no key")
            signatures.append(b58encode(self.keyring[signer].sign(wire)))
        if signatures[0] in self.by_signature:
            # The runtime refuses a transaction it has already processed: the actors never plan one.
            raise AssertionError(f"transaction {signatures[0]} played twice")
        record = TxRecord(
            signature=signatures[0], slot=block.slot, index=index, block_time=block.block_time,
            recent_blockhash=block.previous_blockhash, signatures=signatures, message=message, err=err,
            fee=fee, pre_balances=pre, post_balances=post, pre_token_balances=pre_tokens,
            post_token_balances=post_tokens, inner=list(run.inner), inner_index=inner_index, logs=run.logs,
            compute_units=run.consumed, changed=changed)
        self.by_signature[record.signature] = record
        self.transactions.append(record)
        for key in keys:
            self.by_address.setdefault(key, []).append(record)
        return record


def ui_amount(amount: int, decimals: int) -> dict:
    """A token amount in the RPC's UiTokenAmount form."""
    if decimals == 0:
        text = str(amount)
    else:
        whole, frac = divmod(amount, 10**decimals)
        text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".")
    return {"amount": str(amount), "decimals": decimals, "uiAmount": amount / 10**decimals,
            "uiAmountString": text}

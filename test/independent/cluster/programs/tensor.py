"""Tensor TComp (compressed-NFT marketplace), encoded with its published legacy IDL.

A seller lists a compressed NFT: `list` creates the ListState at ["list_state", asset_id], moves
the leaf to the list state through Bubblegum, and records a MakeEvent. A buyer takes it: `buy`
pays the seller, the protocol fee vault, the brokers and the creators (system transfers), moves
the leaf to the buyer, records a TakeEvent and closes the ListState (rent back to the seller).
`delist` moves the leaf back and closes the ListState without an event.

TComp records its events by invoking itself: an inner `tcomp_noop(event: TcompEvent)` instruction
whose only account is the list state, signing (the program's PDA signature). The asset id of a
compressed NFT is Bubblegum's ["asset", merkle_tree, nonce u64 LE].

Fees as TComp computes them: 2% taker fee; half of it goes to brokers, 80% of that share to the
maker's broker and the rest to the taker's broker (a missing broker's share stays with the
protocol); creators get the royalty (seller_fee_basis_points of the price) by their shares.
"""

import hashlib

from borsh import Writer
from idl import Idl, sha256_8
from keys import SYSTEM_PROGRAM, find_program_address, pda
from programs.anchor import anchor_step
from runtime import Account, Instruction, Invocation, PlannedTransaction, compute_budget_steps
import spl_token

PROGRAM_ID = "TCMPhJdwDryooaGtiocG1u3xcYbRpiJzb283XfCZsDp"
BUBBLEGUM = "BGUMAp9Gq7iTEuizy4pqaxsTyUCBK68MDfK752saRPUY"
COMPRESSION = "cmtDvXumGCrqC1Age74AVPhSRVXJMd8PJS91L8KbNCK"
NOOP = "noopb9bkMVfRPU8AsbpTUg8AQkHtKwMYZiFUjNRtMmV"
LIST_STATE_SIZE = 317  # 8 + ListState::SIZE (options at their full width)
TAKER_FEE_BPS = 200
BROKER_FEE_PCT = 50
MAKER_BROKER_PCT = 80
MAX_EXPIRY_SEC = 31_536_000
MIN_ACTIVE = 4
BUYER_LAMPORTS = 10**6 * 10**9  # a million SOL, well below 2^53 lamports
DEFAULT_PUBKEY = SYSTEM_PROGRAM


class Actor:
    name = "tensor-marketplace"

    def __init__(self, program_id: str, rng, world, idl: Idl):
        self.program_id = program_id
        self.rng = rng
        self.world = world
        self.idl = idl
        self.sellers = [world.new_wallet() for _ in range(5)]
        # Buyers pay in lamports: enough for every purchase of a long run.
        self.buyers = [world.new_wallet(BUYER_LAMPORTS) for _ in range(5)]
        self.brokers = [world.new_wallet() for _ in range(2)]
        self.fee_vault = pda([b"fee_vault", bytes([0])], "TSWAPaqyCSx2KABk68Shruf4rp7CxcNi8hAsbdwmHbN")
        world.fund_lamports(self.fee_vault, 10**9)
        self.creators = [world.new_wallet() for _ in range(3)]
        # Concurrent merkle trees (owned by account compression) holding the sellers' NFTs.
        self.trees = []
        for _ in range(2):
            tree = world.new_key()
            world.genesis(tree, Account(10**8, COMPRESSION, bytes(2_048)))
            self.trees.append({"address": tree, "authority": pda([tree], BUBBLEGUM),
                               "root": hashlib.sha256(tree.encode()).digest(), "next_nonce": 0})
        self.listed: list = []

    def setup(self) -> list:
        return []

    def next(self):
        # Never fewer than MIN_ACTIVE listings once a sale or delisting has been played.
        if len(self.listed) <= MIN_ACTIVE or (len(self.listed) < 10 and self.rng.chance(0.45)):
            return self.list()
        listing = self.listed[self.rng.below(len(self.listed))]
        return self.buy(listing) if self.rng.chance(0.75) else self.delist(listing)

    # --- compressed NFTs --------------------------------------------------------------------

    def _bubblegum_transfer(self, inv: Invocation, tree: dict, leaf: dict, owner: str, new_owner: str) -> bytes:
        """Bubblegum Transfer: the leaf changes owner; the new leaf goes to the log wrapper and the
        tree's root is replaced through account compression. Returns the new root, which the
        caller keeps once its instruction has succeeded."""
        root_before = tree["root"]
        data = (sha256_8("global:transfer") + root_before + leaf["data_hash"] + leaf["creator_hash"]
                + leaf["nonce"].to_bytes(8, "little") + leaf["index"].to_bytes(4, "little"))
        ix = Instruction(BUBBLEGUM, [
            (tree["authority"], False, False), (owner, False, False), (owner, False, False),
            (new_owner, False, False), (tree["address"], False, True), (NOOP, False, False),
            (COMPRESSION, False, False), (SYSTEM_PROGRAM, False, False)], data)
        leaf_hash = hashlib.sha256(leaf["asset_id"].encode() + new_owner.encode() + leaf["data_hash"]).digest()
        new_root = hashlib.sha256(root_before + leaf_hash).digest()

        def bubblegum(b: Invocation) -> None:
            b.log("Instruction: Transfer")
            schema = (Writer().u8(1).u8(1).u8(0).pubkey(leaf["asset_id"]).pubkey(new_owner).pubkey(new_owner)
                      .u64(leaf["nonce"]).raw(leaf["data_hash"]).raw(leaf["creator_hash"]).build())
            b.invoke(Instruction(NOOP, [], schema), 39)

            def compression(c: Invocation) -> None:
                c.log("Instruction: ReplaceLeaf")
                changelog = Writer().u8(1).u8(1).pubkey(tree["address"]).raw(new_root).u32(leaf["index"]).build()
                c.invoke(Instruction(NOOP, [], changelog), 39)

            b.invoke(Instruction(COMPRESSION, [(tree["address"], False, True), (tree["authority"], True, False),
                                               (NOOP, False, False)], b""), 25_300, compression)

        inv.invoke(ix, 29_000, bubblegum)
        return new_root

    def _noop(self, inv: Invocation, list_state: str, event: dict) -> None:
        ix = Instruction(self.program_id, [(list_state, True, False)],
                         self.idl.encode_instruction("tcompNoop", {"event": event}))
        inv.invoke(ix, 1_800, lambda callee: callee.log("Instruction: TcompNoop"))

    def _tree_accounts(self, tree: dict) -> dict:
        return {"treeAuthority": tree["authority"], "merkleTree": tree["address"], "logWrapper": NOOP,
                "compressionProgram": COMPRESSION, "systemProgram": SYSTEM_PROGRAM, "bubblegumProgram": BUBBLEGUM,
                "marketplaceProgram": self.program_id}

    # --- instructions -----------------------------------------------------------------------

    def list(self) -> PlannedTransaction:
        rng = self.rng
        seller = rng.pick(self.sellers)
        tree = rng.pick(self.trees)
        nonce = tree["next_nonce"]
        tree["next_nonce"] += 1
        asset_id = pda([b"asset", tree["address"], nonce.to_bytes(8, "little")], BUBBLEGUM)
        list_state, bump = find_program_address([b"list_state", asset_id], self.program_id)
        creators = [(c, share) for c, share in zip(rng.pick([self.creators[:1], self.creators[1:]]), (70, 30))]
        if len(creators) == 1:
            creators = [(creators[0][0], 100)]
        leaf = {"asset_id": asset_id, "nonce": nonce, "index": nonce,
                "data_hash": hashlib.sha256(f"metadata/{asset_id}".encode()).digest(),
                "creator_hash": hashlib.sha256("".join(c for c, _ in creators).encode()).digest(),
                "creators": creators, "seller_fee_bps": rng.pick([0, 250, 500, 750, 1000])}
        price = rng.between(10**7, 10**11)
        expire_in = rng.pick([None, 86_400 * 7, 86_400 * 30])
        maker_broker = rng.pick([None, self.brokers[0]])
        now = self.world.now()
        expiry = now + (expire_in if expire_in is not None else MAX_EXPIRY_SEC)
        args = {"nonce": nonce, "index": leaf["index"], "root": tree["root"], "dataHash": leaf["data_hash"],
                "creatorHash": leaf["creator_hash"], "amount": price, "expireInSec": expire_in, "currency": None,
                "privateTaker": None, "makerBroker": maker_broker}
        accounts = {**self._tree_accounts(tree), "owner": seller, "delegate": seller, "listState": list_state,
                    "rentPayer": seller}

        def handler(inv: Invocation) -> None:
            spl_token.create_account(inv, seller, list_state, LIST_STATE_SIZE, self.program_id)
            root = self._bubblegum_transfer(inv, tree, leaf, seller, list_state)
            self._noop(inv, list_state, {"Maker": [{
                "maker": seller, "bidId": None, "target": "AssetId", "targetId": asset_id, "field": None,
                "fieldId": None, "amount": price, "quantity": 1, "currency": None, "expiry": expiry,
                "privateTaker": None, "assetId": asset_id}]})
            data = self.idl.encode_account("ListState", {
                "version": 1, "bump": [bump], "owner": seller, "assetId": asset_id, "amount": price,
                "currency": None, "expiry": expiry, "privateTaker": None, "makerBroker": maker_broker,
                "rentPayer": DEFAULT_PUBKEY, "cosigner": DEFAULT_PUBKEY, "reserved1": bytes(64)})
            acc = inv.accounts.require(list_state)
            acc.data = data.ljust(LIST_STATE_SIZE, b"\0")
            inv.accounts.put(list_state, acc)
            # The listing instruction is the transaction's last: reaching here, it succeeded.
            tree["root"] = root
            self.listed.append({"list_state": list_state, "seller": seller, "tree": tree, "leaf": leaf,
                                "price": price, "maker_broker": maker_broker})

        steps = compute_budget_steps(400_000, rng.pick([0, 10_000, 50_000]))
        steps.append(anchor_step(self.idl, "list", args, accounts, 24_000, handler))
        return PlannedTransaction(seller, steps)

    def buy(self, listing: dict) -> PlannedTransaction:
        rng = self.rng
        buyer = rng.pick(self.buyers)
        taker_broker = rng.pick([None, self.brokers[1]])
        tree, leaf, price = listing["tree"], listing["leaf"], listing["price"]
        fee = price * TAKER_FEE_BPS // 10_000
        broker_fee = fee * BROKER_FEE_PCT // 100
        maker_broker_fee = broker_fee * MAKER_BROKER_PCT // 100 if listing["maker_broker"] else 0
        taker_broker_fee = broker_fee - broker_fee * MAKER_BROKER_PCT // 100 if taker_broker else 0
        tcomp_fee = fee - maker_broker_fee - taker_broker_fee
        royalty = price * leaf["seller_fee_bps"] // 10_000
        shares = [(c, royalty * s // 100) for c, s in leaf["creators"]]
        creator_fee = sum(a for _, a in shares)
        args = {"nonce": leaf["nonce"], "index": leaf["index"], "root": tree["root"],
                "metaHash": hashlib.sha256(leaf["data_hash"]).digest(),
                "creatorShares": bytes(s for _, s in leaf["creators"]),
                "creatorVerified": [True] * len(leaf["creators"]),
                "sellerFeeBasisPoints": leaf["seller_fee_bps"], "maxAmount": price + fee + creator_fee,
                "optionalRoyaltyPct": None}
        accounts = {**self._tree_accounts(tree), "feeVault": self.fee_vault, "listState": listing["list_state"],
                    "buyer": buyer, "payer": buyer, "owner": listing["seller"], "rentDestination": listing["seller"]}
        if taker_broker:
            accounts["takerBroker"] = taker_broker
        if listing["maker_broker"]:
            accounts["makerBroker"] = listing["maker_broker"]

        def handler(inv: Invocation) -> None:
            root = self._bubblegum_transfer(inv, tree, leaf, listing["list_state"], buyer)
            spl_token.system_transfer(inv, buyer, listing["seller"], price)
            spl_token.system_transfer(inv, buyer, self.fee_vault, tcomp_fee)
            if maker_broker_fee:
                spl_token.system_transfer(inv, buyer, listing["maker_broker"], maker_broker_fee)
            if taker_broker_fee:
                spl_token.system_transfer(inv, buyer, taker_broker, taker_broker_fee)
            for creator, amount in shares:
                if amount:
                    spl_token.system_transfer(inv, buyer, creator, amount)
            self._noop(inv, listing["list_state"], {"Taker": [{
                "taker": buyer, "bidId": None, "target": "AssetId", "targetId": leaf["asset_id"], "field": None,
                "fieldId": None, "amount": price, "quantity": 1, "tcompFee": tcomp_fee,
                "takerBrokerFee": taker_broker_fee, "makerBrokerFee": maker_broker_fee, "creatorFee": creator_fee,
                "currency": None, "assetId": leaf["asset_id"]}]})
            inv.accounts.close(listing["list_state"], listing["seller"])
            tree["root"] = root
            self.listed.remove(listing)

        steps = compute_budget_steps(400_000, rng.pick([0, 10_000, 50_000]))
        step = anchor_step(self.idl, "buy", args, accounts, 31_000, handler)
        # The creators (and the tree's proof nodes) follow as remaining accounts.
        step.instruction.accounts.extend((c, False, True) for c, _ in leaf["creators"])
        steps.append(step)
        return PlannedTransaction(buyer, steps)

    def delist(self, listing: dict) -> PlannedTransaction:
        tree, leaf = listing["tree"], listing["leaf"]
        args = {"nonce": leaf["nonce"], "index": leaf["index"], "root": tree["root"], "dataHash": leaf["data_hash"],
                "creatorHash": leaf["creator_hash"]}
        accounts = {**self._tree_accounts(tree), "listState": listing["list_state"], "owner": listing["seller"],
                    "rentDestination": listing["seller"]}

        def handler(inv: Invocation) -> None:
            tree["root"] = self._bubblegum_transfer(inv, tree, leaf, listing["list_state"], listing["seller"])
            inv.accounts.close(listing["list_state"], listing["seller"])
            self.listed.remove(listing)

        return PlannedTransaction(listing["seller"], [anchor_step(self.idl, "delist", args, accounts, 18_000, handler)])

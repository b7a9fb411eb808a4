"""The Anchor escrow (make_offer / take_offer / refund_offer), with its layouts written by hand:
it publishes no IDL.

Offer account: sha256("account:Offer")[:8] ‖ id u64 ‖ maker ‖ token_mint_a ‖ token_mint_b ‖
token_b_wanted_amount u64 ‖ bump u8, at the PDA ["offer", maker, id u64 LE]. The vault is the
offer's associated token account of mint A; it holds the offered amount until the offer is taken
(tokens to the taker, the vault and the offer closed) or refunded (tokens back to the maker).
"""

from borsh import Writer
from idl import sha256_8
from keys import (ASSOCIATED_TOKEN_PROGRAM, SYSTEM_PROGRAM, TOKEN_PROGRAM, associated_token_address,
                  find_program_address)
from runtime import Instruction, Invocation, PlannedTransaction, Step
import spl_token

PROGRAM_ID = "qbuMdeYxYJXBjU6C6qFKjZKjXmrU83eDQomHdrch826"
OFFER_SIZE = 8 + 8 + 32 * 3 + 8 + 1
OFFER_DISCRIMINATOR = sha256_8("account:Offer")
# Keep at least this many offers open, so that a first start always finds open escrows.
MIN_OPEN = 12
MAX_OPEN = 16


def offer_data(offer_id: int, maker: str, mint_a: str, mint_b: str, wanted: int, bump: int) -> bytes:
    return (Writer().raw(OFFER_DISCRIMINATOR).u64(offer_id).pubkey(maker).pubkey(mint_a).pubkey(mint_b)
            .u64(wanted).u8(bump).build())


class Actor:
    name = "escrow"

    def __init__(self, program_id: str, rng, world):
        self.program_id = program_id
        self.rng = rng
        self.world = world
        self.mints = [world.new_mint(decimals) for decimals in (6, 6, 9, 9)]
        self.makers = [world.new_wallet() for _ in range(6)]
        self.takers = [world.new_wallet() for _ in range(6)]
        for wallet in self.makers + self.takers:
            for mint in self.mints:
                world.fund_token_account(wallet, mint, 10**15)
        self.next_id = {m: 1 for m in self.makers}
        self.open: list = []  # dicts describing open offers, oldest first

    def setup(self) -> list:
        return []

    def next(self):
        if len(self.open) <= MIN_OPEN:
            return self.make_offer()
        if len(self.open) >= MAX_OPEN or self.rng.chance(0.5):
            offer = self.open[self.rng.below(len(self.open))]
            return self.take_offer(offer) if self.rng.chance(0.75) else self.refund_offer(offer)
        return self.make_offer()

    def _ix(self, name: str, data: bytes, accounts: list) -> Instruction:
        return Instruction(self.program_id, accounts, sha256_8(f"global:{name}") + data)

    def make_offer(self) -> PlannedTransaction:
        rng = self.rng
        maker = rng.pick(self.makers)
        mint_a, mint_b = rng.pick(self.mints), rng.pick(self.mints)
        while mint_b == mint_a:
            mint_b = rng.pick(self.mints)
        offer_id = self.next_id[maker]
        self.next_id[maker] += 1
        amount_a = rng.between(10**6, 10**11)
        amount_b = rng.between(10**6, 10**11)
        offer, bump = find_program_address([b"offer", maker, offer_id.to_bytes(8, "little")], self.program_id)
        vault = associated_token_address(offer, mint_a)
        maker_a = associated_token_address(maker, mint_a)
        data = Writer().u64(offer_id).u64(amount_a).u64(amount_b).build()
        ix = self._ix("make_offer", data, [
            (maker, True, True), (mint_a, False, False), (mint_b, False, False), (maker_a, False, True),
            (offer, False, True), (vault, False, True), (ASSOCIATED_TOKEN_PROGRAM, False, False),
            (TOKEN_PROGRAM, False, False), (SYSTEM_PROGRAM, False, False)])
        decimals = self.world.decimals(mint_a)

        def body(inv: Invocation) -> None:
            inv.log("Instruction: MakeOffer")
            # Anchor initializes the accounts in declaration order: the offer, then its vault.
            spl_token.create_account(inv, maker, offer, OFFER_SIZE, self.program_id)
            spl_token.create_associated_token_account(inv, maker, vault, offer, mint_a)
            spl_token.transfer_checked(inv, maker_a, mint_a, vault, maker, amount_a, decimals)
            acc = inv.accounts.require(offer)
            acc.data = offer_data(offer_id, maker, mint_a, mint_b, amount_b, bump)
            inv.accounts.put(offer, acc)
            # The actor's books follow what executed: a handler that returns has succeeded.
            self.open.append({"offer": offer, "maker": maker, "id": offer_id, "mint_a": mint_a, "mint_b": mint_b,
                              "amount_a": amount_a, "amount_b": amount_b, "vault": vault})

        return PlannedTransaction(maker, [Step(ix, 38_000, body)])

    def take_offer(self, o: dict) -> PlannedTransaction:
        taker = self.rng.pick(self.takers)
        taker_a = associated_token_address(taker, o["mint_a"])
        taker_b = associated_token_address(taker, o["mint_b"])
        maker_b = associated_token_address(o["maker"], o["mint_b"])
        ix = self._ix("take_offer", b"", [
            (taker, True, True), (o["maker"], False, True), (o["mint_a"], False, False),
            (o["mint_b"], False, False), (taker_a, False, True), (taker_b, False, True), (maker_b, False, True),
            (o["offer"], False, True), (o["vault"], False, True), (ASSOCIATED_TOKEN_PROGRAM, False, False),
            (TOKEN_PROGRAM, False, False), (SYSTEM_PROGRAM, False, False)])
        dec_a, dec_b = self.world.decimals(o["mint_a"]), self.world.decimals(o["mint_b"])

        def body(inv: Invocation) -> None:
            inv.log("Instruction: TakeOffer")
            spl_token.transfer_checked(inv, taker_b, o["mint_b"], maker_b, taker, o["amount_b"], dec_b)
            held = spl_token.balance(inv.accounts, o["vault"])
            spl_token.transfer_checked(inv, o["vault"], o["mint_a"], taker_a, o["offer"], held, dec_a)
            spl_token.close_account(inv, o["vault"], taker, o["offer"])
            inv.accounts.close(o["offer"], o["maker"])
            self.open.remove(o)

        return PlannedTransaction(taker, [Step(ix, 41_000, body)])

    def refund_offer(self, o: dict) -> PlannedTransaction:
        maker_a = associated_token_address(o["maker"], o["mint_a"])
        ix = self._ix("refund_offer", b"", [
            (o["maker"], True, True), (o["mint_a"], False, False), (maker_a, False, True),
            (o["offer"], False, True), (o["vault"], False, True), (TOKEN_PROGRAM, False, False),
            (SYSTEM_PROGRAM, False, False)])
        dec_a = self.world.decimals(o["mint_a"])

        def body(inv: Invocation) -> None:
            inv.log("Instruction: RefundOffer")
            held = spl_token.balance(inv.accounts, o["vault"])
            spl_token.transfer_checked(inv, o["vault"], o["mint_a"], maker_a, o["offer"], held, dec_a)
            spl_token.close_account(inv, o["vault"], o["maker"], o["offer"])
            inv.accounts.close(o["offer"], o["maker"])
            self.open.remove(o)

        return PlannedTransaction(o["maker"], [Step(ix, 27_000, body)])

"""Raydium CP-Swap (constant-product AMM), encoded with its published IDL.

Accounts: AmmConfig at ["amm_config", index u16 big-endian] (the program's seed; index 0 reads the
same either way), PoolState at ["pool", amm_config, mint0, mint1] with mint0 < mint1 bytewise,
vaults at ["pool_vault", pool, mint] (SPL Token accounts owned by the authority PDA
["vault_and_lp_mint_auth_seed"]), the LP mint at ["pool_lp_mint", pool] and the oracle at
["observation", pool].

Arithmetic as the program does it (fee rates in hundredths of a basis point, denominator 10^6):
- the reserves are the vault balances less the protocol and fund fees set aside in the pool;
- swap_base_input: trade fee = ceil(in·rate), protocol = floor(fee·protocol_rate),
  fund = floor(fee·fund_rate), out = floor(R_out·(in−fee) / (R_in + in−fee));
- swap_base_output: in−fee = ceil(R_in·out / (R_out−out)), in = ceil((in−fee)·10^6/(10^6−rate));
- deposit rounds the token amounts for an LP amount up, withdraw rounds them down;
- SwapEvent and LpChangeEvent are emitted with emit! ("Program data:"), their "vault before"
  fields being reserves (vault balances less the fees set aside).
"""

import math

from idl import Idl
from keys import (ASSOCIATED_TOKEN_PROGRAM, MEMO_PROGRAM, RENT_SYSVAR, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM,
                  TOKEN_PROGRAM, associated_token_address, find_program_address, to_bytes)
from programs.anchor import anchor_step
from runtime import Instruction, Invocation, PlannedTransaction, ProgramError, Step
import spl_token

PROGRAM_ID = "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C"
FEE_RATE_DENOMINATOR = 1_000_000
LOCKED_LP = 100
OBSERVATION_NUM = 100
U128 = 2**128
# AmmConfig index → (trade, protocol, fund) fee rates
CONFIGS = {0: (2_500, 120_000, 40_000), 1: (10_000, 120_000, 40_000)}
EXCEEDED_SLIPPAGE = 6005


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def trade_fee(amount: int, rate: int) -> int:
    return ceil_div(amount * rate, FEE_RATE_DENOMINATOR)


def lp_to_tokens(lp: int, supply: int, r0: int, r1: int, round_up: bool) -> "tuple[int, int]":
    """CurveCalculator::lp_tokens_to_trading_tokens: amount·reserve/supply, rounded up only when
    there is a remainder and the floor is not zero."""
    out = []
    for r in (r0, r1):
        v, rem = divmod(lp * r, supply)
        if round_up and rem > 0 and v > 0:
            v += 1
        out.append(v)
    return out[0], out[1]


def anchor_error(code: int, name: str, message: str) -> ProgramError:
    return ProgramError(code, f"AnchorError occurred. Error Code: {name}. Error Number: {code}. "
                              f"Error Message: {message}.")


class Actor:
    name = "raydium-cp-swap"

    def __init__(self, program_id: str, rng, world, idl: Idl):
        self.program_id = program_id
        self.rng = rng
        self.world = world
        self.idl = idl
        self.admin = world.new_wallet()
        self.authority, self.auth_bump = find_program_address([b"vault_and_lp_mint_auth_seed"], program_id)
        self.configs = {}
        for index, rates in CONFIGS.items():
            address, bump = find_program_address([b"amm_config", index.to_bytes(2, "big")], program_id)
            self.configs[index] = {"address": address, "bump": bump, "rates": rates}
        self.fee_receiver = world.new_wallet()
        mints = [world.new_mint(d) for d in (6, 9, 6, 9, 6)]
        self.traders = [world.new_wallet() for _ in range(8)]
        self.creators = [world.new_wallet() for _ in range(2)]
        for wallet in self.traders:
            for mint in mints:
                world.fund_token_account(wallet, mint, 10**16)
        # A creator may seed two pools with the same token: enough for both.
        for wallet in self.creators:
            for mint in mints:
                world.fund_token_account(wallet, mint, 10**17)
        self.create_pool_fee_account = world.fund_token_account(self.fee_receiver, mints[0], 0)
        pairs = [(mints[0], mints[1], 0), (mints[2], mints[3], 0), (mints[1], mints[4], 1)]
        self.pools = []
        for a, b, config_index in pairs:
            m0, m1 = sorted((a, b), key=to_bytes)  # the program requires mint0 < mint1 bytewise
            config = self.configs[config_index]["address"]
            pool = find_program_address([b"pool", config, m0, m1], program_id)[0]
            self.pools.append({
                "address": pool, "config_index": config_index, "config": config, "mint0": m0, "mint1": m1,
                "vault0": find_program_address([b"pool_vault", pool, m0], program_id)[0],
                "vault1": find_program_address([b"pool_vault", pool, m1], program_id)[0],
                "lp_mint": find_program_address([b"pool_lp_mint", pool], program_id)[0],
                "observation": find_program_address([b"observation", pool], program_id)[0],
                "creator": None, "initialized": False,
                "lp_supply": 0, "protocol0": 0, "protocol1": 0, "fund0": 0, "fund1": 0,
                "open_time": 0, "observations": [], "observation_index": 0,
                "lp_holders": {},  # wallet -> LP balance, for withdrawals
            })

    # --- encodings --------------------------------------------------------------------------

    def pool_state_data(self, p: dict) -> bytes:
        return self.idl.encode_account("PoolState", {
            "amm_config": p["config"], "pool_creator": p["creator"], "token_0_vault": p["vault0"],
            "token_1_vault": p["vault1"], "lp_mint": p["lp_mint"], "token_0_mint": p["mint0"],
            "token_1_mint": p["mint1"], "token_0_program": TOKEN_PROGRAM, "token_1_program": TOKEN_PROGRAM,
            "observation_key": p["observation"], "auth_bump": self.auth_bump, "status": 0,
            "lp_mint_decimals": 9, "mint_0_decimals": self.world.decimals(p["mint0"]),
            "mint_1_decimals": self.world.decimals(p["mint1"]), "lp_supply": p["lp_supply"],
            "protocol_fees_token_0": p["protocol0"], "protocol_fees_token_1": p["protocol1"],
            "fund_fees_token_0": p["fund0"], "fund_fees_token_1": p["fund1"], "open_time": p["open_time"],
            "recent_epoch": self.world.epoch(), "padding": [0] * 31,
        })

    def observation_data(self, p: dict) -> bytes:
        zero = {"block_timestamp": 0, "cumulative_token_0_price_x32": 0, "cumulative_token_1_price_x32": 0}
        obs = p["observations"] + [zero] * (OBSERVATION_NUM - len(p["observations"]))
        return self.idl.encode_account("ObservationState", {
            "initialized": bool(p["observations"]), "observation_index": p["observation_index"],
            "pool_id": p["address"], "observations": obs, "padding": [0] * 4})

    def write_pool(self, inv: Invocation, p: dict) -> None:
        acc = inv.accounts.require(p["address"])
        acc.data = self.pool_state_data(p)
        inv.accounts.put(p["address"], acc)

    def update_observation(self, inv: Invocation, p: dict, r0: int, r1: int) -> None:
        """The oracle: one observation per new block time, cumulative Q32.32 prices times elapsed seconds."""
        now = self.world.now()
        obs = p["observations"]
        if obs and obs[p["observation_index"]]["block_timestamp"] == now:
            return
        if not obs:
            entry = {"block_timestamp": now, "cumulative_token_0_price_x32": 0, "cumulative_token_1_price_x32": 0}
            obs.append(entry)
            p["observation_index"] = 0
        else:
            last = obs[p["observation_index"]]
            dt = now - last["block_timestamp"]
            entry = {
                "block_timestamp": now,
                "cumulative_token_0_price_x32": (last["cumulative_token_0_price_x32"] + (r1 << 32) // r0 * dt) % U128,
                "cumulative_token_1_price_x32": (last["cumulative_token_1_price_x32"] + (r0 << 32) // r1 * dt) % U128,
            }
            nxt = (p["observation_index"] + 1) % OBSERVATION_NUM
            if nxt < len(obs):
                obs[nxt] = entry
            else:
                obs.append(entry)
            p["observation_index"] = nxt
        acc = inv.accounts.require(p["observation"])
        acc.data = self.observation_data(p)
        inv.accounts.put(p["observation"], acc)

    def reserves(self, view, p: dict) -> "tuple[int, int]":
        return (spl_token.balance(view, p["vault0"]) - p["protocol0"] - p["fund0"],
                spl_token.balance(view, p["vault1"]) - p["protocol1"] - p["fund1"])

    # --- activity ---------------------------------------------------------------------------

    def setup(self) -> list:
        return [self.create_config(i) for i in sorted(self.configs)] + [self.initialize(p) for p in self.pools]

    def next(self):
        p = self.rng.pick(self.pools)
        if not p["initialized"]:
            return self.initialize(p)  # its setup transaction failed: try again
        roll = self.rng.below(100)
        if roll < 70:
            return self.swap(p, base_input=self.rng.chance(0.8))
        if roll < 85 or not p["lp_holders"]:
            return self.deposit(p)
        return self.withdraw(p)

    def create_config(self, index: int) -> PlannedTransaction:
        c = self.configs[index]
        trade, protocol, fund = c["rates"]

        def handler(inv: Invocation) -> None:
            spl_token.create_account(inv, self.admin, c["address"], 8 + 1 + 1 + 2 + 8 * 4 + 32 * 2 + 8 * 16,
                                     self.program_id)
            acc = inv.accounts.require(c["address"])
            acc.data = self.idl.encode_account("AmmConfig", {
                "bump": c["bump"], "disable_create_pool": False, "index": index, "trade_fee_rate": trade,
                "protocol_fee_rate": protocol, "fund_fee_rate": fund, "create_pool_fee": 0,
                "protocol_owner": self.admin, "fund_owner": self.admin, "padding": [0] * 16})
            inv.accounts.put(c["address"], acc)

        step = anchor_step(self.idl, "create_amm_config",
                           {"index": index, "trade_fee_rate": trade, "protocol_fee_rate": protocol,
                            "fund_fee_rate": fund, "create_pool_fee": 0},
                           {"owner": self.admin, "amm_config": c["address"], "system_program": SYSTEM_PROGRAM},
                           9_800, handler)
        return PlannedTransaction(self.admin, [step])

    def initialize(self, p: dict) -> PlannedTransaction:
        creator = self.rng.pick(self.creators)
        p["creator"] = creator
        d0, d1 = self.world.decimals(p["mint0"]), self.world.decimals(p["mint1"])
        amount0 = self.rng.between(10**5, 10**7) * 10**d0
        amount1 = self.rng.between(10**5, 10**7) * 10**d1
        creator0 = associated_token_address(creator, p["mint0"])
        creator1 = associated_token_address(creator, p["mint1"])
        creator_lp = associated_token_address(creator, p["lp_mint"])

        def handler(inv: Invocation) -> None:
            pool_size = len(self.pool_state_data({**p, "creator": creator}))
            spl_token.create_account(inv, creator, p["address"], pool_size, self.program_id)
            for vault, mint in ((p["vault0"], p["mint0"]), (p["vault1"], p["mint1"])):
                spl_token.create_account(inv, creator, vault, spl_token.TOKEN_ACCOUNT_SIZE, TOKEN_PROGRAM)
                spl_token.initialize_account3(inv, vault, mint, self.authority)
            spl_token.create_account(inv, creator, p["lp_mint"], spl_token.MINT_SIZE, TOKEN_PROGRAM)
            spl_token.initialize_mint2(inv, p["lp_mint"], 9, self.authority)
            spl_token.create_associated_token_account(inv, creator, creator_lp, creator, p["lp_mint"])
            spl_token.transfer_checked(inv, creator0, p["mint0"], p["vault0"], creator, amount0, d0)
            spl_token.transfer_checked(inv, creator1, p["mint1"], p["vault1"], creator, amount1, d1)
            liquidity = math.isqrt(amount0 * amount1)
            if liquidity <= LOCKED_LP:
                raise anchor_error(6009, "InitLpAmountTooLess",
                                   "Init lp amount is too less(Because 100 amount lp will be locked)")
            inv.log(f"liquidity:{liquidity}, lock_lp_amount:{LOCKED_LP}, "
                    f"vault_0_amount:{amount0},vault_1_amount:{amount1}")
            spl_token.mint_to(inv, p["lp_mint"], creator_lp, self.authority, liquidity - LOCKED_LP)
            spl_token.create_account(inv, creator, p["observation"], len(self.observation_data(p)), self.program_id)
            p.update(creator=creator, lp_supply=liquidity, open_time=self.world.now(), initialized=True)
            p["lp_holders"][creator] = liquidity - LOCKED_LP
            self.update_observation(inv, p, amount0, amount1)
            self.write_pool(inv, p)

        step = anchor_step(self.idl, "initialize",
                           {"init_amount_0": amount0, "init_amount_1": amount1, "open_time": 0},
                           {"creator": creator, "amm_config": p["config"], "authority": self.authority,
                            "pool_state": p["address"], "token_0_mint": p["mint0"], "token_1_mint": p["mint1"],
                            "lp_mint": p["lp_mint"], "creator_token_0": creator0, "creator_token_1": creator1,
                            "creator_lp_token": creator_lp, "token_0_vault": p["vault0"], "token_1_vault": p["vault1"],
                            "create_pool_fee": self.create_pool_fee_account, "observation_state": p["observation"],
                            "token_program": TOKEN_PROGRAM, "token_0_program": TOKEN_PROGRAM,
                            "token_1_program": TOKEN_PROGRAM, "associated_token_program": ASSOCIATED_TOKEN_PROGRAM,
                            "system_program": SYSTEM_PROGRAM, "rent": RENT_SYSVAR},
                           61_000, handler)
        return PlannedTransaction(creator, [step])

    def swap(self, p: dict, base_input: bool) -> PlannedTransaction:
        rng = self.rng
        trader = rng.pick(self.traders)
        zero_for_one = rng.chance(0.5)
        in_mint, out_mint = (p["mint0"], p["mint1"]) if zero_for_one else (p["mint1"], p["mint0"])
        in_vault, out_vault = (p["vault0"], p["vault1"]) if zero_for_one else (p["vault1"], p["vault0"])
        r0, r1 = self.reserves(self.world.ledger_view(), p)
        r_in, r_out = (r0, r1) if zero_for_one else (r1, r0)
        # Trades of 0.01%–2% of the pool; about one in twelve sets a slippage bound it cannot meet.
        size_bps = rng.between(1, 200)
        strict = rng.chance(1 / 12)
        trade, protocol_rate, fund_rate = self.configs[p["config_index"]]["rates"]
        if base_input:
            amount_in = max(1, r_in * size_bps // 10_000)
            fee = trade_fee(amount_in, trade)
            quote = r_out * (amount_in - fee) // (r_in + amount_in - fee)
            args = {"amount_in": amount_in, "minimum_amount_out": quote + 1 if strict else quote * 99 // 100}
            name = "swap_base_input"
        else:
            amount_out = max(1, r_out * size_bps // 10_000)
            swapped = ceil_div(r_in * amount_out, r_out - amount_out)
            quote_in = ceil_div(swapped * FEE_RATE_DENOMINATOR, FEE_RATE_DENOMINATOR - trade)
            args = {"max_amount_in": quote_in - 1 if strict else quote_in * 101 // 100, "amount_out": amount_out}
            name = "swap_base_output"
        user_in = associated_token_address(trader, in_mint)
        user_out = associated_token_address(trader, out_mint)
        d_in, d_out = self.world.decimals(in_mint), self.world.decimals(out_mint)

        def handler(inv: Invocation) -> None:
            view = inv.accounts
            r0, r1 = self.reserves(view, p)
            r_in, r_out = (r0, r1) if zero_for_one else (r1, r0)
            if base_input:
                amount_in = args["amount_in"]
                fee = trade_fee(amount_in, trade)
                amount_out = r_out * (amount_in - fee) // (r_in + amount_in - fee)
                if amount_out < args["minimum_amount_out"]:
                    raise anchor_error(EXCEEDED_SLIPPAGE, "ExceededSlippage", "Exceeds desired slippage limit")
            else:
                amount_out = args["amount_out"]
                swapped = ceil_div(r_in * amount_out, r_out - amount_out)
                amount_in = ceil_div(swapped * FEE_RATE_DENOMINATOR, FEE_RATE_DENOMINATOR - trade)
                fee = trade_fee(amount_in, trade)
                if amount_in > args["max_amount_in"]:
                    raise anchor_error(EXCEEDED_SLIPPAGE, "ExceededSlippage", "Exceeds desired slippage limit")
            protocol_fee = fee * protocol_rate // FEE_RATE_DENOMINATOR
            fund_fee = fee * fund_rate // FEE_RATE_DENOMINATOR
            spl_token.transfer_checked(inv, user_in, in_mint, in_vault, trader, amount_in, d_in)
            spl_token.transfer_checked(inv, out_vault, out_mint, user_out, self.authority, amount_out, d_out)
            side = "0" if zero_for_one else "1"
            p["protocol" + side] += protocol_fee
            p["fund" + side] += fund_fee
            inv.data(self.idl.encode_event("SwapEvent", {
                "pool_id": p["address"], "input_vault_before": r_in, "output_vault_before": r_out,
                "input_amount": amount_in, "output_amount": amount_out, "input_transfer_fee": 0,
                "output_transfer_fee": 0, "base_input": base_input}))
            n0, n1 = self.reserves(view, p)
            self.update_observation(inv, p, n0, n1)
            self.write_pool(inv, p)

        step = anchor_step(self.idl, name, args, {
            "payer": trader, "authority": self.authority, "amm_config": p["config"], "pool_state": p["address"],
            "input_token_account": user_in, "output_token_account": user_out, "input_vault": in_vault,
            "output_vault": out_vault, "input_token_program": TOKEN_PROGRAM, "output_token_program": TOKEN_PROGRAM,
            "input_token_mint": in_mint, "output_token_mint": out_mint, "observation_state": p["observation"]},
            31_000, handler)
        return PlannedTransaction(trader, [step])

    def _lp_account_step(self, owner: str, p: dict) -> Step:
        """A wallet's own CreateIdempotent of its LP token account, the instruction before a deposit."""
        ata = associated_token_address(owner, p["lp_mint"])
        ix = Instruction(ASSOCIATED_TOKEN_PROGRAM, [
            (owner, True, True), (ata, False, True), (owner, False, False), (p["lp_mint"], False, False),
            (SYSTEM_PROGRAM, False, False), (TOKEN_PROGRAM, False, False)], bytes([1]))

        def body(inv: Invocation) -> None:
            inv.log("CreateIdempotent")
            if inv.accounts.get(ata) is not None:
                return
            size_ix = Instruction(TOKEN_PROGRAM, [(p["lp_mint"], False, False)], bytes([21, 7, 0]))
            inv.invoke(size_ix, 1_600, lambda t: (t.log("Instruction: GetAccountDataSize"),
                                                   t.returns(spl_token.TOKEN_ACCOUNT_SIZE.to_bytes(8, "little"))))
            spl_token.create_account(inv, owner, ata, spl_token.TOKEN_ACCOUNT_SIZE, TOKEN_PROGRAM)
            inv.log("Initialize the associated token account")
            imm = Instruction(TOKEN_PROGRAM, [(ata, False, True)], bytes([22]))
            inv.invoke(imm, 1_400, lambda t: (t.log("Instruction: InitializeImmutableOwner"),
                                               t.log("Please upgrade to SPL Token 2022 for immutable owner support")))
            spl_token.initialize_account3(inv, ata, p["lp_mint"], owner)

        return Step(ix, 12_000, body)

    def deposit(self, p: dict) -> PlannedTransaction:
        owner = self.rng.pick(self.traders + self.creators)
        r0, r1 = self.reserves(self.world.ledger_view(), p)
        lp = max(1, p["lp_supply"] * self.rng.between(10, 300) // 10_000)
        need0, need1 = lp_to_tokens(lp, p["lp_supply"], r0, r1, round_up=True)
        args = {"lp_token_amount": lp, "maximum_token_0_amount": need0 * 1005 // 1000 + 1,
                "maximum_token_1_amount": need1 * 1005 // 1000 + 1}
        accounts = self._liquidity_accounts(owner, p)

        def handler(inv: Invocation) -> None:
            r0, r1 = self.reserves(inv.accounts, p)
            a0, a1 = lp_to_tokens(lp, p["lp_supply"], r0, r1, round_up=True)
            if a0 > args["maximum_token_0_amount"] or a1 > args["maximum_token_1_amount"]:
                raise anchor_error(EXCEEDED_SLIPPAGE, "ExceededSlippage", "Exceeds desired slippage limit")
            inv.data(self.idl.encode_event("LpChangeEvent", {
                "pool_id": p["address"], "lp_amount_before": p["lp_supply"], "token_0_vault_before": r0,
                "token_1_vault_before": r1, "token_0_amount": a0, "token_1_amount": a1,
                "token_0_transfer_fee": 0, "token_1_transfer_fee": 0, "change_type": 0}))
            spl_token.transfer_checked(inv, accounts["token_0_account"], p["mint0"], p["vault0"], owner, a0,
                                       self.world.decimals(p["mint0"]))
            spl_token.transfer_checked(inv, accounts["token_1_account"], p["mint1"], p["vault1"], owner, a1,
                                       self.world.decimals(p["mint1"]))
            spl_token.mint_to(inv, p["lp_mint"], accounts["owner_lp_token"], self.authority, lp)
            p["lp_supply"] += lp
            p["lp_holders"][owner] = p["lp_holders"].get(owner, 0) + lp
            self.write_pool(inv, p)

        step = anchor_step(self.idl, "deposit", args, accounts, 36_000, handler)
        return PlannedTransaction(owner, [self._lp_account_step(owner, p), step])

    def withdraw(self, p: dict) -> PlannedTransaction:
        owner = self.rng.pick(sorted(p["lp_holders"]))
        held = p["lp_holders"][owner]
        lp = max(1, held * self.rng.between(5, 60) // 100)
        accounts = self._liquidity_accounts(owner, p)
        accounts["memo_program"] = MEMO_PROGRAM
        args = {"lp_token_amount": lp, "minimum_token_0_amount": 0, "minimum_token_1_amount": 0}

        def handler(inv: Invocation) -> None:
            r0, r1 = self.reserves(inv.accounts, p)
            a0, a1 = lp_to_tokens(lp, p["lp_supply"], r0, r1, round_up=False)
            inv.data(self.idl.encode_event("LpChangeEvent", {
                "pool_id": p["address"], "lp_amount_before": p["lp_supply"], "token_0_vault_before": r0,
                "token_1_vault_before": r1, "token_0_amount": a0, "token_1_amount": a1,
                "token_0_transfer_fee": 0, "token_1_transfer_fee": 0, "change_type": 1}))
            spl_token.burn(inv, accounts["owner_lp_token"], p["lp_mint"], owner, lp)
            spl_token.transfer_checked(inv, p["vault0"], p["mint0"], accounts["token_0_account"], self.authority, a0,
                                       self.world.decimals(p["mint0"]))
            spl_token.transfer_checked(inv, p["vault1"], p["mint1"], accounts["token_1_account"], self.authority, a1,
                                       self.world.decimals(p["mint1"]))
            p["lp_supply"] -= lp
            p["lp_holders"][owner] -= lp
            if p["lp_holders"][owner] == 0:
                del p["lp_holders"][owner]
            self.write_pool(inv, p)

        step = anchor_step(self.idl, "withdraw", args, accounts, 33_000, handler)
        return PlannedTransaction(owner, [step])

    def _liquidity_accounts(self, owner: str, p: dict) -> dict:
        return {"owner": owner, "authority": self.authority, "pool_state": p["address"],
                "owner_lp_token": associated_token_address(owner, p["lp_mint"]),
                "token_0_account": associated_token_address(owner, p["mint0"]),
                "token_1_account": associated_token_address(owner, p["mint1"]),
                "token_0_vault": p["vault0"], "token_1_vault": p["vault1"], "token_program": TOKEN_PROGRAM,
                "token_program_2022": TOKEN_2022_PROGRAM, "vault_0_mint": p["mint0"], "vault_1_mint": p["mint1"],
                "lp_mint": p["lp_mint"]}

"""SPL Token: the account and mint layouts and the instructions programs invoke.

Token account (165 bytes): mint 32, owner 32, amount u64, delegate COption<Pubkey> (u32 tag + 32),
state u8 (1 = initialized), is_native COption<u64> (u32 tag + 8), delegated_amount u64,
close_authority COption<Pubkey>.
Mint (82 bytes): mint_authority COption<Pubkey>, supply u64, decimals u8, is_initialized u8,
freeze_authority COption<Pubkey>.
"""

from borsh import Writer
from keys import ASSOCIATED_TOKEN_PROGRAM, SYSTEM_PROGRAM, TOKEN_PROGRAM, to_bytes
from base58 import b58encode
from runtime import Account, Instruction, Invocation, ProgramError, rent_exempt

TOKEN_ACCOUNT_SIZE = 165
MINT_SIZE = 82

# Token program errors (spl_token::error::TokenError)
INSUFFICIENT_FUNDS = 1
MINT_MISMATCH = 3
OWNER_MISMATCH = 4


def token_account_data(mint: str, owner: str, amount: int) -> bytes:
    w = Writer().pubkey(mint).pubkey(owner).u64(amount)
    w.u32(0).zeros(32)            # delegate: none
    w.u8(1)                       # AccountState::Initialized
    w.u32(0).zeros(8)             # is_native: none
    w.u64(0)                      # delegated_amount
    w.u32(0).zeros(32)            # close_authority: none
    data = w.build()
    assert len(data) == TOKEN_ACCOUNT_SIZE
    return data


def mint_data(authority: "str | None", supply: int, decimals: int) -> bytes:
    w = Writer()
    if authority is None:
        w.u32(0).zeros(32)
    else:
        w.u32(1).pubkey(authority)
    w.u64(supply).u8(decimals).u8(1)
    w.u32(0).zeros(32)            # freeze_authority: none
    data = w.build()
    assert len(data) == MINT_SIZE
    return data


def token_account(mint: str, owner: str, amount: int) -> Account:
    return Account(rent_exempt(TOKEN_ACCOUNT_SIZE), TOKEN_PROGRAM, token_account_data(mint, owner, amount))


def mint_account(authority: "str | None", supply: int, decimals: int) -> Account:
    return Account(rent_exempt(MINT_SIZE), TOKEN_PROGRAM, mint_data(authority, supply, decimals))


def parse_token_account(data: bytes) -> "dict | None":
    if len(data) != TOKEN_ACCOUNT_SIZE or data[108] == 0:
        return None
    return {
        "mint": b58encode(data[0:32]),
        "owner": b58encode(data[32:64]),
        "amount": int.from_bytes(data[64:72], "little"),
    }


def parse_mint(data: bytes) -> "dict | None":
    if len(data) != MINT_SIZE or data[45] == 0:
        return None
    return {
        "supply": int.from_bytes(data[36:44], "little"),
        "decimals": data[44],
        "authority": b58encode(data[4:36]) if int.from_bytes(data[0:4], "little") else None,
    }


def _set_amount(acc: Account, amount: int) -> None:
    acc.data = acc.data[:64] + amount.to_bytes(8, "little") + acc.data[72:]


def _set_supply(acc: Account, supply: int) -> None:
    acc.data = acc.data[:36] + supply.to_bytes(8, "little") + acc.data[44:]


def balance(view, pubkey: str) -> int:
    acc = view.get(pubkey)
    parsed = parse_token_account(acc.data) if acc is not None and acc.owner == TOKEN_PROGRAM else None
    if parsed is None:
        raise ProgramError(0xBBF, f"{pubkey} is not a token account")  # AccountNotInitialized
    return parsed["amount"]


# --- the token program's instructions, executed ---------------------------------------------


def transfer_checked(inv: Invocation, source: str, mint: str, destination: str, authority: str,
                     amount: int, decimals: int) -> None:
    """CPI TransferChecked (instruction 12): data [12, amount u64 LE, decimals u8], accounts
    [source (w), mint, destination (w), authority (s)]."""
    data = Writer().u8(12).u64(amount).u8(decimals).build()
    ix = Instruction(TOKEN_PROGRAM, [(source, False, True), (mint, False, False),
                                     (destination, False, True), (authority, True, False)], data)

    def body(t: Invocation) -> None:
        t.log("Instruction: TransferChecked")
        view = t.accounts
        src, dst = view.require(source), view.require(destination)
        s, d = parse_token_account(src.data), parse_token_account(dst.data)
        if s is None or d is None:
            raise ProgramError(0xBBF)
        if s["mint"] != mint or d["mint"] != mint:
            raise ProgramError(MINT_MISMATCH, "Error: Account not associated with this Mint")
        if s["owner"] != authority:
            raise ProgramError(OWNER_MISMATCH, "Error: owner does not match")
        if s["amount"] < amount:
            raise ProgramError(INSUFFICIENT_FUNDS, "Error: insufficient funds")
        _set_amount(src, s["amount"] - amount)
        view.put(source, src)
        dst = view.require(destination)
        _set_amount(dst, parse_token_account(dst.data)["amount"] + amount)
        view.put(destination, dst)

    inv.invoke(ix, 6_200, body)


def mint_to(inv: Invocation, mint: str, destination: str, authority: str, amount: int) -> None:
    """CPI MintTo (instruction 7): accounts [mint (w), destination (w), authority (s)]."""
    ix = Instruction(TOKEN_PROGRAM, [(mint, False, True), (destination, False, True), (authority, True, False)],
                     Writer().u8(7).u64(amount).build())

    def body(t: Invocation) -> None:
        t.log("Instruction: MintTo")
        m = t.accounts.require(mint)
        _set_supply(m, parse_mint(m.data)["supply"] + amount)
        t.accounts.put(mint, m)
        d = t.accounts.require(destination)
        _set_amount(d, parse_token_account(d.data)["amount"] + amount)
        t.accounts.put(destination, d)

    inv.invoke(ix, 4_500, body)


def burn(inv: Invocation, account: str, mint: str, authority: str, amount: int) -> None:
    """CPI Burn (instruction 8): accounts [account (w), mint (w), authority (s)]."""
    ix = Instruction(TOKEN_PROGRAM, [(account, False, True), (mint, False, True), (authority, True, False)],
                     Writer().u8(8).u64(amount).build())

    def body(t: Invocation) -> None:
        t.log("Instruction: Burn")
        a = t.accounts.require(account)
        have = parse_token_account(a.data)["amount"]
        if have < amount:
            raise ProgramError(INSUFFICIENT_FUNDS, "Error: insufficient funds")
        _set_amount(a, have - amount)
        t.accounts.put(account, a)
        m = t.accounts.require(mint)
        _set_supply(m, parse_mint(m.data)["supply"] - amount)
        t.accounts.put(mint, m)

    inv.invoke(ix, 4_700, body)


def close_account(inv: Invocation, account: str, destination: str, authority: str) -> None:
    """CPI CloseAccount (instruction 9): accounts [account (w), destination (w), owner (s)]."""
    ix = Instruction(TOKEN_PROGRAM, [(account, False, True), (destination, False, True), (authority, True, False)],
                     bytes([9]))

    def body(t: Invocation) -> None:
        t.log("Instruction: CloseAccount")
        if balance(t.accounts, account) != 0:
            raise ProgramError(11, "Error: Non-native account can only be closed if its balance is zero")
        t.accounts.close(account, destination)

    inv.invoke(ix, 2_900, body)


def initialize_account3(inv: Invocation, account: str, mint: str, owner: str) -> None:
    """CPI InitializeAccount3 (instruction 18, owner in the data): accounts [account (w), mint]."""
    ix = Instruction(TOKEN_PROGRAM, [(account, False, True), (mint, False, False)],
                     bytes([18]) + to_bytes(owner))

    def body(t: Invocation) -> None:
        t.log("Instruction: InitializeAccount3")
        acc = t.accounts.require(account)
        acc.data = token_account_data(mint, owner, 0)
        t.accounts.put(account, acc)

    inv.invoke(ix, 3_100, body)


def initialize_mint2(inv: Invocation, mint: str, decimals: int, authority: str) -> None:
    """CPI InitializeMint2 (instruction 20): data [20, decimals, authority, freeze COption]."""
    ix = Instruction(TOKEN_PROGRAM, [(mint, False, True)],
                     bytes([20, decimals]) + to_bytes(authority) + bytes([0]))

    def body(t: Invocation) -> None:
        t.log("Instruction: InitializeMint2")
        acc = t.accounts.require(mint)
        acc.data = mint_data(authority, 0, decimals)
        t.accounts.put(mint, acc)

    inv.invoke(ix, 2_800, body)


# --- the system program ---------------------------------------------------------------------


def create_account(inv: Invocation, payer: str, new_account: str, space: int, owner: str) -> None:
    """CPI system CreateAccount (instruction 0: lamports u64, space u64, owner): accounts [payer, new]."""
    lamports = rent_exempt(space)
    data = Writer().u32(0).u64(lamports).u64(space).pubkey(owner).build()
    ix = Instruction(SYSTEM_PROGRAM, [(payer, True, True), (new_account, True, True)], data)

    def body(s: Invocation) -> None:
        existing = s.accounts.get(new_account)
        if existing is not None and (existing.data or existing.owner != SYSTEM_PROGRAM):
            raise ProgramError(0, f"Create Account: account Address {{ address: {new_account}, base: None }} "
                                  "already in use")
        try:
            s.accounts.move_lamports(payer, new_account, lamports)
        except ProgramError:
            raise ProgramError(1, f"Transfer: insufficient lamports {s.accounts.lamports(payer)}, need {lamports}")
        acc = s.accounts.require(new_account)
        acc.data = bytes(space)
        acc.owner = owner
        s.accounts.put(new_account, acc)

    inv.invoke(ix, 0, body)


def system_transfer(inv: Invocation, source: str, destination: str, lamports: int) -> None:
    """CPI system Transfer (instruction 2: lamports u64): accounts [from (s,w), to (w)]."""
    ix = Instruction(SYSTEM_PROGRAM, [(source, True, True), (destination, False, True)],
                     Writer().u32(2).u64(lamports).build())

    def body(s: Invocation) -> None:
        have = s.accounts.lamports(source)
        if have < lamports:
            raise ProgramError(1, f"Transfer: insufficient lamports {have}, need {lamports}")
        s.accounts.move_lamports(source, destination, lamports)

    inv.invoke(ix, 0, body)


def create_associated_token_account(inv: Invocation, payer: str, ata: str, owner: str, mint: str) -> None:
    """CPI to the associated token account program's Create (empty data), the way it runs:
    GetAccountDataSize, CreateAccount, InitializeImmutableOwner, InitializeAccount3."""
    ix = Instruction(ASSOCIATED_TOKEN_PROGRAM, [
        (payer, True, True), (ata, False, True), (owner, False, False), (mint, False, False),
        (SYSTEM_PROGRAM, False, False), (TOKEN_PROGRAM, False, False)], b"")

    def body(a: Invocation) -> None:
        a.log("Create")
        size_ix = Instruction(TOKEN_PROGRAM, [(mint, False, False)], bytes([21, 7, 0]))
        a.invoke(size_ix, 1_600, lambda t: (t.log("Instruction: GetAccountDataSize"),
                                             t.returns((TOKEN_ACCOUNT_SIZE).to_bytes(8, "little"))))
        create_account(a, payer, ata, TOKEN_ACCOUNT_SIZE, TOKEN_PROGRAM)
        a.log("Initialize the associated token account")
        immutable = Instruction(TOKEN_PROGRAM, [(ata, False, True)], bytes([22]))
        a.invoke(immutable, 1_400, lambda t: (t.log("Instruction: InitializeImmutableOwner"),
                                               t.log("Please upgrade to SPL Token 2022 for immutable owner support")))
        initialize_account3(a, ata, mint, owner)

    inv.invoke(ix, 7_300, body)

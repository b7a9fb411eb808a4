"""JSON-RPC 2.0 methods over the ledger, answering in the shapes the validator uses.

Every block is final when it is produced, so every commitment sees the same state and
confirmation statuses are "finalized". Reads that the validator answers with a context
({context: {slot, apiVersion}, value}) do so here too.
"""

from encoding import (RpcError, invalid_params, matches, parse_filters, parse_pubkey, parse_signature, ui_account,
                      ui_transaction)
from keys import TOKEN_PROGRAM
from ledger import Ledger, ui_amount
from runtime import rent_exempt
from spl_token import parse_mint, parse_token_account

API_VERSION = "2.2.7"
FEATURE_SET = 3_294_202_862
COMMITMENTS = {"processed", "confirmed", "finalized", "recent", "single", "singleGossip", "root", "max"}
MAX_SIGNATURES_LIMIT = 1000
MAX_MULTIPLE_ACCOUNTS = 100
MAX_SIGNATURE_STATUSES = 256
BLOCKHASH_VALIDITY = 150


def _config(params: list, position: int) -> dict:
    if len(params) <= position or params[position] is None:
        return {}
    config = params[position]
    if not isinstance(config, dict):
        raise invalid_params("Invalid params: configuration must be an object")
    return config


def _param(params: list, position: int, what: str):
    if len(params) <= position:
        raise invalid_params(f"Invalid params: missing {what}")
    return params[position]


class Rpc:
    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.methods = {
            "getSlot": self.get_slot,
            "getBlockHeight": self.get_block_height,
            "getLatestBlockhash": self.get_latest_blockhash,
            "getVersion": lambda params: {"solana-core": API_VERSION, "feature-set": FEATURE_SET},
            "getHealth": lambda params: "ok",
            "getGenesisHash": lambda params: self.ledger.genesis_hash,
            "getIdentity": lambda params: {"identity": self.ledger.genesis_hash},
            "getFirstAvailableBlock": lambda params: self.ledger.slots[0],
            "getEpochInfo": self.get_epoch_info,
            "getMinimumBalanceForRentExemption": self.get_minimum_balance,
            "getAccountInfo": self.get_account_info,
            "getMultipleAccounts": self.get_multiple_accounts,
            "getProgramAccounts": self.get_program_accounts,
            "getBalance": self.get_balance,
            "getTokenAccountBalance": self.get_token_account_balance,
            "getSignaturesForAddress": self.get_signatures_for_address,
            "getTransaction": self.get_transaction,
            "getBlockTime": self.get_block_time,
            "getSignatureStatuses": self.get_signature_statuses,
        }

    # --- dispatch ---------------------------------------------------------------------------

    def handle(self, request) -> "dict | None":
        """One JSON-RPC request object → its response (None for a notification without an id)."""
        if (not isinstance(request, dict) or request.get("jsonrpc") != "2.0"
                or not isinstance(request.get("method"), str)):
            return {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid request"}, "id": None}
        rid = request.get("id")
        params = request.get("params", [])
        try:
            method = self.methods.get(request["method"])
            if method is None:
                raise RpcError(-32601, "Method not found")
            if not isinstance(params, list):
                raise invalid_params("Invalid params: params must be an array")
            result = method(params)
            response = {"jsonrpc": "2.0", "result": result, "id": rid}
        except RpcError as e:
            response = {"jsonrpc": "2.0", "error": e.to_json(), "id": rid}
        except (ValueError, TypeError, KeyError) as e:
            response = {"jsonrpc": "2.0", "error": {"code": -32602, "message": f"Invalid params: {e}"}, "id": rid}
        return None if "id" not in request else response

    def _context(self, value) -> dict:
        return {"context": {"slot": self.ledger.slot, "apiVersion": API_VERSION}, "value": value}

    def _check(self, config: dict) -> None:
        commitment = config.get("commitment")
        if commitment is not None and commitment not in COMMITMENTS:
            raise invalid_params(f"Invalid params: unknown variant `{commitment}`")
        min_slot = config.get("minContextSlot")
        if min_slot is not None and int(min_slot) > self.ledger.slot:
            raise RpcError(-32016, "Minimum context slot has not been reached", {"contextSlot": self.ledger.slot})

    # --- cluster ----------------------------------------------------------------------------

    def get_slot(self, params):
        self._check(_config(params, 0))
        return self.ledger.slot

    def get_block_height(self, params):
        self._check(_config(params, 0))
        return self.ledger.block_height

    def get_latest_blockhash(self, params):
        self._check(_config(params, 0))
        return self._context({"blockhash": self.ledger.last_blockhash,
                              "lastValidBlockHeight": self.ledger.block_height + BLOCKHASH_VALIDITY})

    def get_epoch_info(self, params):
        self._check(_config(params, 0))
        slot = self.ledger.slot
        return {"absoluteSlot": slot, "blockHeight": self.ledger.block_height, "epoch": slot // 432_000,
                "slotIndex": slot % 432_000, "slotsInEpoch": 432_000, "transactionCount": len(self.ledger.transactions)}

    def get_minimum_balance(self, params):
        return rent_exempt(int(_param(params, 0, "data length")))

    # --- accounts ---------------------------------------------------------------------------

    def get_account_info(self, params):
        key = parse_pubkey(_param(params, 0, "pubkey"))
        config = _config(params, 1)
        self._check(config)
        acc = self.ledger.accounts.get(key)
        return self._context(None if acc is None else ui_account(acc, config.get("encoding"), config.get("dataSlice")))

    def get_multiple_accounts(self, params):
        keys = _param(params, 0, "pubkeys")
        if not isinstance(keys, list):
            raise invalid_params("Invalid params: pubkeys must be an array")
        if len(keys) > MAX_MULTIPLE_ACCOUNTS:
            raise invalid_params(f"Too many inputs provided; max {MAX_MULTIPLE_ACCOUNTS}")
        config = _config(params, 1)
        self._check(config)
        out = []
        for k in keys:
            acc = self.ledger.accounts.get(parse_pubkey(k))
            out.append(None if acc is None else ui_account(acc, config.get("encoding"), config.get("dataSlice")))
        return self._context(out)

    def get_program_accounts(self, params):
        program = parse_pubkey(_param(params, 0, "program id"))
        config = _config(params, 1)
        self._check(config)
        filters = parse_filters(config.get("filters"))
        found = [{"pubkey": k, "account": ui_account(a, config.get("encoding"), config.get("dataSlice"))}
                 for k, a in sorted(self.ledger.accounts.items()) if a.owner == program and matches(filters, a.data)]
        return self._context(found) if config.get("withContext") else found

    def get_balance(self, params):
        key = parse_pubkey(_param(params, 0, "pubkey"))
        self._check(_config(params, 1))
        acc = self.ledger.accounts.get(key)
        return self._context(0 if acc is None else acc.lamports)

    def get_token_account_balance(self, params):
        key = parse_pubkey(_param(params, 0, "pubkey"))
        self._check(_config(params, 1))
        acc = self.ledger.accounts.get(key)
        if acc is None:
            raise invalid_params("Invalid param: could not find account")
        parsed = parse_token_account(acc.data) if acc.owner == TOKEN_PROGRAM else None
        if parsed is None:
            raise invalid_params("Invalid param: not a Token account")
        mint = self.ledger.accounts.get(parsed["mint"])
        if mint is None:
            raise invalid_params("Invalid param: could not find mint")
        return self._context(ui_amount(parsed["amount"], parse_mint(mint.data)["decimals"]))

    # --- transactions -----------------------------------------------------------------------

    def get_signatures_for_address(self, params):
        """Newest first: by slot, then by position in the block. `before` starts after the given
        signature, `until` stops before it; an unknown `before` gives nothing, an unknown `until`
        no bound, as the validator's blockstore does."""
        address = parse_pubkey(_param(params, 0, "address"))
        config = _config(params, 1)
        if config.get("commitment") == "processed":
            raise invalid_params("Method does not support commitment below `confirmed`")
        self._check(config)
        limit = int(config.get("limit") or MAX_SIGNATURES_LIMIT)
        if limit > MAX_SIGNATURES_LIMIT or limit < 1:
            raise invalid_params(f"Invalid limit; max {MAX_SIGNATURES_LIMIT}")
        history = self.ledger.by_address.get(address, [])
        end = len(history)
        if config.get("before") is not None:
            before = self.ledger.by_signature.get(parse_signature(config["before"]))
            if before is None:
                return []
            end = self._position(history, before)
        start = 0
        if config.get("until") is not None:
            until = self.ledger.by_signature.get(parse_signature(config["until"]))
            if until is not None:
                start = self._position(history, until) + 1
        out = []
        for record in reversed(history[max(start, 0):max(end, 0)]):
            out.append({"signature": record.signature, "slot": record.slot, "err": record.err, "memo": None,
                        "blockTime": record.block_time, "confirmationStatus": "finalized"})
            if len(out) == limit:
                break
        return out

    @staticmethod
    def _position(history: list, record) -> int:
        """Index of `record` in the address's history, or where it would stand by (slot, index)."""
        lo, hi = 0, len(history)
        key = (record.slot, record.index)
        while lo < hi:
            mid = (lo + hi) // 2
            if (history[mid].slot, history[mid].index) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def get_transaction(self, params):
        signature = parse_signature(_param(params, 0, "signature"))
        config = params[1] if len(params) > 1 else {}
        if isinstance(config, str):
            config = {"encoding": config}
        config = config or {}
        commitment = config.get("commitment")
        if commitment == "processed":
            raise invalid_params("Method does not support commitment below `confirmed`")
        self._check(config)
        record = self.ledger.by_signature.get(signature)
        if record is None:
            return None
        max_version = config.get("maxSupportedTransactionVersion")
        if max_version is not None and int(max_version) != 0:
            raise invalid_params(f"Invalid params: unsupported transaction version {max_version}")
        return ui_transaction(record, config.get("encoding") or "json", max_version is not None)

    def get_block_time(self, params):
        slot = int(_param(params, 0, "slot"))
        block = self.ledger.blocks.get(slot)
        if block is not None:
            return block.block_time
        if slot > self.ledger.slot:
            raise RpcError(-32004, f"Block not available for slot {slot}")
        raise RpcError(-32009, f"Slot {slot} was skipped, or missing in long-term storage")

    def get_signature_statuses(self, params):
        signatures = _param(params, 0, "signatures")
        if not isinstance(signatures, list):
            raise invalid_params("Invalid params: signatures must be an array")
        if len(signatures) > MAX_SIGNATURE_STATUSES:
            raise invalid_params(f"Too many inputs provided; max {MAX_SIGNATURE_STATUSES}")
        out = []
        for s in signatures:
            record = self.ledger.by_signature.get(parse_signature(s))
            out.append(None if record is None else {
                "slot": record.slot, "confirmations": None, "err": record.err,
                "status": {"Ok": None} if record.err is None else {"Err": record.err},
                "confirmationStatus": "finalized"})
        return self._context(out)

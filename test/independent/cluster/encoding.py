"""How accounts and transactions are written in JSON-RPC answers and PubSub notifications
(the validator's UiAccount, UiTransaction and filter rules)."""

import base64

from base58 import b58decode, b58encode
from ledger import compact_u16, serialize_message

U64_MAX = 2**64 - 1
MAX_BASE58_BYTES = 128
BASE58_TOO_LONG = "Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding."


class RpcError(Exception):
    def __init__(self, code: int, message: str, data=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def invalid_params(message: str) -> RpcError:
    return RpcError(-32602, message)


def parse_pubkey(value) -> str:
    try:
        if not isinstance(value, str) or len(b58decode(value)) != 32:
            raise ValueError
    except ValueError:
        raise invalid_params("Invalid param: Invalid") from None
    return value


def parse_signature(value) -> str:
    try:
        if not isinstance(value, str) or len(b58decode(value)) != 64:
            raise ValueError
    except ValueError:
        raise invalid_params("Invalid param: WrongSize") from None
    return value


ENCODINGS = {"binary", "base58", "base64", "jsonParsed"}


def check_encoding(encoding: "str | None") -> None:
    if encoding is not None and encoding not in ENCODINGS:
        raise invalid_params(f"Invalid params: unsupported encoding: {encoding}")


def ui_account(account, encoding: "str | None", data_slice: "dict | None" = None, size_limit: bool = True) -> dict:
    """The validator's UiAccount. `size_limit`: the RPC refuses base58 for data over 128 bytes
    (notifications carry it whatever its size)."""
    check_encoding(encoding)
    data = account.data
    if data_slice is not None:
        offset, length = int(data_slice.get("offset", 0)), int(data_slice.get("length", 0))
        data = data[offset:offset + length]
    encoding = encoding or "binary"
    if encoding in ("base64", "jsonParsed"):
        # jsonParsed falls back to base64 for programs without a parser (all of them here).
        rendered = [base64.b64encode(data).decode(), "base64"]
    elif encoding == "base58":
        if size_limit and len(data) > MAX_BASE58_BYTES:
            raise RpcError(-32600, BASE58_TOO_LONG)
        rendered = [b58encode(data), "base58"]
    elif encoding == "binary":
        if size_limit and len(data) > MAX_BASE58_BYTES:
            raise RpcError(-32600, BASE58_TOO_LONG)
        rendered = b58encode(data)
    return {"data": rendered, "executable": account.executable, "lamports": account.lamports,
            "owner": account.owner, "rentEpoch": U64_MAX, "space": len(account.data)}


def parse_filters(filters) -> list:
    """getProgramAccounts / programSubscribe filters: memcmp {offset, bytes[, encoding]} and dataSize."""
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise invalid_params("Invalid params: filters must be an array")
    if len(filters) > 4:
        raise invalid_params("Too many filters provided; max 4")
    parsed = []
    for f in filters:
        if not isinstance(f, dict) or len(f) != 1:
            raise invalid_params("Invalid params: invalid filter")
        if "dataSize" in f:
            parsed.append(("size", int(f["dataSize"])))
        elif "memcmp" in f:
            m = f["memcmp"]
            raw = m.get("bytes")
            encoding = m.get("encoding", "base58")
            if not isinstance(raw, str):
                raise invalid_params("Invalid params: memcmp bytes must be a string")
            try:
                if encoding == "base58":
                    if len(raw) > 175:
                        raise invalid_params("Invalid param: filter bytes too long")
                    value = b58decode(raw)
                elif encoding == "base64":
                    value = base64.b64decode(raw, validate=True)
                else:
                    raise invalid_params(f"Invalid params: unknown memcmp encoding {encoding}")
            except ValueError:
                raise invalid_params("Invalid param: invalid memcmp bytes") from None
            parsed.append(("memcmp", int(m.get("offset", 0)), value))
        elif "tokenAccountState" in f:
            parsed.append(("token", None))
        else:
            raise invalid_params("Invalid params: unknown filter")
    return parsed


def matches(filters: list, data: bytes) -> bool:
    for f in filters:
        if f[0] == "size" and len(data) != f[1]:
            return False
        if f[0] == "memcmp" and data[f[1]:f[1] + len(f[2])] != f[2]:
            return False
        if f[0] == "token" and (len(data) != 165 or data[108] == 0):
            return False
    return True


def wire_transaction(record) -> bytes:
    """The transaction as it was sent: its signatures, then the legacy message they sign."""
    out = bytearray(compact_u16(len(record.signatures)))
    for s in record.signatures:
        out += b58decode(s)
    return bytes(out) + serialize_message(record.message, record.recent_blockhash)


def ui_transaction(record, encoding: str, with_version: bool) -> dict:
    """getTransaction's answer for a confirmed legacy transaction."""
    m = record.message
    key_index = {k: i for i, k in enumerate(m.account_keys)}
    inner_groups: dict = {}
    for top, inner in zip(record.inner_index, record.inner):
        inner_groups.setdefault(top, []).append({
            "programIdIndex": key_index[inner.instruction.program_id],
            "accounts": [key_index[k] for k, _, _ in inner.instruction.accounts],
            "data": b58encode(inner.instruction.data),
            "stackHeight": inner.stack_height,
        })
    meta = {
        "err": record.err,
        "status": {"Ok": None} if record.err is None else {"Err": record.err},
        "fee": record.fee,
        "preBalances": record.pre_balances,
        "postBalances": record.post_balances,
        "innerInstructions": [{"index": i, "instructions": ixs} for i, ixs in sorted(inner_groups.items())],
        "logMessages": record.logs,
        "preTokenBalances": record.pre_token_balances,
        "postTokenBalances": record.post_token_balances,
        "rewards": [],
        "loadedAddresses": {"writable": [], "readonly": []},
        "computeUnitsConsumed": record.compute_units,
    }
    if encoding == "json":
        transaction = {
            "signatures": record.signatures,
            "message": {
                "accountKeys": m.account_keys,
                "header": m.header,
                "recentBlockhash": record.recent_blockhash,
                "instructions": [{"programIdIndex": ix["programIdIndex"], "accounts": ix["accounts"],
                                  "data": b58encode(ix["data"]), "stackHeight": None} for ix in m.instructions],
            },
        }
    elif encoding == "base64":
        transaction = [base64.b64encode(wire_transaction(record)).decode(), "base64"]
    elif encoding == "base58":
        transaction = [b58encode(wire_transaction(record)), "base58"]
    else:
        raise invalid_params(f"Invalid params: unsupported encoding: {encoding}")
    out = {"slot": record.slot, "blockTime": record.block_time, "meta": meta, "transaction": transaction}
    if with_version:
        out["version"] = "legacy"
    return out

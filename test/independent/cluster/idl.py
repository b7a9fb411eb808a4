"""Anchor IDLs read at run time, and a generic Borsh encoder driven by them.

Two formats are understood:
- Anchor 0.30+ ("address" at the top, explicit 8-byte discriminators, "pubkey", {"defined": {"name"}},
  "writable"/"signer" account flags);
- the legacy format (no discriminators: sha256("account:<Name>")[:8] for accounts,
  sha256("global:<snake_case_name>")[:8] for instructions, sha256("event:<Name>")[:8] for events;
  "publicKey", {"defined": "Name"}, "isMut"/"isSigner" flags).

Both are reduced to one internal description, so every value goes through the same encoder:
a struct is a dict by field name (a list for tuple fields), an enum is {"Variant": payload} or the
bare variant name, an option is None or its value, a public key is base58 text.
"""

import hashlib
import json
import re

from borsh import Writer

_PRIMITIVES = {
    "bool", "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128",
    "f32", "f64", "string", "bytes", "pubkey",
}


def sha256_8(preimage: str) -> bytes:
    return hashlib.sha256(preimage.encode()).digest()[:8]


def snake_case(name: str) -> str:
    """The Rust name of a camelCased legacy IDL name: "tcompNoop" → "tcomp_noop", "buyT22" → "buy_t22"."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


def pascal_case(name: str) -> str:
    """The name Anchor logs as "Instruction: <Name>": "swap_base_input" → "SwapBaseInput",
    "tcompNoop" → "TcompNoop"."""
    parts = snake_case(name).split("_")
    return "".join(p[:1].upper() + p[1:] for p in parts)


class IdlError(Exception):
    pass


class Idl:
    def __init__(self, raw: dict, address: "str | None" = None):
        self.legacy = "address" not in raw
        self.address = address or raw.get("address") or (raw.get("metadata") or {}).get("address")
        self.name = raw.get("name") or (raw.get("metadata") or {}).get("name")
        self.types: dict = {}
        for t in raw.get("types", []):
            self.types[t["name"]] = self._typedef(t["type"])
        self.accounts: dict = {}
        for a in raw.get("accounts", []):
            if self.legacy:
                self.types.setdefault(a["name"], self._typedef(a["type"]))
                disc = sha256_8(f"account:{a['name']}")
            else:
                disc = bytes(a["discriminator"])
            self.accounts[a["name"]] = disc
        self.events: dict = {}
        for e in raw.get("events", []) or []:
            if self.legacy:
                self.types.setdefault(e["name"], ("struct", self._fields(e["fields"])))
                disc = sha256_8(f"event:{e['name']}")
            else:
                disc = bytes(e["discriminator"])
            self.events[e["name"]] = disc
        self.instructions: dict = {}
        for ix in raw["instructions"]:
            disc = sha256_8(f"global:{snake_case(ix['name'])}") if self.legacy else bytes(ix["discriminator"])
            self.instructions[ix["name"]] = {
                "discriminator": disc,
                "args": ("named", [(a["name"], self._type(a["type"])) for a in ix["args"]]),
                "accounts": self._flatten_accounts(ix["accounts"]),
            }

    @classmethod
    def load(cls, path: str, address: "str | None" = None) -> "Idl":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f), address)

    # --- reading the IDL ------------------------------------------------------------------

    def _type(self, t):
        if isinstance(t, str):
            if t == "publicKey":
                return "pubkey"
            if t not in _PRIMITIVES:
                raise IdlError(f"unknown IDL type {t!r}")
            return t
        if "defined" in t:
            d = t["defined"]
            return ("defined", d if isinstance(d, str) else d["name"])
        for wrapper in ("option", "coption", "vec"):
            if wrapper in t:
                return (wrapper, self._type(t[wrapper]))
        if "array" in t:
            inner, length = t["array"]
            if not isinstance(length, int):
                raise IdlError(f"generic array length {length!r} is not supported")
            return ("array", self._type(inner), length)
        raise IdlError(f"unsupported IDL type {t!r}")

    def _fields(self, fields):
        """("named", [(name, type)]) for a struct's fields, ("tuple", [type]) for tuple fields."""
        if fields and isinstance(fields[0], dict) and "name" in fields[0]:
            return ("named", [(f["name"], self._type(f["type"])) for f in fields])
        return ("tuple", [self._type(f) for f in fields or []])

    def _typedef(self, t):
        kind = t["kind"]
        if kind == "struct":
            return ("struct", self._fields(t.get("fields", [])))
        if kind == "enum":
            variants = [(v["name"], self._fields(v["fields"]) if v.get("fields") else None) for v in t["variants"]]
            return ("enum", variants)
        if kind == "type":
            return ("alias", self._type(t["alias"]))
        raise IdlError(f"unsupported type kind {kind!r}")

    def _flatten_accounts(self, accounts, prefix: str = ""):
        out = []
        for a in accounts:
            if "accounts" in a:  # a nested group of accounts, flattened in order
                out.extend(self._flatten_accounts(a["accounts"], prefix + a["name"] + "."))
                continue
            writable = a.get("writable", a.get("isMut", False))
            signer = a.get("signer", a.get("isSigner", False))
            optional = a.get("optional", a.get("isOptional", False))
            out.append({"name": prefix + a["name"], "writable": bool(writable), "signer": bool(signer),
                        "optional": bool(optional), "address": a.get("address")})
        return out

    # --- encoding -------------------------------------------------------------------------

    def encode_value(self, w: Writer, t, value, where: str = "") -> None:
        if isinstance(t, str):
            if t == "bool":
                w.bool(value)
            elif t == "string":
                w.string(value)
            elif t == "bytes":
                w.bytes(value)
            elif t == "pubkey":
                w.pubkey(value)
            elif t == "f32":
                w.f32(value)
            elif t == "f64":
                w.f64(value)
            else:
                w.int(t, value)
            return
        tag = t[0]
        if tag in ("option", "coption"):
            if value is None:
                # A COption is a u32 tag followed by the (zeroed) value's full width; Anchor's
                # IDL coption is only used with fixed-size types.
                if tag == "option":
                    w.u8(0)
                else:
                    w.u32(0)
                    self.encode_value(w, t[1], self.zero(t[1]), where)
            else:
                w.u8(1) if tag == "option" else w.u32(1)
                self.encode_value(w, t[1], value, where)
        elif tag == "vec":
            w.u32(len(value))
            for i, item in enumerate(value):
                self.encode_value(w, t[1], item, f"{where}[{i}]")
        elif tag == "array":
            if len(value) != t[2]:
                raise IdlError(f"{where}: array of {t[2]} expected, got {len(value)}")
            if t[1] == "u8" and isinstance(value, (bytes, bytearray)):
                w.raw(value)
            else:
                for i, item in enumerate(value):
                    self.encode_value(w, t[1], item, f"{where}[{i}]")
        elif tag == "defined":
            self.encode_defined(w, t[1], value, where)
        else:
            raise IdlError(f"{where}: cannot encode {t!r}")

    def encode_defined(self, w: Writer, name: str, value, where: str = "") -> None:
        if name not in self.types:
            raise IdlError(f"type {name} is not defined in the IDL")
        d = self.types[name]
        where = where or name
        if d[0] == "alias":
            self.encode_value(w, d[1], value, where)
        elif d[0] == "struct":
            self._encode_fields(w, d[1], value, where)
        else:
            variants = d[1]
            if isinstance(value, str):
                chosen, payload = value, None
            else:
                if len(value) != 1:
                    raise IdlError(f"{where}: an enum value names exactly one variant")
                ((chosen, payload),) = value.items()
            for index, (vname, fields) in enumerate(variants):
                if vname == chosen:
                    w.u8(index)
                    if fields is not None:
                        self._encode_fields(w, fields, payload, f"{where}.{vname}")
                    return
            raise IdlError(f"{where}: {name} has no variant {chosen}")

    def _encode_fields(self, w: Writer, fields, value, where: str) -> None:
        kind, fields = fields
        if kind == "named":
            for fname, ftype in fields:
                if fname not in value:
                    raise IdlError(f"{where}: missing field {fname}")
                self.encode_value(w, ftype, value[fname], f"{where}.{fname}")
            extra = set(value) - {f for f, _ in fields}
            if extra:
                raise IdlError(f"{where}: unknown fields {sorted(extra)}")
        else:
            if not isinstance(value, (list, tuple)) or len(value) != len(fields):
                raise IdlError(f"{where}: {len(fields)} tuple fields expected")
            for i, (ftype, item) in enumerate(zip(fields, value)):
                self.encode_value(w, ftype, item, f"{where}.{i}")

    def zero(self, t):
        if t == "pubkey":
            return "11111111111111111111111111111111"
        if t == "bool":
            return False
        if isinstance(t, str):
            return 0
        raise IdlError(f"no zero value for {t!r}")

    def _tagged(self, discriminator: bytes, name: str, value: dict) -> bytes:
        w = Writer().raw(discriminator)
        self.encode_defined(w, name, value)
        return w.build()

    def encode_account(self, name: str, value: dict) -> bytes:
        """Discriminator ‖ the account type's Borsh encoding."""
        return self._tagged(self.accounts[name], name, value)

    def encode_event(self, name: str, value: dict) -> bytes:
        """Discriminator ‖ the event type's Borsh encoding, as emit! logs it."""
        return self._tagged(self.events[name], name, value)

    def encode_instruction(self, name: str, args: dict) -> bytes:
        ix = self.instructions[name]
        w = Writer().raw(ix["discriminator"])
        self._encode_fields(w, ix["args"], args, name)
        return w.build()

    def account_metas(self, name: str, accounts: dict) -> list:
        """The instruction's accounts in IDL order as (pubkey, signer, writable). A missing optional
        account is passed as the program id, Anchor's convention for None."""
        out = []
        for spec in self.instructions[name]["accounts"]:
            key = accounts.get(spec["name"])
            if key is None:
                if spec["address"] is not None:
                    key = spec["address"]
                elif spec["optional"]:
                    out.append((self.address, False, False))
                    continue
                else:
                    raise IdlError(f"{name}: account {spec['name']} is required")
            out.append((key, spec["signer"], spec["writable"]))
        unknown = set(accounts) - {s["name"] for s in self.instructions[name]["accounts"]}
        if unknown:
            raise IdlError(f"{name}: unknown accounts {sorted(unknown)}")
        return out

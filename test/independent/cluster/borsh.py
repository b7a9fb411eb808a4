"""Borsh serialization: the byte layout of Solana program accounts, instructions and events.

Little-endian fixed-width integers, u8 booleans, u32 length prefixes for strings, byte strings and
vectors, a u8 tag for options (0 none / 1 some) and enum variants, fixed arrays without a prefix.
"""

import struct

from keys import to_bytes

_INTS = {
    "u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False), "u128": (16, False),
    "i8": (1, True), "i16": (2, True), "i32": (4, True), "i64": (8, True), "i128": (16, True),
}


class Writer:
    def __init__(self) -> None:
        self._parts: list = []

    def int(self, kind: str, value: int) -> "Writer":
        size, signed = _INTS[kind]
        # to_bytes raises OverflowError for a value outside the type: a layout bug, never silent.
        self._parts.append(int(value).to_bytes(size, "little", signed=signed))
        return self

    def u8(self, v: int) -> "Writer":
        return self.int("u8", v)

    def u16(self, v: int) -> "Writer":
        return self.int("u16", v)

    def u32(self, v: int) -> "Writer":
        return self.int("u32", v)

    def u64(self, v: int) -> "Writer":
        return self.int("u64", v)

    def i64(self, v: int) -> "Writer":
        return self.int("i64", v)

    def bool(self, v: bool) -> "Writer":
        return self.u8(1 if v else 0)

    def f32(self, v: float) -> "Writer":
        self._parts.append(struct.pack("<f", v))
        return self

    def f64(self, v: float) -> "Writer":
        self._parts.append(struct.pack("<d", v))
        return self

    def raw(self, data: bytes) -> "Writer":
        self._parts.append(bytes(data))
        return self

    def pubkey(self, key: "str | bytes") -> "Writer":
        return self.raw(to_bytes(key))

    def bytes(self, data: bytes) -> "Writer":
        self.u32(len(data))
        return self.raw(data)

    def string(self, text: str) -> "Writer":
        return self.bytes(text.encode("utf-8"))

    def option(self, value, write) -> "Writer":
        if value is None:
            return self.u8(0)
        self.u8(1)
        write(value)
        return self

    def option_u64(self, value: "int | None") -> "Writer":
        return self.option(value, self.u64)

    def option_pubkey(self, value: "str | None") -> "Writer":
        return self.option(value, self.pubkey)

    def zeros(self, n: int) -> "Writer":
        return self.raw(bytes(n))

    def build(self) -> bytes:
        return b"".join(self._parts)

"""Public keys: program-derived addresses and deterministic wallet keys.

A program-derived address is sha256(seeds ‖ bump ‖ program_id ‖ "ProgramDerivedAddress") for
the highest bump (255 downwards) whose hash is *not* a point of the ed25519 curve, so that no
private key can exist for it. The curve test is the decompression check of an Edwards point.
"""

import hashlib

from base58 import b58decode, b58encode

SYSTEM_PROGRAM = "11111111111111111111111111111111"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
ASSOCIATED_TOKEN_PROGRAM = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"
MEMO_PROGRAM = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"
RENT_SYSVAR = "SysvarRent111111111111111111111111111111111"
CLOCK_SYSVAR = "SysvarC1ock11111111111111111111111111111111"
BPF_UPGRADEABLE_LOADER = "BPFLoaderUpgradeab1e11111111111111111111111"
NATIVE_LOADER = "NativeLoader1111111111111111111111111111111"

# ed25519: -x^2 + y^2 = 1 + d x^2 y^2 over GF(2^255 - 19)
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def is_on_curve(key: bytes) -> bool:
    """True when the 32 bytes decompress to a point of ed25519 (x^2 = (y^2-1)/(d y^2+1) has a root)."""
    y = int.from_bytes(key, "little") & ((1 << 255) - 1)
    if y >= _P:
        return False
    y2 = y * y % _P
    u = (y2 - 1) % _P
    v = (_D * y2 + 1) % _P
    if u == 0:
        return True
    if v == 0:
        return False
    x2 = u * pow(v, _P - 2, _P) % _P
    # Euler's criterion: x2 is a square modulo p.
    return pow(x2, (_P - 1) // 2, _P) == 1


def to_bytes(key: "str | bytes") -> bytes:
    if isinstance(key, bytes):
        if len(key) != 32:
            raise ValueError("a public key is 32 bytes")
        return key
    raw = b58decode(key)
    if len(raw) != 32:
        raise ValueError(f"not a 32-byte public key: {key}")
    return raw


def _seed_bytes(seed: "str | bytes") -> bytes:
    # Seeds are raw bytes; a base58 string stands for a public key's 32 bytes.
    return seed if isinstance(seed, bytes) else to_bytes(seed)


def create_program_address(seeds: list, program_id: str) -> "str | None":
    h = hashlib.sha256()
    for s in seeds:
        raw = _seed_bytes(s)
        if len(raw) > 32:
            raise ValueError("a seed is at most 32 bytes")
        h.update(raw)
    h.update(to_bytes(program_id))
    h.update(b"ProgramDerivedAddress")
    digest = h.digest()
    return None if is_on_curve(digest) else b58encode(digest)


_PDA_CACHE: dict = {}


def find_program_address(seeds: list, program_id: str) -> "tuple[str, int]":
    cache_key = (tuple(_seed_bytes(s) for s in seeds), program_id)
    hit = _PDA_CACHE.get(cache_key)
    if hit is not None:
        return hit
    for bump in range(255, -1, -1):
        address = create_program_address(list(seeds) + [bytes([bump])], program_id)
        if address is not None:
            _PDA_CACHE[cache_key] = (address, bump)
            return address, bump
    raise ValueError("no viable bump seed")


def pda(seeds: list, program_id: str) -> str:
    return find_program_address(seeds, program_id)[0]


def associated_token_address(owner: str, mint: str, token_program: str = TOKEN_PROGRAM) -> str:
    return pda([owner, token_program, mint], ASSOCIATED_TOKEN_PROGRAM)

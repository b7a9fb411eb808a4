"""Ed25519 (RFC 8032) key generation and signing, so that every transaction carries real
signatures of its message by its signers' keys, verifiable by any client.

Points are in extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, x·y = T/Z.
"""

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
_GY = 4 * pow(5, P - 2, P) % P


def _recover_x(y: int, sign: int) -> int:
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * pow(2, (P - 1) // 4, P) % P
    if x & 1 != sign:
        x = P - x
    return x


_GX = _recover_x(_GY, 0)
BASE = (_GX, _GY, 1, _GX * _GY % P)


def _add(p1: tuple, p2: tuple) -> tuple:
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(p1: tuple) -> tuple:
    x1, y1, z1, _ = p1
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


# Multiples 2^i·B, so that a scalar multiplication of the base point needs only additions.
_BASE_POWERS = [BASE]
for _ in range(255):
    _BASE_POWERS.append(_double(_BASE_POWERS[-1]))


def _base_mult(k: int) -> tuple:
    q = (0, 1, 1, 0)
    i = 0
    while k:
        if k & 1:
            q = _add(q, _BASE_POWERS[i])
        k >>= 1
        i += 1
    return q


def _encode(p1: tuple) -> bytes:
    x, y, z, _ = p1
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _sha512_int(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


class Keypair:
    """A keypair from a 32-byte secret seed, as Solana wallets derive it (RFC 8032 §5.1.5)."""

    def __init__(self, seed: bytes):
        h = hashlib.sha512(seed).digest()
        a = int.from_bytes(h[:32], "little")
        a &= (1 << 254) - 8
        a |= 1 << 254
        self._scalar = a
        self._prefix = h[32:]
        self.public = _encode(_base_mult(a))

    def sign(self, message: bytes) -> bytes:
        r = _sha512_int(self._prefix, message) % L
        big_r = _encode(_base_mult(r))
        k = _sha512_int(big_r, self.public, message) % L
        s = (r + k * self._scalar) % L
        return big_r + s.to_bytes(32, "little")

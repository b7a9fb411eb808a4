"""The one source of randomness: everything the cluster plays follows from the seed.

Python's Mersenne Twister is seeded with the integer seed; only getrandbits() is used, whose
output for a given seed is the same on every CPython 3 release.
"""

import random

from ed25519 import Keypair


class Prng:
    def __init__(self, seed: int, stream: str = ""):
        # Independent streams per purpose, so adding draws to one does not shift another.
        self._r = random.Random(f"{seed}/{stream}")

    def below(self, n: int) -> int:
        """Uniform in [0, n) by rejection, so no modulo bias."""
        if n <= 0:
            raise ValueError("n must be positive")
        bits = n.bit_length()
        while True:
            v = self._r.getrandbits(bits)
            if v < n:
                return v

    def between(self, lo: int, hi: int) -> int:
        """Uniform in [lo, hi]."""
        return lo + self.below(hi - lo + 1)

    def chance(self, p: float) -> bool:
        return self.below(1_000_000) < int(p * 1_000_000)

    def pick(self, items: list):
        return items[self.below(len(items))]

    def bytes(self, n: int) -> bytes:
        return self._r.getrandbits(8 * n).to_bytes(n, "little")

    def keypair(self) -> Keypair:
        """A keypair from a 32-byte secret seed drawn from the generator."""
        return Keypair(self.bytes(32))

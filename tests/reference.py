"""Slow, obviously correct reference implementations for the tests.

Everything here works on unpacked 0/1 arrays or Python integers, with loops
where that is clearest.  Fast paths are compared with these exactly.
"""

from __future__ import annotations

import numpy as np


def pack_loop(bits: np.ndarray) -> np.ndarray:
    """Pack one 0/1 vector bit by bit, from the layout's definition.

    Bit j lives in byte j // 8 at position 7 - j % 8 (most significant
    first); byte b is byte b % 8 of little-endian word b // 8.
    """
    bits = np.asarray(bits)
    n = bits.shape[-1]
    words = [0] * ((n + 63) // 64)
    for j in range(n):
        if bits[j]:
            byte = j // 8
            words[byte // 8] |= 1 << (8 * (byte % 8) + 7 - j % 8)
    return np.array(words, dtype=np.uint64)


def unpack(words: np.ndarray, n_bits: int) -> np.ndarray:
    words = np.asarray(words, dtype="<u8")
    return np.unpackbits(words.view(np.uint8), axis=-1, count=n_bits)


def hamming(Q: np.ndarray, A: np.ndarray, n_bits: int) -> np.ndarray:
    """Distances by unpacking and comparing bits, shape (q, N)."""
    q = unpack(np.atleast_2d(Q), n_bits).astype(np.int64)
    a = unpack(np.atleast_2d(A), n_bits).astype(np.int64)
    return (q[:, None, :] != a[None, :, :]).sum(axis=-1)


def radius_lists(Q, A, n_bits, radius):
    d = hamming(Q, A, n_bits)
    return [np.flatnonzero(row <= radius) for row in d]


def knn_lists(Q, A, n_bits, k):
    d = hamming(Q, A, n_bits)
    out = []
    for row in d:
        order = sorted(range(row.size), key=lambda i: (row[i], i))[:k]
        out.append((np.array(order), row[order]))
    return out


class NaiveSDM:
    """Kanerva's SDM with unpacked bits, int64 counters and explicit clamping."""

    def __init__(self, addresses_bits, n_data, radius=None, k_nearest=None,
                 dtype=np.int16):
        self.a = np.asarray(addresses_bits, dtype=np.int64)
        self.radius = radius
        self.k = k_nearest
        info = np.iinfo(dtype)
        self.lo, self.hi = int(info.min), int(info.max)
        self.c = np.zeros((self.a.shape[0], n_data), dtype=np.int64)

    def active(self, x):
        d = (self.a != np.asarray(x, dtype=np.int64)).sum(axis=1)
        if self.k is None:
            return np.flatnonzero(d <= self.radius)
        return np.array(sorted(range(d.size), key=lambda i: (d[i], i))[: self.k])

    def write(self, x, w, weight=1):
        for i in self.active(x):
            for j, bit in enumerate(w):
                v = self.c[i, j] + (weight if bit else -weight)
                self.c[i, j] = min(max(v, self.lo), self.hi)

    def sums(self, x):
        return self.c[self.active(x)].sum(axis=0)

    def read(self, x, tie_bits):
        s = self.sums(x)
        return np.where(s > 0, 1, np.where(s < 0, 0, tie_bits)).astype(np.uint8)

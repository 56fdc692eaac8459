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


class NaiveHyperplaneSDM(NaiveSDM):
    """The same memory with Jaeckel's rule: a location is activated when the
    address agrees with it on every one of its selected coordinates.

    ``design`` lists, per location, its (coordinate, required value) pairs
    (:func:`selected_coordinates`).
    """

    def __init__(self, design, n_data, dtype=np.int16):
        self.design = [list(pairs) for pairs in design]
        info = np.iinfo(dtype)
        self.lo, self.hi = int(info.min), int(info.max)
        self.c = np.zeros((len(self.design), n_data), dtype=np.int64)

    def active(self, x):
        return np.array([i for i, pairs in enumerate(self.design)
                         if all(int(x[j]) == v for j, v in pairs)], dtype=np.int64)


# ---------------------------------------------------------------------------
# Hopfield networks (fastsdm.hopfield): bipolar lists and plain loops
# ---------------------------------------------------------------------------


def bipolar(bits) -> list[int]:
    """+1 for bit 1, -1 for bit 0."""
    return [1 if b else -1 for b in bits]


def hebbian_weights(patterns_bits, kappa=None) -> np.ndarray:
    """W_ij = Σ_μ x_μi x_μj (i != j), one pattern at a time, clipped to ±kappa."""
    X = [bipolar(p) for p in patterns_bits]
    n = len(X[0]) if X else 0
    W = [[0] * n for _ in range(n)]
    for x in X:
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                v = W[i][j] + x[i] * x[j]
                if kappa is not None:
                    v = min(max(v, -kappa), kappa)
                W[i][j] = v
    return np.array(W, dtype=np.int64).reshape(n, n)


def hopfield_field(W, s, i) -> int:
    return sum(int(W[i][j]) * s[j] for j in range(len(s)))


def hopfield_energy(W, s) -> int:
    """E = -1/2 Σ_ij s_i W_ij s_j (an exact integer: W is symmetric, zero diagonal)."""
    total = sum(s[i] * int(W[i][j]) * s[j] for i in range(len(s)) for j in range(len(s)))
    assert total % 2 == 0
    return -total // 2


def _sign(field, old, tie):
    if field > 0:
        return 1
    if field < 0:
        return -1
    return {"keep": old, "one": 1, "zero": -1}[tie]


def hopfield_sync_step(W, s, tie="keep") -> list[int]:
    """Every unit at once to the sign of its field."""
    return [_sign(hopfield_field(W, s, i), s[i], tie) for i in range(len(s))]


def hopfield_async_sweep(W, s, order, tie="keep", energies=None) -> list[int]:
    """Units one at a time in ``order``, each seeing the units updated before it.

    With ``energies`` (a list), the energy after every unit update is appended.
    """
    s = list(s)
    for i in order:
        s[i] = _sign(hopfield_field(W, s, i), s[i], tie)
        if energies is not None:
            energies.append(hopfield_energy(W, s))
    return s


def hopfield_read(W, queries_bits, iterations, *, update, tie="keep", rng=None):
    """Iterated reads with per-query stopping at a fixed point.

    Asynchronous sweep t of the call uses the t-th ``rng.permutation(n)``
    draw, shared by every query (drawn when the first query needs it).
    Returns (bits, steps, converged).
    """
    n = len(queries_bits[0])
    orders = []
    out, steps, converged = [], [], []
    for bits in queries_bits:
        s = bipolar(bits)
        done = False
        t = 0
        for t in range(iterations):
            if update == "synchronous":
                new = hopfield_sync_step(W, s, tie)
            else:
                if t == len(orders):
                    orders.append(rng.permutation(n))
                new = hopfield_async_sweep(W, s, orders[t], tie)
            done = new == s
            s = new
            if done:
                break
        out.append([1 if v > 0 else 0 for v in s])
        steps.append(t + 1)
        converged.append(done)
    return np.array(out, dtype=np.uint8), np.array(steps), np.array(converged)


def modern_hopfield_step(patterns_bits, query_bits, beta, tie="keep"):
    """sign(Σ_μ softmax_μ(β x_μ·ξ) x_μ) on bipolar vectors, with math.exp."""
    import math

    X = [bipolar(p) for p in patterns_bits]
    xi = bipolar(query_bits)
    scores = [sum(a * b for a, b in zip(x, xi, strict=True)) for x in X]
    top = max(scores)
    e = [math.exp(beta * (s - top)) for s in scores]
    total = sum(e)
    w = [v / total for v in e]
    out = []
    for j in range(len(xi)):
        s = sum(wm * x[j] for wm, x in zip(w, X, strict=True))
        tol = 2 * len(X) * np.finfo(float).eps
        if s > tol:
            out.append(1)
        elif s < -tol:
            out.append(0)
        else:
            out.append({"keep": query_bits[j], "one": 1, "zero": 0}[tie])
    return out, w


# ---------------------------------------------------------------------------
# Jaeckel's selected-coordinate design (fastsdm._hyperplane)
# ---------------------------------------------------------------------------


def selected_coordinates(mask_words, value_words, n_bits):
    """Per location, the list of (coordinate, required value), unpacking the words."""
    masks = unpack(np.atleast_2d(mask_words), n_bits)
    values = unpack(np.atleast_2d(value_words), n_bits)
    return [[(j, int(values[i, j])) for j in range(n_bits) if masks[i, j]]
            for i in range(masks.shape[0])]


def hyperplane_lists(queries_bits, design, n_bits=None):
    """Activated locations per query: every (coordinate, value) must match."""
    out = []
    for x in np.atleast_2d(queries_bits):
        out.append(np.array([i for i, pairs in enumerate(design)
                             if all(int(x[j]) == v for j, v in pairs)], dtype=np.int64))
    return out


def all_designs(n, k):
    """Every selected-coordinate location of {0,1}^n with k coordinates: (coords, values)."""
    from itertools import combinations, product

    return [(c, v) for c in combinations(range(n), k) for v in product((0, 1), repeat=k)]


def count_designs_activated_by_both(n, k, h):
    """Brute force: locations activated by 0...0 and by 1..1 0..0 (h ones)."""
    x = [0] * n
    y = [1] * h + [0] * (n - h)
    return sum(1 for c, v in all_designs(n, k)
               if all(x[j] == b for j, b in zip(c, v, strict=True))
               and all(y[j] == b for j, b in zip(c, v, strict=True)))

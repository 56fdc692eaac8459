"""Slow, obviously correct reference implementations for the tests.

Everything here works on unpacked 0/1 arrays or Python integers, with loops
where that is clearest.  Fast paths are compared with these exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

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
    """Kanerva's SDM with unpacked bits, int64 counters and explicit clamping.

    The weighted operations of issue 16: ``kappa`` clamps every updated
    counter to ``[-kappa, kappa]`` instead of the dtype's bounds;
    ``distance_weights[h]`` multiplies the weight of a location at Hamming
    distance ``h`` (a zero product leaves the location alone); ``sums(x, z)``
    adds ``sign(c) * |c| ** z`` (``math.pow``, Python floats) over the
    activated locations in ascending order.
    """

    def __init__(self, addresses_bits, n_data, radius=None, k_nearest=None,
                 dtype=np.int16, kappa=None):
        self.a = np.asarray(addresses_bits, dtype=np.int64)
        self.radius = radius
        self.k = k_nearest
        info = np.iinfo(dtype)
        self.lo, self.hi = int(info.min), int(info.max)
        if kappa is not None:
            self.lo, self.hi = -kappa, kappa
        self.c = np.zeros((self.a.shape[0], n_data), dtype=np.int64)

    def distances(self, x):
        return (self.a != np.asarray(x, dtype=np.int64)).sum(axis=1)

    def active(self, x):
        d = self.distances(x)
        if self.k is None:
            return np.flatnonzero(d <= self.radius)
        return np.array(sorted(range(d.size), key=lambda i: (d[i], i))[: self.k])

    def write(self, x, w, weight=1, distance_weights=None):
        d = self.distances(x)
        for i in self.active(x):
            f = weight if distance_weights is None else weight * int(distance_weights[d[i]])
            if f == 0:
                continue
            # Exact int64 arithmetic (|counter|, |f| < 2**31), then the clamp.
            v = self.c[i] + f * (2 * np.asarray(w, dtype=np.int64) - 1)
            self.c[i] = np.minimum(np.maximum(v, self.lo), self.hi)

    def sums(self, x, z=None):
        if z is None:
            return self.c[self.active(x)].sum(axis=0)
        import math

        out = [0.0] * self.c.shape[1]
        for i in sorted(self.active(x)):
            for j in range(self.c.shape[1]):
                c = int(self.c[i, j])
                out[j] += math.pow(c, z) if c > 0 else -math.pow(-c, z) if c < 0 else 0.0
        return np.array(out, dtype=np.float64)

    def read(self, x, tie_bits, z=None):
        s = self.sums(x, z)
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


# ---------------------------------------------------------------------------
# COMPARISONS: every fast public function beside its naive reference
# ---------------------------------------------------------------------------
#
# numbagg's pattern: one row per fast function -- the fast call, the naive
# reference above, and an input generator -- run by one parametrized test
# (tests/test_reference.py::test_fast_function_matches_its_naive_reference).
# Both callables take the generator's arguments and return values compared
# exactly (np.testing.assert_equal: arrays, lists of arrays, tuples).  A new
# fast public function adds its row here.


class Comparison(NamedTuple):
    fast: Callable
    naive: Callable
    inputs: Callable  # inputs(rng) -> tuple of arguments


def _bits(rng, m, n):
    return rng.integers(0, 2, size=(m, n), dtype=np.uint8)


def _packed(rng, m, n):
    import fastsdm

    return fastsdm.pack_bits(_bits(rng, m, n))


def _search_inputs(rng, n=77, m=9, N=40):
    return _packed(rng, m, n), _packed(rng, N, n), n


def _csr_lists(indptr, indices):
    return [indices[indptr[i]:indptr[i + 1]] for i in range(indptr.size - 1)]


def _sdm_inputs(rng, *, radius=None, k_nearest=None, dtype="int8", weight=90):
    n, N = 24, 60
    return (_bits(rng, N, n), _bits(rng, 7, n), _bits(rng, 7, 10), _bits(rng, 5, n),
            dict(radius=radius, k_nearest=k_nearest, counter_dtype=dtype), weight)


def _fast_sdm(addresses, keys, values, queries, activation, weight):
    """write twice (saturating int8 at weight 90), then read_sums and read (ties zero)."""
    import fastsdm

    mem = fastsdm.SDM(keys.shape[1], addresses=fastsdm.pack_bits(addresses), n_value_bits=10,
                      ties="zero", **activation)
    for _ in range(2):
        mem.write(keys, values, weight=weight)
    return mem.counters.astype(np.int64), mem.read_sums(queries), mem.read(queries)


def _naive_sdm(addresses, keys, values, queries, activation, weight):
    ref = NaiveSDM(addresses, values.shape[1], radius=activation["radius"],
                   k_nearest=activation["k_nearest"], dtype=np.dtype(activation["counter_dtype"]))
    for _ in range(2):
        for x, w in zip(keys, values, strict=True):
            ref.write(x, w, weight)
    zero = np.zeros(values.shape[1], dtype=np.uint8)
    return (ref.c, np.array([ref.sums(x) for x in queries]),
            np.array([ref.read(x, zero) for x in queries]))


def _fast_hopfield(patterns, states, kappa):
    from fastsdm.hopfield import Hopfield

    net = Hopfield(patterns.shape[1], kappa=kappa)
    net.write(patterns)
    return net.weights.astype(np.int64), net.fields(states), net.energy(states)


def _naive_hopfield(patterns, states, kappa):
    W = hebbian_weights(patterns, kappa)
    S = [bipolar(s) for s in states]
    return (W, np.array([[hopfield_field(W, s, i) for i in range(len(s))] for s in S]),
            np.array([hopfield_energy(W, s) for s in S]))


def _fast_modern(patterns, queries, beta):
    from fastsdm.hopfield import ModernHopfield

    net = ModernHopfield(patterns.shape[1], beta)
    net.write(patterns)
    return net.read(queries)


def _naive_modern(patterns, queries, beta):
    return np.array([modern_hopfield_step(patterns, q, beta)[0] for q in queries],
                    dtype=np.uint8)


COMPARISONS: dict[str, Comparison] = {
    "pack_bits": Comparison(
        lambda bits: __import__("fastsdm").pack_bits(bits),
        lambda bits: np.array([pack_loop(row) for row in bits]),
        lambda rng: (_bits(rng, 6, 131),)),
    "unpack_bits": Comparison(
        lambda words, n: __import__("fastsdm").unpack_bits(words, n),
        unpack,
        lambda rng: (_packed(rng, 6, 131), 131)),
    "hamming_distances": Comparison(
        lambda Q, A, n: __import__("fastsdm").hamming_distances(Q, A, n_bits=n),
        hamming, _search_inputs),
    "hamming_distances (bytes, stacked batches)": Comparison(
        lambda Q, A, n: __import__("fastsdm").hamming_distances(
            np.packbits(unpack(Q, n), axis=-1).reshape(3, 3, -1), A, n_bits=n),
        lambda Q, A, n: hamming(Q, A, n).reshape(3, 3, -1), _search_inputs),
    "radius_search": Comparison(
        lambda Q, A, n: _csr_lists(*__import__("fastsdm").radius_search(Q, A, 35, n_bits=n)),
        lambda Q, A, n: radius_lists(Q, A, n, 35), _search_inputs),
    "knn_search": Comparison(
        lambda Q, A, n: list(zip(*__import__("fastsdm").knn_search(Q, A, 6, n_bits=n),
                                 strict=True)),
        lambda Q, A, n: knn_lists(Q, A, n, 6), _search_inputs),
    "SDM write/read_sums/read (radius, int8 saturating)": Comparison(
        _fast_sdm, _naive_sdm, lambda rng: _sdm_inputs(rng, radius=10)),
    "SDM write/read_sums/read (k nearest, int16)": Comparison(
        _fast_sdm, _naive_sdm, lambda rng: _sdm_inputs(rng, k_nearest=7, dtype="int16",
                                                       weight=3)),
    "Hopfield write/fields/energy": Comparison(
        _fast_hopfield, _naive_hopfield,
        lambda rng: (_bits(rng, 5, 20), _bits(rng, 4, 20), None)),
    "Hopfield write/fields/energy (kappa)": Comparison(
        _fast_hopfield, _naive_hopfield,
        lambda rng: (_bits(rng, 9, 20), _bits(rng, 4, 20), 2)),
    "ModernHopfield read": Comparison(
        _fast_modern, _naive_modern, lambda rng: (_bits(rng, 6, 30), _bits(rng, 5, 30), 0.3)),
}

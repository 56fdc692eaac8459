"""Slow, obviously correct reference implementations for the tests.

Everything here works on unpacked 0/1 arrays, Python integers or float64
scalars, with loops where that is clearest.  Fast paths are compared with
these exactly, or within a stated tolerance where floating-point sums run in
another order (the COMPARISONS table at the end says which).
"""

from __future__ import annotations

import math
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
        d = None if distance_weights is None else self.distances(x)
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
# Bit vectors with noise (fastsdm.bits.flip_bits): Floyd's algorithm, row by row
# ---------------------------------------------------------------------------


def flip_bits_loop(bits_rows, k, seed):
    """Flip k distinct bits per row, chosen by Floyd's algorithm from ``default_rng(seed)``.

    The documented draw order of fastsdm.bits: for j = n - draws .. n - 1,
    one ``integers(0, j + 1)`` per row (a vector of draws, row r taking the
    r-th); a row takes t, or j when t is already taken.  More than n // 2
    flips choose the n - k bits that stay instead.
    """
    rows = [list(map(int, r)) for r in np.atleast_2d(bits_rows)]
    n = len(rows[0])
    rng = np.random.default_rng(seed)
    complement = k > n // 2
    draws = n - k if complement else k
    chosen = [set() for _ in rows]
    for j in range(n - draws, n):
        t = rng.integers(0, j + 1, size=len(rows))
        for r in range(len(rows)):
            chosen[r].add(j if int(t[r]) in chosen[r] else int(t[r]))
    out = []
    for r, row in enumerate(rows):
        flip = set(range(n)) - chosen[r] if complement else chosen[r]
        out.append([1 - b if j in flip else b for j, b in enumerate(row)])
    return np.array(out, dtype=np.uint8)


# ---------------------------------------------------------------------------
# Continuous SDM (fastsdm.ContinuousSDM): float64 cosines pair by pair
# ---------------------------------------------------------------------------


def unit_float32(x):
    """Rows L2-normalised in float64, then rounded to float32 (the memories' documented rule)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def cosine_loop(u, a) -> float:
    """cos(u, a) of two float32 rows, summed left to right in float64."""
    xa = xx = aa = 0.0
    for x, y in zip(map(float, u), map(float, a), strict=True):
        xa += x * y
        xx += x * x
        aa += y * y
    return min(1.0, max(-1.0, xa / math.sqrt(xx * aa)))


class NaiveContinuousSDM:
    """Kanerva's memory on the unit sphere: a location is active when cos >= threshold
    (``1 - 2 radius / dim``), or among the k largest cosines (ties to the lower index);
    accumulators add ``value * weight`` (the product rounded once to their dtype), sums run
    in float64."""

    def __init__(self, addresses, value_dim, *, radius=None, threshold=None, k_nearest=None,
                 dtype=np.float32):
        self.a = unit_float32(addresses)
        dim = self.a.shape[1]
        self.threshold = 1 - 2 * radius / dim if radius is not None else threshold
        self.k = k_nearest
        self.dtype = np.dtype(dtype)
        self.acc = np.zeros((self.a.shape[0], value_dim), dtype=self.dtype)

    def active(self, u):
        cos = [cosine_loop(u, a) for a in self.a]
        if self.k is None:
            return [i for i, c in enumerate(cos) if c >= self.threshold]
        return sorted(sorted(range(len(cos)), key=lambda i: (-cos[i], i))[: self.k])

    def write(self, key, value, weight):
        delta = (np.asarray(value, dtype=np.float64) * weight).astype(self.dtype)  # rounded once
        for i in self.active(unit_float32(key)[0]):
            self.acc[i] += delta

    def sums(self, query):
        out = np.zeros(self.acc.shape[1])
        for i in self.active(unit_float32(query)[0]):
            out += self.acc[i].astype(np.float64)
        return out

    def read(self, query, normalize=True):
        s = self.sums(query)
        if not normalize:
            return s.astype(self.dtype)
        norm = math.sqrt(sum(v * v for v in s))
        return (s / norm if norm > 0 else s).astype(self.dtype)


# ---------------------------------------------------------------------------
# Attention (fastsdm.attention): exact ball intersections, softmax with math.exp
# ---------------------------------------------------------------------------


def intersection_count(n, d, h) -> int:
    """Points within d of both x and y at distance h, counted exactly.

    A point z agrees with x on a of the h bits where x and y differ, and
    differs from both on b of the n - h bits where they agree:
    dist(z, x) = h - a + b, dist(z, y) = a + b.
    """
    return sum(math.comb(h, a) * math.comb(n - h, b)
               for a in range(h + 1) for b in range(n - h + 1)
               if h - a + b <= d and a + b <= d)


def softmax_loop(scores, beta):
    """softmax(beta * scores) with math.exp, the maximum subtracted first."""
    top = max(scores)
    e = [math.exp(beta * (s - top)) for s in scores]
    total = sum(e)
    return [v / total for v in e]


def sdm_pattern_read_loop(queries_bits, keys_bits, values_bits, n, *, radius=None, beta=None,
                          iterations=1):
    """The SDM read with infinitely many neurons, query by query.

    Weights ``I(h)`` as exact integers (sums exact; a zero sum is a tie) or,
    with ``beta``, ``softmax(beta (1 - 2 h / n))`` (a sum within ``2 N eps`` of
    zero is a tie).  Ties keep the query's bit when autoassociative
    (``values_bits is None``), else read 0.  Iterated reads stop per query at
    a fixed point.  Returns (bits, steps, converged).
    """
    auto = values_bits is None
    values = [list(map(int, v)) for v in (keys_bits if auto else values_bits)]
    keys = [list(map(int, k)) for k in keys_bits]
    eps = np.finfo(float).eps

    def read(x):
        h = [sum(a != b for a, b in zip(x, k, strict=True)) for k in keys]
        if beta is None:
            w = [intersection_count(n, radius, hi) for hi in h]
            tol = 0
        else:
            w = softmax_loop([1 - 2 * hi / n for hi in h], beta)
            tol = 2 * len(keys) * eps
        out = []
        for j in range(len(values[0])):
            s = sum(wm * (2 * v[j] - 1) for wm, v in zip(w, values, strict=True))
            out.append(1 if s > tol else 0 if s < -tol else (x[j] if auto else 0))
        return out

    bits, steps, converged = [], [], []
    for q in queries_bits:
        x, done, reads = list(map(int, q)), False, 0
        while reads < iterations and not done:
            new = read(x)
            reads += 1
            done = new == x
            x = new
        bits.append(x)
        steps.append(reads)
        converged.append(done)
    return np.array(bits, dtype=np.uint8), np.array(steps), np.array(converged)


def continuous_pattern_read_loop(queries, keys, values, *, weight, iterations=1):
    """``Σ_μ w_μ v_μ`` query by query, ``w`` from ``weight(cosines)`` normalised to sum 1.

    Queries and keys L2-normalised in float64; ``values=None`` is
    autoassociative (values are the unit keys; each read is normalised and a
    read with no weight keeps its query).  Iterated reads stop when no
    coordinate of any query moves by more than 1e-12.
    """
    def unit(x):
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    K = unit(keys)
    auto = values is None
    V = K if auto else np.asarray(values, dtype=np.float64)

    def read(q):
        cos = [min(1.0, max(-1.0, sum(float(a) * float(b) for a, b in zip(q, k, strict=True))))
               for k in K]
        w = weight(cos)
        total = sum(w)
        out = sum((wm / total * v for wm, v in zip(w, V, strict=True)),
                  np.zeros(V.shape[1])) if total > 0 else np.zeros(V.shape[1])
        if not auto:
            return out
        norm = math.sqrt(sum(x * x for x in out))
        return out / norm if norm > 0 else q

    current = unit(queries)
    if not auto:  # one read: the values are not queries
        return np.array([read(q) for q in current])
    for _ in range(iterations):
        new = np.array([read(q) for q in current])
        moved = max(abs(a - b) for a, b in zip(new.ravel(), current.ravel(), strict=True))
        current = new
        if moved <= 1e-12:
            break
    return current


def softmax_attention_loop(q, K, V, beta, normalize=False):
    """``Σ_μ softmax_μ(β k_μ·q) v_μ`` with Python sums; normalize: unit q and keys first."""
    def rows(x):
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return x / np.linalg.norm(x, axis=1, keepdims=True) if normalize else x

    Q, K, V = rows(q), rows(K), np.asarray(V, dtype=np.float64)
    out = []
    for x in Q:
        w = softmax_loop([sum(float(a) * float(b) for a, b in zip(x, k, strict=True))
                          for k in K], beta)
        out.append([sum(wm * float(v[j]) for wm, v in zip(w, V, strict=True))
                    for j in range(V.shape[1])])
    return np.array(out)


# ---------------------------------------------------------------------------
# COMPARISONS: every fast public function beside its naive reference
# ---------------------------------------------------------------------------
#
# numbagg's pattern: one row per fast function -- the fast call, the naive
# reference above, and an input generator -- run by one parametrized test
# (tests/test_reference.py::test_fast_function_matches_its_naive_reference).
# Both callables take the generator's arguments and return values compared
# exactly (np.testing.assert_equal: arrays, lists of arrays, tuples), or, for
# floating-point results whose sums run in another order, with ``close(rtol)``.
# The same test perturbs one element of the reference's answer and requires
# the comparison to fail, so no row compares empty results.  A new fast public
# function adds its row here.


def close(rtol, atol=0.0):
    """A check: equal shapes, every element within ``rtol`` (and ``atol``), recursively."""
    def check(got, want):
        if isinstance(want, tuple | list):
            assert isinstance(got, tuple | list) and len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                check(g, w)
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, strict=True)
    return check


class Comparison(NamedTuple):
    fast: Callable
    naive: Callable
    inputs: Callable  # inputs(rng) -> tuple of arguments
    check: Callable = np.testing.assert_equal  # check(fast result, naive result)


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


def _fast_flip(bits, k, seed):
    import fastsdm

    return fastsdm.unpack_bits(fastsdm.flip_bits(fastsdm.pack_bits(bits), bits.shape[1], k,
                                                 seed=seed), bits.shape[1])


def _naive_flip(bits, k, seed):
    return flip_bits_loop(bits, k, seed)


def _continuous_inputs(rng, rule, dtype="float32"):
    dim, N = 8, 48
    return (rng.standard_normal((N, dim)), rng.standard_normal((9, dim)),
            rng.standard_normal((9, 3)), rng.standard_normal((6, dim)), rule, dtype, 0.75)


def _fast_continuous(addresses, keys, values, queries, rule, dtype, weight):
    """write a batch, then activate, read_sums and read(normalize=False) the queries."""
    from fastsdm import ContinuousSDM

    mem = ContinuousSDM(addresses.shape[1], value_dim=values.shape[1], addresses=addresses,
                        counter_dtype=dtype, **rule)
    mem.write(keys, values, weight=weight)
    return (_csr_lists(*mem.activate(queries)), mem.accumulators, mem.read_sums(queries),
            mem.read(queries, normalize=False))


def _naive_continuous(addresses, keys, values, queries, rule, dtype, weight):
    ref = NaiveContinuousSDM(addresses, values.shape[1], dtype=dtype, **rule)
    for key, value in zip(keys, values, strict=True):
        ref.write(key, value, weight)
    return ([np.array(ref.active(u), dtype=np.int64) for u in unit_float32(queries)], ref.acc,
            np.array([ref.sums(x) for x in queries]),
            np.array([ref.read(x, normalize=False) for x in queries]))


def _fast_continuous_unit(addresses, keys, values, queries, rule, dtype, weight):
    from fastsdm import ContinuousSDM

    mem = ContinuousSDM(addresses.shape[1], value_dim=values.shape[1], addresses=addresses,
                        counter_dtype=dtype, **rule)
    mem.write(keys, values, weight=weight)
    return mem.read(queries)


def _naive_continuous_unit(addresses, keys, values, queries, rule, dtype, weight):
    ref = NaiveContinuousSDM(addresses, values.shape[1], dtype=dtype, **rule)
    for key, value in zip(keys, values, strict=True):
        ref.write(key, value, weight)
    return np.array([ref.read(x) for x in queries])


def _design_inputs(rng, n=20, N=40, k=3):
    """A random selected-coordinate design as 0/1 rows: masks (k ones each) and values."""
    masks = np.zeros((N, n), dtype=np.uint8)
    for row in masks:
        row[rng.choice(n, k, replace=False)] = 1
    values = masks & _bits(rng, N, n)
    return (masks, values, _bits(rng, 12, n), _bits(rng, 12, 6), _bits(rng, 5, n))


def _fast_hyperplane_sdm(masks, values, keys, data, queries):
    import fastsdm

    mem = fastsdm.SDM(masks.shape[1], design=(fastsdm.pack_bits(masks), fastsdm.pack_bits(values)),
                      n_value_bits=data.shape[1], counter_dtype="int8", ties="zero")
    mem.write(keys, data, weight=50)
    mem.write(keys[:6], data[:6], weight=50)  # saturates int8 where keys repeat
    return mem.counters.astype(np.int64), mem.read_sums(queries), mem.read(queries)


def _naive_hyperplane_sdm(masks, values, keys, data, queries):
    design = [[(j, int(values[i, j])) for j in range(masks.shape[1]) if masks[i, j]]
              for i in range(masks.shape[0])]
    ref = NaiveHyperplaneSDM(design, data.shape[1], dtype=np.int8)
    for x, w in [*zip(keys, data, strict=True), *zip(keys[:6], data[:6], strict=True)]:
        ref.write(x, w, 50)
    zero = np.zeros(data.shape[1], dtype=np.uint8)
    return (ref.c, np.array([ref.sums(x) for x in queries]),
            np.array([ref.read(x, zero) for x in queries]))


def _pattern_inputs(rng, n=20, **options):
    return (_bits(rng, 6, n), _bits(rng, 10, n), None, n, options)


def _fast_sdm_pattern(queries, keys, values, n, options):
    from fastsdm.attention import sdm_pattern_read

    bits, info = sdm_pattern_read(queries, keys, values, n_bits=n, return_info=True, **options)
    return bits, info.steps, info.converged


def _naive_sdm_pattern(queries, keys, values, n, options):
    options = {key: v for key, v in options.items() if key != "n_value_bits"}
    return sdm_pattern_read_loop(queries, keys, values, n, **options)


def _real_inputs(rng, m=5, N=12, d=6, dv=3, **options):
    return (rng.standard_normal((m, d)), rng.standard_normal((N, d)),
            rng.standard_normal((N, dv)), options)


def _fast_continuous_pattern(queries, keys, values, options):
    from fastsdm.attention import continuous_pattern_read

    return continuous_pattern_read(queries, keys, values, **options)


def _naive_continuous_pattern(queries, keys, values, options):
    from fastsdm import theory

    options = dict(options)
    beta, radius = options.pop("beta", None), options.pop("radius", None)
    dim = np.shape(keys)[1]
    if beta is None:  # cap weights: the intersection areas (theory is checked against scipy)
        def weight(cos):
            return [theory.cap_intersection(dim, radius, c) for c in cos]
    else:
        def weight(cos):
            return softmax_loop(cos, beta)
    return continuous_pattern_read_loop(queries, keys, values, weight=weight, **options)


def _fast_softmax_attention(q, K, V, options):
    from fastsdm.attention import softmax_attention

    return softmax_attention(q, K, V, **options)


def _naive_softmax_attention(q, K, V, options):
    beta = options.get("beta") or 1 / math.sqrt(np.shape(K)[1])
    return softmax_attention_loop(q, K, V, beta, options.get("normalize", False))


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
    "flip_bits": Comparison(
        _fast_flip, _naive_flip, lambda rng: (_bits(rng, 7, 70), 9, int(rng.integers(1 << 30)))),
    "flip_bits (more than half the bits)": Comparison(
        _fast_flip, _naive_flip, lambda rng: (_bits(rng, 7, 70), 50, int(rng.integers(1 << 30)))),
    "ContinuousSDM write/activate/read_sums/read (radius, float32)": Comparison(
        _fast_continuous, _naive_continuous,
        lambda rng: _continuous_inputs(rng, dict(radius=3.0))),
    "ContinuousSDM write/activate/read_sums/read (k nearest, float64)": Comparison(
        _fast_continuous, _naive_continuous,
        lambda rng: _continuous_inputs(rng, dict(k_nearest=5), "float64")),
    "ContinuousSDM read (unit vectors)": Comparison(
        _fast_continuous_unit, _naive_continuous_unit,
        lambda rng: _continuous_inputs(rng, dict(threshold=0.2)), close(1e-6, 1e-7)),
    "SDM write/read_sums/read (hyperplane activation, int8 saturating)": Comparison(
        _fast_hyperplane_sdm, _naive_hyperplane_sdm, _design_inputs),
    "sdm_pattern_read (SDM weights, iterated)": Comparison(
        _fast_sdm_pattern, _naive_sdm_pattern,
        lambda rng: _pattern_inputs(rng, radius=7, iterations=4)),
    "sdm_pattern_read (softmax weights, heteroassociative)": Comparison(
        _fast_sdm_pattern, _naive_sdm_pattern,
        lambda rng: (_bits(rng, 6, 20), _bits(rng, 10, 20), _bits(rng, 10, 9), 20,
                     dict(beta=4.0, n_value_bits=9))),
    "continuous_pattern_read (cap weights)": Comparison(
        _fast_continuous_pattern, _naive_continuous_pattern,
        lambda rng: _real_inputs(rng, radius=2.5), close(1e-9)),
    "continuous_pattern_read (softmax, autoassociative, iterated)": Comparison(
        _fast_continuous_pattern, _naive_continuous_pattern,
        lambda rng: (*_real_inputs(rng)[:2], None, dict(beta=6.0, iterations=5)), close(1e-9)),
    "softmax_attention": Comparison(
        _fast_softmax_attention, _naive_softmax_attention,
        lambda rng: _real_inputs(rng, beta=0.7), close(1e-12)),
    "softmax_attention (default beta, QK-normalised)": Comparison(
        _fast_softmax_attention, _naive_softmax_attention,
        lambda rng: _real_inputs(rng, normalize=True), close(1e-12)),
}

"""Jaeckel's selected-coordinate design: theory, random designs, activation kernels."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import fastsdm
from fastsdm import _hyperplane
from fastsdm import theory as ht
from fastsdm._hyperplane import (
    HyperplaneIndex,
    design_from_coordinates,
    generate_design,
    hyperplane_activate,
    hyperplane_index,
    random_design,
)
from fastsdm.theory import fit_beta, radius_for_probability
from tests.reference import (
    all_designs,
    count_designs_activated_by_both,
    hyperplane_lists,
    selected_coordinates,
)

nojit = pytest.mark.nojit
kernel = pytest.mark.kernel


# ---------------------------------------------------------------------------
# Theory against brute-force enumeration and exact arithmetic
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("n, k", [(1, 0), (1, 1), (4, 2), (5, 1), (6, 3), (6, 6)])
def test_counts_match_enumeration(n, k):
    designs = all_designs(n, k)
    assert ht.hyperplane_location_count(n, k) == len(designs)
    for h in range(n + 1):
        count = count_designs_activated_by_both(n, k, h)
        assert ht.hyperplane_intersection(n, k, h) == count
        assert ht.hyperplane_intersection_probability(n, k, h) == float(
            Fraction(count, len(designs)))
    # Activation probability: the share of designs a fixed address activates.
    assert ht.hyperplane_activation_probability(n, k) == float(
        Fraction(count_designs_activated_by_both(n, k, 0), len(designs)))
    assert ht.hyperplane_activation_probability(n, k) == 2.0**-k


@nojit
def test_exact_arrays_and_fractions():
    counts = ht.hyperplane_intersection(1000, 10, np.array([[0, 1], [500, 990]]))
    assert counts.dtype == object and counts.shape == (2, 2)
    assert counts[0, 0] == math.comb(1000, 10) and counts[1, 1] == 1
    assert ht.hyperplane_intersection(1000, 10, 991) == 0
    frac = ht.hyperplane_intersection_fraction(1000, 10, [0, 1, 100])
    product = [math.prod(Fraction(1000 - h - i, 1000 - i) for i in range(10))
               for h in (0, 1, 100)]
    assert list(frac) == [float(p) for p in product]
    prob = ht.hyperplane_intersection_probability(1000, 10, [3])
    assert prob.dtype == np.float64
    assert prob[0] == float(Fraction(math.comb(997, 10), math.comb(1000, 10) * 1024))
    assert ht.hyperplane_expected_activated(1000, 10, 10**6) == 10**6 / 1024
    assert ht.hyperplane_expected_intersection(64, 5, 0, 2**20) == 2**20 / 32
    assert ht.hyperplane_activation_probability(2000, 1100) == 0.0  # underflow, documented


@nojit
def test_k_for_probability():
    k_of = ht.hyperplane_k_for_probability
    assert k_of(1000, 2.0**-10) == 10 and k_of(1000, 2.0**-10, "at_least") == 10
    above = np.nextafter(2.0**-10, 1.0)
    assert k_of(1000, above, "at_least") == 9
    mid = 2.0**-10.5  # the geometric midpoint, rounded: compare p**2 exactly
    lower, upper = np.nextafter(mid, 0.0), np.nextafter(mid, 1.0)
    expected = {p: (10 if Fraction(p) ** 2 >= Fraction(1, 2**21) else 11)
                for p in (lower, mid, upper)}
    for p, k in expected.items():
        assert k_of(1000, p) == k
    assert k_of(1000, 0.001) == 10 and k_of(1000, 0.001, "at_least") == 9
    assert k_of(1000, 1.0) == 0 and k_of(5, 1e-300) == 5
    assert k_of(100, Fraction(1, 3)) == 2  # 1/3: between 1/2 and 1/4, nearer 1/4 in log


@nojit
def test_beta_at_zero_and_its_limit():
    for n, k in ((64, 10), (1000, 10), (256, 3)):
        exact = 0.5 * n * math.log(Fraction(math.comb(n, k), math.comb(n - 1, k)))
        assert ht.hyperplane_beta(n, k) == pytest.approx(exact, rel=1e-14)
    assert ht.hyperplane_beta(10**9, 12) == pytest.approx(6.0, rel=1e-7)
    assert math.copysign(1.0, ht.hyperplane_beta(64, 0)) == 1.0  # 0.0, not -0.0


@nojit
@pytest.mark.parametrize("method", ["paper", "ols"])
def test_fit_beta_against_numpy_polyfit(method):
    n, k, h_max = 128, 7, 40
    h = np.arange(h_max)
    y = np.array([math.log(math.comb(n - d, k)) for d in h])
    slope = np.polyfit(1.0 - 2.0 * h / n, y, 1)[0]
    if method == "paper":
        slope *= h_max / (h_max - 1)
    assert ht.hyperplane_fit_beta(n, k, h_max, method) == pytest.approx(slope, rel=1e-10)
    # Default range: the radius of equal activation probability.
    d = radius_for_probability(n, 2.0**-k)
    assert ht.hyperplane_fit_beta(n, k) == ht.hyperplane_fit_beta(n, k, d)
    # The decay steepens with h: a wider fit gives a larger beta, all above
    # the slope at h = 0 ... and near k/2 for n >> h.
    assert ht.hyperplane_beta(n, k) < ht.hyperplane_fit_beta(n, k, 10) < ht.hyperplane_fit_beta(
        n, k, 60)
    assert ht.hyperplane_fit_beta(10**5, 8, 50, "ols") == pytest.approx(4.0, rel=1e-3)


def test_fit_beta_compares_with_the_radius_design():
    # At equal activation probability the design's weights fall faster than
    # the ball intersections near h = 0 (n = 64, k = 10 against d = 20).
    assert ht.hyperplane_fit_beta(64, 10) > fit_beta(64, radius_for_probability(64, 2.0**-10))


def test_theory_errors():
    with pytest.raises(TypeError, match="n .the number of bits. must be an integer"):
        ht.hyperplane_activation_probability(10.0, 2)
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        ht.hyperplane_location_count(0, 0)
    with pytest.raises(TypeError, match="k .selected coordinates per location. must be an"):
        ht.hyperplane_intersection(10, 2.0, 1)
    with pytest.raises(ValueError, match=r"must be in \[0, n\] = \[0, 10\], got 11"):
        ht.hyperplane_intersection(10, 11, 1)
    with pytest.raises(TypeError, match="Hamming distance h must be an integer"):
        ht.hyperplane_intersection_fraction(10, 2, 1.5)
    with pytest.raises(ValueError, match=r"Hamming distance h must be in \[0, n\]"):
        ht.hyperplane_intersection_probability(10, 2, [3, 11])
    with pytest.raises(TypeError, match="n_locations must be a positive number"):
        ht.hyperplane_expected_activated(10, 2, "many")
    with pytest.raises(ValueError, match="n_locations must be a positive finite number"):
        ht.hyperplane_expected_intersection(10, 2, 1, 0)
    with pytest.raises(TypeError, match="p must be a probability"):
        ht.hyperplane_k_for_probability(10, "0.1")
    with pytest.raises(ValueError, match=r"p must be a probability in \(0, 1\]"):
        ht.hyperplane_k_for_probability(10, 0.0)
    with pytest.raises(ValueError, match="rounding must be one of"):
        ht.hyperplane_k_for_probability(10, 0.1, "down")
    with pytest.raises(ValueError, match="needs k < n"):
        ht.hyperplane_beta(8, 8)
    with pytest.raises(ValueError, match="needs n >= 2"):
        ht.hyperplane_fit_beta(1, 1)
    with pytest.raises(ValueError, match=r"needs k in \[1, n - 1\]"):
        ht.hyperplane_fit_beta(8, 0)
    with pytest.raises(TypeError, match="h_max must be an integer"):
        ht.hyperplane_fit_beta(64, 4, 10.0)
    with pytest.raises(ValueError, match=r"h_max must be in \[2, n - k \+ 1\]"):
        ht.hyperplane_fit_beta(64, 4, 62)
    with pytest.raises(ValueError, match="method must be one of"):
        ht.hyperplane_fit_beta(64, 4, method="mle")


# ---------------------------------------------------------------------------
# Random designs
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("n, k", [(1, 1), (63, 5), (64, 0), (65, 64), (200, 12)])
def test_random_design_selects_k_distinct_coordinates(n, k):
    masks, values = random_design(300, n, k, seed=1)
    assert masks.shape == values.shape == (300, (n + 63) // 64) and masks.dtype == np.uint64
    assert (np.bitwise_count(masks).sum(axis=1) == k).all()
    assert not (values & ~masks).any()
    fastsdm.unpack_bits(masks, n)  # pad bits are zero (checked by unpack_bits)


def test_random_design_is_reproducible_and_ranges_agree(monkeypatch):
    monkeypatch.setattr(_hyperplane, "ADDRESS_BLOCK", 100)
    monkeypatch.setattr(_hyperplane, "DRAW_BYTES", 40 * 70)  # 40 rows per draw
    masks, values = random_design(450, 70, 6, seed=9)
    again = random_design(450, 70, 6, seed=np.random.SeedSequence(9))
    assert (again[0] == masks).all() and (again[1] == values).all()
    other = random_design(450, 70, 6, seed=10)
    assert not (other[0] == masks).all()
    part = generate_design(9, 450, 70, 6, start=130, stop=333)
    assert (part[0] == masks[130:333]).all() and (part[1] == values[130:333]).all()


def test_random_design_is_uniform():
    n, k, N = 40, 6, 40_000
    masks, values = random_design(N, n, k, seed=3)
    sel = fastsdm.unpack_bits(masks, n).astype(np.int64)
    val = fastsdm.unpack_bits(values, n).astype(np.int64)
    per_coordinate = sel.sum(axis=0)  # Binomial(N, k/n) each
    mean, sd = N * k / n, math.sqrt(N * k / n * (1 - k / n))
    assert np.abs(per_coordinate - mean).max() < 5 * sd
    ones = val.sum()  # Binomial(N k, 1/2)
    assert abs(ones - N * k / 2) < 5 * math.sqrt(N * k / 4)
    # Pairs of coordinates are selected together as often as a uniform k-subset says.
    together = (sel[:, 0] & sel[:, 1]).sum()
    p = k * (k - 1) / (n * (n - 1))
    assert abs(together - N * p) < 5 * math.sqrt(N * p)


def test_required_ones_is_the_hyperplane_design():
    masks, values = random_design(100, 50, 4, seed=0, required="ones")
    assert (values == masks).all()


@nojit
def test_design_from_coordinates_round_trip(rng):
    n, k = 70, 5
    coords = np.array([rng.choice(n, size=k, replace=False) for _ in range(20)])
    req = rng.integers(0, 2, size=(20, k))
    masks, values = design_from_coordinates(coords, req, n)
    pairs = selected_coordinates(masks, values, n)
    for row, c, v in zip(pairs, coords, req, strict=True):
        assert row == sorted(zip(c.tolist(), v.tolist(), strict=True))


def test_design_errors():
    with pytest.raises(ValueError, match=r"k must be in \[0, 8\]"):
        random_design(10, 8, 9)
    with pytest.raises(ValueError, match="required must be one of"):
        random_design(10, 8, 2, required="zeros")
    with pytest.raises(ValueError, match=r"n_locations must be in \[0, inf\]"):
        random_design(-1, 8, 2)
    with pytest.raises(TypeError, match="coordinates must be a 2-D integer array"):
        design_from_coordinates([0.5, 1], [[1, 0]], 4)
    with pytest.raises(ValueError, match="required must be 0/1 values of the same shape"):
        design_from_coordinates([[0, 1]], [[1]], 4)
    with pytest.raises(ValueError, match=r"coordinates must lie in \[0, 4\)"):
        design_from_coordinates([[0, 4]], [[1, 0]], 4)
    with pytest.raises(ValueError, match="required values must be 0 or 1"):
        design_from_coordinates([[0, 1]], [[2, 0]], 4)
    with pytest.raises(ValueError, match="coordinates must be distinct within a location"):
        design_from_coordinates([[0, 1], [2, 2]], [[1, 0], [1, 1]], 4)


# ---------------------------------------------------------------------------
# Activation against the naive reference
# ---------------------------------------------------------------------------


def _check_csr(indptr, indices, expected):
    assert indptr.dtype == np.int64 and indices.dtype == np.int64
    assert indptr[0] == 0 and indptr.size == len(expected) + 1
    for q, want in enumerate(expected):
        got = indices[indptr[q] : indptr[q + 1]]
        assert (got == want).all(), (q, got, want)


@nojit
@kernel
@pytest.mark.parametrize("n", [1, 63, 64, 65, 200])
@pytest.mark.parametrize("n_queries", [1, 3, 9])
@pytest.mark.parametrize("use_index", [False, True])
@pytest.mark.parametrize("parallel", [False, True])
def test_activation_matches_reference(n, n_queries, use_index, parallel, rng):
    k = min(n, 3)
    masks, values = random_design(130, n, k, seed=n)
    design = selected_coordinates(masks, values, n)
    queries = rng.integers(0, 2, size=(n_queries, n), dtype=np.uint8)
    # Make sure some locations are activated: queries that copy a design.
    for q in range(n_queries):
        for j, v in design[q]:
            queries[q, j] = v
    index = hyperplane_index(masks, values, n_bits=n) if use_index else None
    expected = hyperplane_lists(queries, design)
    assert all(len(e) for e in expected)
    _check_csr(*hyperplane_activate(queries, masks, values, n_bits=n, index=index,
                                    parallel=parallel), expected)
    _check_csr(*hyperplane_activate(fastsdm.pack_bits(queries), masks, values, n_bits=n,
                                    index=index, parallel=parallel), expected)


@kernel
@pytest.mark.parametrize("k", [0, 1, 6, 64])
@pytest.mark.parametrize("n_locations", [1, 64, 65, 700])
def test_activation_edge_designs(k, n_locations, rng):
    n = 64
    masks, values = random_design(n_locations, n, k, seed=k)
    design = selected_coordinates(masks, values, n)
    queries = np.vstack([rng.integers(0, 2, size=(10, n), dtype=np.uint8),
                         np.zeros((1, n), np.uint8), np.ones((1, n), np.uint8)])
    expected = hyperplane_lists(queries, design)
    for index in (None, hyperplane_index(masks, values, n_bits=n)):
        _check_csr(*hyperplane_activate(queries, masks, values, n_bits=n, index=index),
                   expected)
        _check_csr(*hyperplane_activate(queries[:2], masks, values, n_bits=n, index=index),
                   expected[:2])
    if k == 0:
        assert all(len(e) == n_locations for e in expected)


def test_activation_single_query_and_empty_design(rng):
    masks, values = random_design(100, 30, 2, seed=0)
    q = rng.integers(0, 2, size=30, dtype=np.uint8)
    indptr, indices = hyperplane_activate(q, masks, values, n_bits=30)
    assert indptr.size == 2
    _check_csr(indptr, indices, hyperplane_lists(q, selected_coordinates(masks, values, 30)))
    empty = np.zeros((0, 1), dtype=np.uint64)
    indptr, indices = hyperplane_activate(np.ones((3, 30), np.uint8), empty, empty, n_bits=30)
    assert list(indptr) == [0, 0, 0, 0] and indices.size == 0


def test_activation_in_query_chunks(rng, monkeypatch):
    masks, values = random_design(200, 50, 3, seed=2)
    queries = rng.integers(0, 2, size=(21, 50), dtype=np.uint8)
    expected = hyperplane_lists(queries, selected_coordinates(masks, values, 50))
    monkeypatch.setattr(_hyperplane, "queries_per_chunk", lambda n_locations: 8)
    _check_csr(*hyperplane_activate(queries, masks, values, n_bits=50), expected)


def test_value_bits_outside_masks_are_ignored(rng):
    masks, values = random_design(300, 70, 3, seed=8)
    noisy = values | (~masks & fastsdm.random_addresses(300, 70, seed=9))
    queries = rng.integers(0, 2, size=(9, 70), dtype=np.uint8)
    expected = hyperplane_activate(queries, masks, values, n_bits=70)
    for q in (queries, queries[:2]):
        for index in (None, hyperplane_index(masks, noisy, n_bits=70)):
            got = hyperplane_activate(q, masks, noisy, n_bits=70, index=index)
            want = hyperplane_activate(q, masks, values, n_bits=70)
            assert (got[0] == want[0]).all() and (got[1] == want[1]).all()
    assert expected[1].size


def test_index_matches_naive_postings():
    masks, values = random_design(90, 20, 4, seed=4)
    index = hyperplane_index(masks, values, n_bits=20)
    design = selected_coordinates(masks, values, 20)
    for j in range(20):
        for b in (0, 1):
            want = [i for i, pairs in enumerate(design) if (j, b) in pairs]
            got = index.postings[index.indptr[2 * j + b] : index.indptr[2 * j + b + 1]]
            assert list(got) == want


def test_empirical_intersection_matches_theory():
    # A random design's locations activated by two addresses h apart: the
    # count is Binomial(N, C(n - h, k) / C(n, k) 2**-k).
    n, k, N = 256, 4, 200_000
    masks, values = random_design(N, n, k, seed=5)
    x = fastsdm.random_addresses(1, n, seed=6)
    for h in (0, 16, 64):
        y = fastsdm.flip_bits(x, n, h, seed=h)
        _, a = hyperplane_activate(x, masks, values, n_bits=n)
        _, b = hyperplane_activate(y, masks, values, n_bits=n)
        both = np.intersect1d(a, b).size
        p = ht.hyperplane_intersection_probability(n, k, h)
        assert abs(both - N * p) < 5 * math.sqrt(N * p * (1 - p)), (h, both, N * p)


def test_activation_errors(rng):
    masks, values = random_design(10, 16, 2, seed=0)
    q = rng.integers(0, 2, size=(2, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match="masks and values must have the same shape"):
        hyperplane_activate(q, masks, values[:5], n_bits=16)
    with pytest.raises(TypeError, match="masks must be packed uint64 words"):
        hyperplane_activate(q, masks.astype(np.int64), values, n_bits=16)
    with pytest.raises(TypeError, match="index must be a HyperplaneIndex"):
        hyperplane_activate(q, masks, values, n_bits=16, index=(1, 2))
    other = hyperplane_index(masks[:5], values[:5], n_bits=16)
    with pytest.raises(ValueError, match="index was built for n_bits=16 and 5 locations"):
        hyperplane_activate(q, masks, values, n_bits=16, index=other)
    with pytest.raises(ValueError, match="queries as 0/1 bits must have 16 columns"):
        hyperplane_activate(q[:, :8], masks, values, n_bits=16)
    assert isinstance(hyperplane_index(masks, values, n_bits=16), HyperplaneIndex)

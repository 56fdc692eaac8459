"""Tests for fastsdm.attention against naive loops, exact integers and the paper's results."""

from __future__ import annotations

import csv
import math
import statistics
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import scipy.special

import fastsdm
from fastsdm import attention, theory
from fastsdm.attention import (
    _betas,
    _pattern,
    cap_weights,
    compare_weights,
    continuous_pattern_read,
    cosine_to_hamming,
    hamming_to_cosine,
    learned_beta_summary,
    load_learned_betas,
    sdm_pattern_read,
    sdm_weights,
    softmax_attention,
    softmax_weights,
)

nojit = pytest.mark.nojit


@pytest.fixture
def rng():
    return np.random.default_rng(20211110)


# ---------------------------------------------------------------------------
# Independent oracles
# ---------------------------------------------------------------------------


def naive_softmax(scores: list[float], beta: float) -> list[float]:
    top = max(scores)
    exps = [math.exp(beta * (s - top)) for s in scores]
    return [e / sum(exps) for e in exps]


def naive_attention(q, K, V, beta: float) -> list[float]:
    """One query, plain loops: Σ_μ softmax_μ(β k_μ·q) v_μ."""
    scores = [sum(a * b for a, b in zip(q, k, strict=True)) for k in K]
    weights = naive_softmax(scores, beta)
    return [sum(w * v[j] for w, v in zip(weights, V, strict=True)) for j in range(len(V[0]))]


def double_sum_intersection(n: int, d: int, h: int) -> int:
    """REFERENCE §2 double sum, term by term."""
    total = 0
    for i in range(h + 1):
        top = min(d - i, d - h + i, n - h)
        if top >= 0:
            total += math.comb(h, i) * sum(math.comb(n - h, j) for j in range(top + 1))
    return total


def naive_sdm_read(query, keys, values, n: int, d: int, keep_ties: bool) -> list[int]:
    """Exact integer pattern-view read of one 0/1 query: sign of Σ_μ I(h_μ)(2v_μ − 1)."""
    weights = [double_sum_intersection(n, d, sum(a != b for a, b in zip(query, k, strict=True)))
               for k in keys]
    out = []
    for j in range(len(values[0])):
        s = sum(w * (2 * int(v[j]) - 1) for w, v in zip(weights, values, strict=True))
        out.append(1 if s > 0 else 0 if s < 0 else (int(query[j]) if keep_ties else 0))
    return out


def raw_csv_rows() -> list[list[str]]:
    path = Path(fastsdm.__file__).parent / "data" / "qknorm_learned_betas.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f) if row and not row[0].startswith("#")]
    assert rows[0] == ["task", "module", "beta"]
    return rows[1:]


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def noisy_unit_cues(patterns: np.ndarray, cos: float, rng) -> np.ndarray:
    """Unit vectors at exactly cosine ``cos`` from each pattern, in a random direction."""
    noise = rng.standard_normal(patterns.shape)
    noise -= (noise * patterns).sum(axis=1, keepdims=True) * patterns
    return cos * patterns + math.sqrt(1.0 - cos * cos) * unit(noise)


# ---------------------------------------------------------------------------
# Softmax attention
# ---------------------------------------------------------------------------


@nojit
def test_softmax_weights_match_naive_loop_and_scipy(rng):
    Q, K = rng.standard_normal((5, 8)), rng.standard_normal((13, 8))
    for beta in (0.125, 1.0, 7.5):
        weights = softmax_weights(Q, K, beta)
        assert weights.shape == (5, 13)
        np.testing.assert_allclose(weights, scipy.special.softmax(beta * Q @ K.T, axis=1),
                                   rtol=1e-12, atol=1e-15)
        for q, row in zip(Q, weights, strict=True):
            naive = naive_softmax([float(k @ q) for k in K], beta)
            np.testing.assert_allclose(row, naive, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-14)
    single = softmax_weights(Q[2], K, 2.0)
    assert single.shape == (13,)
    np.testing.assert_allclose(single, softmax_weights(Q, K, 2.0)[2], rtol=1e-14)


@nojit
def test_softmax_attention_matches_naive_loop(rng):
    Q, K, V = rng.standard_normal((4, 6)), rng.standard_normal((9, 6)), rng.standard_normal((9, 3))
    out = softmax_attention(Q, K, V, 1 / math.sqrt(6))
    assert out.shape == (4, 3)
    for q, row in zip(Q, out, strict=True):
        naive = naive_attention(q.tolist(), K.tolist(), V.tolist(), 1 / math.sqrt(6))
        np.testing.assert_allclose(row, naive, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(softmax_attention(Q[1], K, V, 0.5),
                               softmax_attention(Q, K, V, 0.5)[1], rtol=1e-14)
    # Integer input is accepted and computed in float64.
    Ki = np.array([[1, 0], [0, 1]])
    assert softmax_attention([1, 0], Ki, Ki, 1.0).dtype == np.float64


@nojit
@pytest.mark.parametrize("beta", [1e3, 1e8, 1e300])
def test_softmax_stable_for_huge_beta(beta):
    K = np.array([[1.0, 0.0], [0.6, 0.8], [-1.0, 0.0], [1.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        weights = softmax_weights([[1.0, 0.0], [0.0, 1.0]], K, beta)
    # β → ∞: uniform over the best keys (two tied in row 0), zero elsewhere.
    np.testing.assert_allclose(weights[0], [0.5, 0.0, 0.0, 0.5], atol=1e-150)
    np.testing.assert_allclose(weights[1], [0.0, 1.0, 0.0, 0.0], atol=1e-150)
    V = np.arange(8.0).reshape(4, 2)
    np.testing.assert_allclose(softmax_attention([0.0, 1.0], K, V, beta), V[1])


@nojit
def test_softmax_stable_for_large_scores_and_tiny_beta():
    K = np.array([[400.0, 0.0], [0.0, 400.0]])
    q = np.array([3.0, 1.0])  # scores 1200 and 400: exp would overflow without the shift
    np.testing.assert_allclose(softmax_weights(q, K, 1.0), [1.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(softmax_weights(q, K, 0.001), naive_softmax([1200, 400], 0.001))
    np.testing.assert_allclose(softmax_weights(q, K, 1e-300), [0.5, 0.5])


@nojit
def test_query_key_normalisation(rng):
    Q, K, V = rng.standard_normal((3, 5)), rng.standard_normal((7, 5)), rng.standard_normal((7, 2))
    expected = softmax_attention(unit(Q), unit(K), V, 10.0)
    np.testing.assert_allclose(softmax_attention(Q, K, V, 10.0, normalize=True), expected)
    scaled = softmax_attention(Q * 1e3, K * rng.uniform(0.1, 5.0, (7, 1)), V, 10.0, normalize=True)
    np.testing.assert_allclose(scaled, expected)
    # Extreme magnitudes are normalised without overflow or underflow.
    np.testing.assert_allclose(softmax_weights(Q * 1e200, K * 1e-200, 10.0, normalize=True),
                               softmax_weights(unit(Q), unit(K), 10.0), rtol=1e-12)
    cos = unit(Q) @ unit(K).T
    np.testing.assert_allclose(softmax_weights(Q, K, 10.0, normalize=True),
                               scipy.special.softmax(10.0 * cos, axis=1))


# ---------------------------------------------------------------------------
# Hamming distance <-> cosine
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("n", [1, 7, 64, 1000, 4096])
def test_conversion_round_trip(n):
    h = np.arange(n + 1)
    cos = hamming_to_cosine(h, n)
    np.testing.assert_allclose(cos, [float(1 - 2 * Fraction(int(x), n)) for x in h], atol=1e-15)
    back = cosine_to_hamming(cos, n)
    assert back.dtype == np.int64
    np.testing.assert_array_equal(back, h)


@nojit
def test_conversion_scalars_and_rounding():
    assert hamming_to_cosine(16, 64) == 0.5 and isinstance(hamming_to_cosine(16, 64), float)
    assert cosine_to_hamming(0.5, 64) == 16 and isinstance(cosine_to_hamming(0.5, 64), int)
    # n(1 − cos)/2 a hair below a whole number rounds up (flooring would lose a bit).
    assert cosine_to_hamming(1.0 - 6.0 / 64 + 1e-15, 64) == 3
    assert cosine_to_hamming(1.0 - 2 * 0.6 / 64, 64) == 1  # 0.6 bits -> 1, not 0
    assert hamming_to_cosine(2.5, 10) == 0.5  # real distances are accepted
    cos = np.array([[0.9, -0.2], [1.0, 0.0]])
    assert cosine_to_hamming(cos, 100).tolist() == [[5, 60], [0, 50]]


@nojit
def test_weights_and_beta_of_huge_n_need_memory_for_d_distances_only():
    # A table of all n + 1 distances was built for a few of them: 8 TB here,
    # a MemoryError.  Only the distances asked for are evaluated.
    n = 10**12
    w = sdm_weights(n, 5, [[0, 1, 3], [2, 0, 11]])
    assert w.shape == (2, 3) and w[1, 2] == 0.0 and w[0, 0] > w[0, 1] > w[0, 2] > 0
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_array_equal(sdm_weights(8, 2, [[0, 2], [4, 6]])[1], [1.0, 0.0])
    assert math.isfinite(fastsdm.theory.fit_beta(n, 5))


@nojit
def test_conversions_refuse_widths_float64_cannot_hold():
    # n = 2**63 wrapped to -2**63 (a negative distance), 2**53 + 1 lost a bit,
    # and hamming_to_cosine(1, 2**1100) raised a bare OverflowError.
    n = 2**53  # the widest: exact
    assert cosine_to_hamming(-1.0, n) == n and hamming_to_cosine(n, n) == -1.0
    assert cosine_to_hamming(hamming_to_cosine(n - 1, n), n) == n - 1
    for wide in (2**53 + 1, 2**63, 2**70):
        for call in (lambda w=wide: cosine_to_hamming(-1.0, w),
                     lambda w=wide: hamming_to_cosine(1, w)):
            with pytest.raises(ValueError, match=r"n must be in \[1, 9007199254740992\].*"
                                                 r"at most 2\*\*53"):
                call()
    with pytest.raises(ValueError, match="at most 2\\*\\*53"):
        hamming_to_cosine(1, 2**1100)


# ---------------------------------------------------------------------------
# SDM weights
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("n, d", [(8, 2), (12, 3), (16, 4), (16, 8), (20, 13), (64, 11)])
def test_sdm_weights_are_exact_intersection_ratios(n, d, rng):
    distances = rng.integers(0, n + 1, size=(6, 9))
    distances[:, 0] = rng.integers(0, min(n, 2 * d) + 1, size=6)  # at least one I(h) > 0
    weights = sdm_weights(n, d, distances)
    for h_row, w_row in zip(distances, weights, strict=True):
        counts = [double_sum_intersection(n, d, int(h)) for h in h_row]
        exact = [Fraction(c, sum(counts)) for c in counts]
        np.testing.assert_allclose(w_row, [float(x) for x in exact], rtol=1e-13, atol=0)
    assert weights.shape == distances.shape


@nojit
def test_sdm_weights_edge_cases():
    # Every pattern beyond 2d: no shared neuron, all weights zero (documented).
    np.testing.assert_array_equal(sdm_weights(8, 2, [[5, 7, 8], [0, 6, 8]]),
                                  [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    assert sdm_weights(8, 0, [0, 0, 1]).tolist() == [0.5, 0.5, 0.0]
    # Large n: log space keeps the weights finite and normalised.
    weights = sdm_weights(4096, 1900, np.arange(0, 4097, 64))
    assert np.isfinite(weights).all() and math.isclose(weights.sum(), 1.0, rel_tol=1e-12)
    assert (np.diff(weights) <= 0).all()


@nojit
def test_compare_weights_against_hand_computation():
    n, d, beta, h = 8, 2, 1.5, [0, 1, 2, 3, 4, 5]
    result = compare_weights(n, d, beta=beta, h=h)
    counts = [double_sum_intersection(n, d, x) for x in h]  # 37, 16, 16, 6, 6, 0
    assert counts == [37, 16, 16, 6, 6, 0]
    p = [c / sum(counts) for c in counts]
    exps = [math.exp(beta * (1 - 2 * x / n)) for x in h]
    q = [e / sum(exps) for e in exps]
    assert result.h.tolist() == h and result.beta == beta
    np.testing.assert_allclose(result.sdm, p, rtol=1e-14)
    np.testing.assert_allclose(result.softmax, q, rtol=1e-14)
    assert math.isclose(result.max_abs_diff, max(abs(a - b) for a, b in zip(p, q, strict=True)),
                        rel_tol=1e-12)
    assert math.isclose(result.total_variation,
                        0.5 * sum(abs(a - b) for a, b in zip(p, q, strict=True)), rel_tol=1e-12)
    kl = sum(a * math.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)  # 0·log 0 = 0
    assert math.isclose(result.kl, kl, rel_tol=1e-12)


@nojit
@pytest.mark.parametrize("method", ["paper", "ols"])
def test_compare_weights_defaults(method):
    result = compare_weights(64, 11, method=method)
    assert result.beta == theory.fit_beta(64, 11, method)
    np.testing.assert_array_equal(result.h, np.arange(65))
    np.testing.assert_allclose(result.sdm, sdm_weights(64, 11, np.arange(65)), rtol=1e-14)
    cos = hamming_to_cosine(np.arange(65), 64)
    np.testing.assert_allclose(result.softmax, scipy.special.softmax(result.beta * cos), rtol=1e-12)
    assert result.kl > 0 and 0 < result.total_variation < 1
    assert result.max_abs_diff <= result.total_variation


@nojit
def test_compare_weights_fitted_beta_is_close_to_best_beta():
    # The fitted β makes the softmax close to the SDM curve: a β far from it does worse.
    for d in (5, 11, 15):
        fitted = compare_weights(64, d)
        for factor in (0.5, 2.0):
            assert compare_weights(64, d, beta=factor * fitted.beta).kl > fitted.kl


# ---------------------------------------------------------------------------
# Pattern-view reads, binary
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n, d, n_value_bits", [(16, 4, None), (20, 6, 10), (70, 20, None)])
def test_sdm_pattern_read_matches_exact_integer_read(n, d, n_value_bits, rng):
    keys = rng.integers(0, 2, size=(6, n), dtype=np.uint8)
    values = None if n_value_bits is None else rng.integers(0, 2, (6, n_value_bits), dtype=np.uint8)
    # Queries near the keys (so that some I(h) > 0) and a few far away.
    queries = keys[rng.integers(0, 6, 40)] ^ (rng.random((40, n)) < 0.2).astype(np.uint8)
    queries[-3:] = rng.integers(0, 2, (3, n))
    out = sdm_pattern_read(fastsdm.pack_bits(queries), fastsdm.pack_bits(keys),
                           None if values is None else fastsdm.pack_bits(values),
                           n_bits=n, radius=d, n_value_bits=n_value_bits)
    bits = fastsdm.unpack_bits(out, n if n_value_bits is None else n_value_bits)
    stored = keys if values is None else values
    for query, row in zip(queries, bits, strict=True):
        expected = naive_sdm_read(query.tolist(), keys.tolist(), stored.tolist(), n, d,
                                  keep_ties=values is None)
        assert row.tolist() == expected


@nojit
@pytest.mark.parametrize("n, n_value_bits", [(20, None), (20, 10), (64, 77)])
def test_sdm_pattern_read_takes_every_bit_form_and_answers_in_kind(n, n_value_bits, rng):
    # Issue 13: packed words, np.packbits bytes and 0/1 (or bool) rows read alike, and the
    # result comes back in the queries' form; keys and values may come in any form.
    keys = rng.integers(0, 2, size=(6, n), dtype=np.uint8)
    values = None if n_value_bits is None else rng.integers(0, 2, (6, n_value_bits), np.uint8)
    queries = keys[rng.integers(0, 6, 9)] ^ (rng.random((9, n)) < 0.15).astype(np.uint8)
    width = n if n_value_bits is None else n_value_bits
    kwargs = dict(n_bits=n, radius=n // 4, n_value_bits=n_value_bits)
    words = sdm_pattern_read(fastsdm.pack_bits(queries), fastsdm.pack_bits(keys),
                             None if values is None else fastsdm.pack_bits(values), **kwargs)
    expected = fastsdm.unpack_bits(words, width)
    forms = {
        "rows": lambda x: x,
        "bool": lambda x: x.astype(bool),
        "int64": lambda x: x.astype(np.int64),
        "bytes": lambda x: np.packbits(x, axis=-1),
        "words": fastsdm.pack_bits,
    }
    for label, form in forms.items():
        stored = None if values is None else form(values)
        out = sdm_pattern_read(form(queries), form(keys), stored, **kwargs)
        assert out.dtype == form(queries).dtype, label
        assert np.array_equal(out, form(expected)), label
        one = sdm_pattern_read(form(queries)[2], fastsdm.pack_bits(keys),
                               None if values is None else fastsdm.pack_bits(values), **kwargs)
        assert np.array_equal(one, form(expected)[2]), label
    # Iterated reads and ReadInfo work on any form too.
    out, info = sdm_pattern_read(queries.astype(bool), keys, n_bits=n, radius=n // 4,
                                 iterations=3, return_info=True)
    ref, ref_info = sdm_pattern_read(fastsdm.pack_bits(queries), fastsdm.pack_bits(keys),
                                     n_bits=n, radius=n // 4, iterations=3, return_info=True)
    assert out.dtype == bool and np.array_equal(fastsdm.pack_bits(out), ref)
    assert np.array_equal(info.steps, ref_info.steps)
    assert np.array_equal(info.converged, ref_info.converged)


@nojit
def test_sdm_pattern_read_refuses_bits_it_cannot_read():
    keys = fastsdm.random_addresses(4, 20, seed=0)
    with pytest.raises(ValueError, match="keys bits must be 0 or 1"):
        sdm_pattern_read(keys, np.full((4, 20), 2), n_bits=20, radius=5)
    with pytest.raises(ValueError, match="queries as 0/1 bits must have 20 columns"):
        sdm_pattern_read(np.ones((2, 19), np.uint8), keys, n_bits=20, radius=5)
    with pytest.raises(TypeError, match="queries must be packed uint64 words or 0/1 bits"):
        sdm_pattern_read(np.ones((2, 20)), keys, n_bits=20, radius=5)


@nojit
def test_weights_take_the_theory_argument_names(rng):
    # sdm_weights(n, d, h) like theory.intersection(n, d, h), cap_weights(n, d, cos) like
    # theory.cap_intersection(n, d, cos); the older keywords keep working, silently.
    h = rng.integers(0, 17, (3, 5))
    expected = sdm_weights(16, 4, h)
    assert np.array_equal(sdm_weights(16, 4, h=h), expected)
    assert np.array_equal(sdm_weights(16, 4, distances=h), expected)
    with pytest.raises(TypeError, match=r"got both h= and distances="):
        sdm_weights(16, 4, h=h, distances=h)
    cos = rng.uniform(-1, 1, (2, 4))
    expected = cap_weights(16, 4.0, cos)
    assert np.array_equal(cap_weights(16, 4.0, cos=cos), expected)
    assert np.array_equal(cap_weights(16, 4.0, cosines=cos), expected)
    with pytest.raises(TypeError, match=r"got both cos= and cosines="):
        cap_weights(16, 4.0, cos=cos, cosines=cos)


@nojit
def test_continuous_pattern_read_takes_dim_like_continuous_sdm(rng):
    # dim= as in ContinuousSDM(dim, ...); n=, the older spelling, gives the same read.
    keys, cue = rng.standard_normal((20, 8)), rng.standard_normal(8)
    by_dim = continuous_pattern_read(cue, keys, radius=2.0, dim=12)
    assert np.array_equal(continuous_pattern_read(cue, keys, radius=2.0, n=12), by_dim)
    assert not np.array_equal(continuous_pattern_read(cue, keys, radius=2.0), by_dim)
    with pytest.raises(TypeError, match="got both dim= and n="):
        continuous_pattern_read(cue, keys, radius=2.0, dim=12, n=12)
    with pytest.raises(ValueError, match=r"dim must be in \[2, inf\], got 1"):
        continuous_pattern_read(cue, keys, radius=0.5, dim=1)


@nojit
def test_public_classes_name_the_public_module():
    for cls in (attention.WeightComparison, attention.EffectiveBeta,
                attention.LearnedBetaSummary):
        assert cls.__module__ == "fastsdm.attention"
    for cls in (theory.ReadStatistics, theory.CriticalDistance):
        assert cls.__module__ == "fastsdm.theory"
    import pickle

    result = attention.compare_weights(16, 4)
    assert pickle.loads(pickle.dumps(result)).kl == result.kl
    assert b"fastsdm.attention" in pickle.dumps(result)


def test_ties_keep_query_bits_or_read_zero():
    n = 8
    keys = fastsdm.pack_bits([[1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0, 0]])
    query = fastsdm.pack_bits([1, 0, 1, 0, 0, 0, 0, 1])  # 2 bits from each key: equal weights
    out = sdm_pattern_read(query, keys, n_bits=n, radius=2)
    # Bits 0-3 tie (keep the query's 1, 0, 1, 0), bits 4-6 read 0, bit 7 reads 0.
    assert fastsdm.unpack_bits(out, n).tolist() == [1, 0, 1, 0, 0, 0, 0, 0]
    out = sdm_pattern_read(query, keys, keys, n_bits=n, radius=2)  # heteroassociative: ties -> 0
    assert fastsdm.unpack_bits(out, n).tolist() == [0, 0, 0, 0, 0, 0, 0, 0]
    # Softmax weights are equal too: the same ties.
    out = sdm_pattern_read(query, keys, n_bits=n, beta=3.0)
    assert fastsdm.unpack_bits(out, n).tolist() == [1, 0, 1, 0, 0, 0, 0, 0]


def test_no_pattern_within_2d_returns_query_or_zeros():
    n = 64
    keys = fastsdm.random_addresses(20, n, seed=1)
    far = fastsdm.flip_bits(keys[:3], n, 20, seed=2)  # 20 > 2d = 10 from its key
    assert fastsdm.hamming_distances(far, keys).min() > 10
    out, info = sdm_pattern_read(far, keys, n_bits=n, radius=5, iterations=5, return_info=True)
    np.testing.assert_array_equal(out, far)
    assert info.converged.all() and (info.steps == 1).all()
    hetero = sdm_pattern_read(far, keys, keys[::-1].copy(), n_bits=n, radius=5)
    np.testing.assert_array_equal(hetero, 0)


def test_softmax_pattern_read_is_thresholded_softmax_attention(rng):
    n, m = 100, 300
    keys = fastsdm.random_addresses(m, n, seed=rng)
    values = fastsdm.random_addresses(m, 40, seed=rng)
    queries = fastsdm.flip_bits(keys[:25], n, 30, seed=rng)
    beta = theory.fit_beta(n, 35)
    for given in (beta, "fit"):
        out = sdm_pattern_read(queries, keys, values, n_bits=n, radius=35, beta=given,
                               n_value_bits=40)
        bipolar = [2.0 * fastsdm.unpack_bits(x, w) - 1.0
                   for x, w in ((queries, n), (keys, n), (values, 40))]
        sums = softmax_attention(*bipolar, beta, normalize=True)
        decided = np.abs(sums) > 1e-9
        assert decided.mean() > 0.99
        bits = fastsdm.unpack_bits(out, 40)
        np.testing.assert_array_equal(bits[decided], (sums > 0)[decided])


def test_iterated_read_steps_and_convergence(rng):
    n = 64
    keys = fastsdm.random_addresses(200, n, seed=rng)
    cues = fastsdm.flip_bits(keys[:30], n, 10, seed=rng)
    out, info = sdm_pattern_read(cues, keys, n_bits=n, radius=11, iterations=10, return_info=True)
    # Replay one read at a time, stopping each query at its fixed point.
    current, steps = cues.copy(), np.zeros(30, dtype=int)
    for i in range(30):
        for _ in range(10):
            nxt = sdm_pattern_read(current[i], keys, n_bits=n, radius=11)
            steps[i] += 1
            if (nxt == current[i]).all():
                break
            current[i] = nxt
    np.testing.assert_array_equal(out, current)
    np.testing.assert_array_equal(info.steps, steps)
    assert info.converged.all()
    once, info1 = sdm_pattern_read(cues, keys, n_bits=n, radius=11, return_info=True)
    assert (info1.steps == 1).all()
    np.testing.assert_array_equal(info1.converged, (once == cues).all(axis=1))
    _, limited = sdm_pattern_read(cues, keys, n_bits=n, radius=11, iterations=1,
                                  return_info=True)
    assert not limited.converged.all()  # one read from 10 bits away is not a fixed point yet
    single = sdm_pattern_read(cues[0], keys, n_bits=n, radius=11, iterations=10)
    assert single.shape == (1,)
    np.testing.assert_array_equal(single, out[0])


def test_blocked_read_equals_unblocked(monkeypatch, rng):
    n = 130  # three words, two pad bits
    keys = fastsdm.random_addresses(50, n, seed=rng)
    values = fastsdm.random_addresses(50, 77, seed=rng)
    queries = fastsdm.flip_bits(keys[rng.integers(0, 50, 23)], n, 30, seed=rng)
    expected = [sdm_pattern_read(queries, keys, n_bits=n, radius=45, iterations=4),
                sdm_pattern_read(queries, keys, values, n_bits=n, radius=45, n_value_bits=77)]
    monkeypatch.setattr(_pattern, "BLOCK_BYTES", 8 * 50 * 3)  # 3 queries, ~2 patterns a block
    blocks = []  # the query blocks the read scanned: proof that the small blocks were used
    scan = _pattern.hamming_distances
    monkeypatch.setattr(_pattern, "hamming_distances", lambda q, k: blocks.append(len(q)) or
                        scan(q, k))
    got = [sdm_pattern_read(queries, keys, n_bits=n, radius=45, iterations=4),
           sdm_pattern_read(queries, keys, values, n_bits=n, radius=45, n_value_bits=77)]
    assert blocks and max(blocks) == 3
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not (got[0][:, -1] & ~fastsdm.clear_pad_bits(got[0], n)[:, -1]).any()


@pytest.mark.parametrize("d", [5, 9, 11, 15])
def test_paper_headline_recall(d):
    """Bricken & Pehlevan (2021): n = 64, m = 1024 random patterns, the SDM radii of
    Table 1 (5 = memory, 11 = SNR, 15 = critical distance, 9 between). The SDM pattern
    view and softmax attention with the fitted β recall stored patterns exactly.

    Theory: a cue k bits from its pattern has a rival pattern within k bits with
    probability m·|O_64(k)|/2^64 ≈ 2.5e-4 at k = 12, and the SDM read gives the
    rival no weight beyond 2d; so recall should be ~1. Asserted with a wide margin
    (>= 90 % of 48 cues). The SDM read has a hard limit the softmax has not: beyond
    2d bits (k > 10 for d = 5) no neuron is shared with any pattern and the read
    returns the cue unchanged.
    """
    n, m, n_cues = 64, 1024, 48
    rng = np.random.default_rng(1000 + d)
    patterns = fastsdm.random_addresses(m, n, seed=rng)
    for k in (4, 8, 10, 12):
        cues = fastsdm.flip_bits(patterns[:n_cues], n, k, seed=rng)
        for beta in (None, "fit"):
            out, info = sdm_pattern_read(cues, patterns, n_bits=n, radius=d, beta=beta,
                                         iterations=10, return_info=True)
            if beta is None and k > 2 * d:
                np.testing.assert_array_equal(out, cues)
                assert info.converged.all()
                continue
            recall = np.mean(fastsdm.hamming_distances(out, patterns[:n_cues]).diagonal() == 0)
            assert recall >= 0.9, (d, k, beta, recall)
            assert info.converged.mean() >= 0.9


# ---------------------------------------------------------------------------
# Pattern-view reads, continuous
# ---------------------------------------------------------------------------


def test_cap_weights_are_normalised_cap_intersections():
    cos = np.array([[1.0, 0.9, 0.3, -0.2, -0.9], [0.5, 0.5, -1.0, -1.0, 0.0]])
    weights = cap_weights(64, 11, cos)
    areas = np.exp(theory.log_cap_intersection(64, 11.0, cos))
    np.testing.assert_allclose(weights, areas / areas.sum(axis=1, keepdims=True), rtol=1e-12)
    assert (np.diff(weights[0]) <= 0).all() and weights[1, 0] == weights[1, 1]
    np.testing.assert_array_equal(cap_weights(64, 2.5, [[-0.5, 0.0]]), [[0.0, 0.0]])


def test_continuous_read_recalls_from_noisy_cues_with_cap_weights(rng):
    n, m, n_cues = 64, 256, 8
    patterns = unit(rng.standard_normal((m, n)))
    cues = noisy_unit_cues(patterns[:n_cues], 0.625, rng)  # the cosine of 12 bits in 64
    out = continuous_pattern_read(cues, patterns, radius=11, iterations=3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)
    similarity = out @ patterns.T
    assert (similarity.argmax(axis=1) == np.arange(n_cues)).all()
    assert similarity[np.arange(n_cues), np.arange(n_cues)].min() > 0.99


@nojit
@pytest.mark.parametrize("d", [5, 11, 15])
def test_continuous_read_recalls_with_fitted_beta(d, rng):
    n, m, n_cues = 64, 1024, 48
    patterns = unit(rng.standard_normal((m, n)))
    cues = noisy_unit_cues(patterns[:n_cues], 0.625, rng)
    out = continuous_pattern_read(cues, patterns * 3.0, radius=d, beta="fit", iterations=5)
    similarity = out @ patterns.T
    assert np.mean(similarity.argmax(axis=1) == np.arange(n_cues)) >= 0.9
    assert np.median(similarity[np.arange(n_cues), np.arange(n_cues)]) > 0.99


@nojit
def test_continuous_read_fit_needs_a_radius_of_at_least_one_and_a_half(rng):
    # round(0.4) = 0 went to fit_cap_beta unchecked: "fit_cap_beta needs ...
    # d must be >= 2, got 0", an argument the user never passed.
    K = rng.standard_normal((5, 9))
    for radius in (0.4, 0, 1.49):
        with pytest.raises(ValueError, match=rf"radius must be >= 1.5 for beta='fit', got "
                                             rf"{float(radius)!r}.*round\(radius\)"):
            continuous_pattern_read(K[0], K, radius=radius, beta="fit")
    # 1.5 rounds to 2, the smallest fit (oracle: softmax over the cosines).
    np.testing.assert_allclose(continuous_pattern_read(K, K, K, radius=1.5, beta="fit"),
                               softmax_attention(K, K, K, theory.fit_cap_beta(9, 2),
                                                 normalize=True), rtol=1e-12)


@nojit
def test_continuous_read_is_normalised_softmax_attention(rng):
    Q, K = rng.standard_normal((5, 16)), rng.standard_normal((30, 16))
    V = rng.standard_normal((30, 4))
    np.testing.assert_allclose(continuous_pattern_read(Q, K, V, beta=7.0),
                               softmax_attention(Q, K, V, 7.0, normalize=True), rtol=1e-12)
    auto = continuous_pattern_read(Q[0], K, beta=7.0)
    assert auto.shape == (16,)
    np.testing.assert_allclose(auto, unit(softmax_attention(Q[0], K, unit(K), 7.0, normalize=True)))
    fitted = continuous_pattern_read(Q, K, V, radius=6, beta="fit")
    np.testing.assert_allclose(fitted, softmax_attention(Q, K, V, theory.fit_cap_beta(16, 6),
                                                         normalize=True), rtol=1e-12)
    # the cap-fitted β (the authors' CFit), not the binary ball fit
    assert theory.fit_cap_beta(64, 11) == pytest.approx(21.53975, abs=5e-6)
    keys = unit(rng.standard_normal((40, 64)))
    cap_fit = continuous_pattern_read(keys[:3], keys, radius=11, beta="fit")
    np.testing.assert_allclose(cap_fit, continuous_pattern_read(keys[:3], keys,
                                                                beta=21.53974571720978))


def test_continuous_read_without_overlap_returns_query():
    keys = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    query = np.array([[0.0, 0.0, 2.0]])  # 90° from both keys; caps of radius 0.3 don't meet
    out = continuous_pattern_read(query, keys, radius=0.3, iterations=3)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 1.0]])
    hetero = continuous_pattern_read(query, keys, np.ones((2, 2)), radius=0.3)
    np.testing.assert_array_equal(hetero, [[0.0, 0.0]])


# ---------------------------------------------------------------------------
# Learned β of Query-Key Normalization Transformers
# ---------------------------------------------------------------------------


@nojit
def test_learned_betas_match_the_raw_csv():
    rows = raw_csv_rows()
    table = load_learned_betas()
    assert table.dtype.names == ("task", "module", "beta") and table.size == len(rows) == 90
    assert table["task"].tolist() == [r[0] for r in rows]
    assert table["module"].tolist() == [r[1] for r in rows]
    assert table["beta"].tolist() == [float(r[2]) for r in rows]
    header = (Path(fastsdm.__file__).parent / "data" / "qknorm_learned_betas.csv").read_text()
    assert header.startswith("# Learned attention scales")


@nojit
def test_learned_beta_summary_against_raw_csv():
    raw = [float(r[2]) for r in raw_csv_rows()]
    summary = learned_beta_summary()
    assert math.isclose(summary.mean, statistics.fmean(raw), rel_tol=1e-12)
    assert summary.min == min(raw) and summary.max == max(raw)
    assert round(summary.mean, 1) == 15.6  # the paper's "mean ≈ 15.6"
    assert (summary.radius_cd, summary.radius_snr, summary.radius_mem) == (15, 11, 5)
    assert [round(b, 1) for b in (summary.beta_cd, summary.beta_snr, summary.beta_mem)] == [
        10.1, 15.9, 35.5]
    between = sum(summary.beta_cd <= b <= summary.beta_mem for b in raw) / len(raw)
    assert summary.fraction_between == between == 1.0
    np.testing.assert_array_equal(summary.betas, raw)


@nojit
def test_learned_beta_summary_other_memory():
    # A small memory (10^6 neurons, 100 patterns) has large optimal radii, hence small
    # β (all below 7.3): none of the learned β lies between them.
    summary = learned_beta_summary(n=64, n_locations=10**6, n_patterns=100)
    radii = [theory.optimal_radius(64, 10**6, 100, c) for c in ("critical_distance", "snr",
                                                                "memory")]
    assert [summary.radius_cd, summary.radius_snr, summary.radius_mem] == radii
    assert [summary.beta_cd, summary.beta_snr, summary.beta_mem] == [
        theory.fit_beta(64, d) for d in radii]
    assert max(summary.beta_cd, summary.beta_mem) < summary.min
    assert summary.fraction_between == 0.0


# ---------------------------------------------------------------------------
# Errors: one message each (what was expected, what was received, how to fix)
# ---------------------------------------------------------------------------

K3 = np.eye(3)
WORDS = fastsdm.random_addresses(4, 64, seed=0)


def _bad_read(**kwargs):
    args = dict(queries=WORDS[:2], keys=WORDS, n_bits=64, radius=5)
    args.update(kwargs)
    return lambda: sdm_pattern_read(args.pop("queries"), args.pop("keys"), **args)


def _bad_continuous(**kwargs):
    args = dict(queries=K3[:1], keys=K3, radius=1.0)
    args.update(kwargs)
    return lambda: continuous_pattern_read(args.pop("queries"), args.pop("keys"), **args)


ERRORS = {
    # softmax
    "beta-type": (
        lambda: softmax_weights([1, 0, 0], K3, "2"),
        TypeError, "beta must be a positive real"),
    "beta-bool": (
        lambda: softmax_weights([1, 0, 0], K3, True),
        TypeError, "beta must be a positive real"),
    "beta-zero": (
        lambda: softmax_weights([1, 0, 0], K3, 0.0),
        ValueError, "positive finite number, got 0.0"),
    "beta-neg": (lambda: softmax_attention([1, 0, 0], K3, K3, -1), ValueError, "positive finite"),
    "beta-inf": (lambda: softmax_weights([1, 0, 0], K3, np.inf), ValueError, "positive finite"),
    "beta-nan": (lambda: softmax_weights([1, 0, 0], K3, np.nan), ValueError, "positive finite"),
    "q-complex": (
        lambda: softmax_weights([1j, 0, 0], K3, 1.0),
        TypeError, "q must be a real-valued"),
    "K-str": (
        lambda: softmax_weights([1, 0, 0], [["a"]], 1.0),
        TypeError, "K must be a real-valued"),
    "K-bool": (
        lambda: softmax_weights([1, 0, 0], K3 > 0, 1.0),
        TypeError, "K must be a real-valued"),
    "K-1d": (
        lambda: softmax_weights([1, 0, 0], [1, 0, 0], 1.0),
        ValueError, r"K must be a non-empty array of shape \(N, d\)"),
    "K-empty": (
        lambda: softmax_weights([1, 0, 0], np.zeros((0, 3)), 1.0),
        ValueError, "K must be a non-empty"),
    "q-3d": (
        lambda: softmax_weights(np.zeros((1, 1, 3)), K3, 1.0),
        ValueError, r"q must be a non-empty array of shape \(d,\) or \(m, d\)"),
    "q-nan": (
        lambda: softmax_weights([np.nan, 0, 0], K3, 1.0),
        ValueError, "q contains NaN or infinite"),
    "K-inf": (
        lambda: softmax_weights([1, 0, 0], np.full((2, 3), np.inf), 1.0),
        ValueError, "K contains NaN or infinite"),
    "width": (
        lambda: softmax_weights([1, 0], K3, 1.0),
        ValueError, "q and K must have the same number of features, got 2"),
    "V-rows": (
        lambda: softmax_attention([1, 0, 0], K3, np.ones((2, 2)), 1.0),
        ValueError, "V must have one row per key, got 2 rows for 3 keys"),
    "V-1d": (
        lambda: softmax_attention([1, 0, 0], K3, np.ones(3), 1.0),
        ValueError, r"V must be a non-empty array of shape \(N, dv\)"),
    "zero-query": (
        lambda: softmax_weights([0, 0, 0], K3, 1.0, normalize=True),
        ValueError, "q has a zero vector"),
    "zero-key": (
        lambda: softmax_weights([1, 0, 0], np.zeros((2, 3)), 1.0, normalize=True),
        ValueError, r"K has a zero vector \(row 0\)"),
    "overflow": (
        lambda: softmax_weights([1e200, 1e200], [[1e200, 1e200]], 1.0),
        ValueError, "overflowed float64"),
    # conversions
    "h2c-n-type": (lambda: hamming_to_cosine(1, 64.0), TypeError, "n must be an integer"),
    "h2c-n-zero": (lambda: hamming_to_cosine(0, 0), ValueError,
                   r"n must be in \[1, 9007199254740992\], got 0"),
    "h2c-type": (lambda: hamming_to_cosine("3", 64), TypeError, "h must be a number"),
    "h2c-range": (
        lambda: hamming_to_cosine([0, 65], 64),
        ValueError, r"h must lie in \[0, n\] = \[0, 64\]"),
    "h2c-nan": (lambda: hamming_to_cosine(np.nan, 64), ValueError, "h must lie in"),
    "c2h-type": (lambda: cosine_to_hamming(["x"], 64), TypeError, "cos must be a number"),
    "c2h-range": (
        lambda: cosine_to_hamming(1.0 + 1e-9, 64),
        ValueError, r"cos must lie in \[-1, 1\]"),
    # sdm_weights / cap_weights
    "sdmw-d": (lambda: sdm_weights(8, 9, [0]), ValueError, r"radius d must be in \[0, 8\], got 9"),
    "sdmw-float": (lambda: sdm_weights(8, 2, [0.5]), TypeError, "distances must be integer"),
    "sdmw-empty": (
        lambda: sdm_weights(8, 2, np.zeros((2, 0), dtype=int)),
        ValueError, "at least one pattern"),
    "sdmw-scalar": (lambda: sdm_weights(8, 2, 3), ValueError, "at least one pattern"),
    "sdmw-range": (
        lambda: sdm_weights(8, 2, [0, 9]),
        ValueError, r"distances must lie in \[0, n\] = \[0, 8\], got values in \[0, 9\]"),
    "capw-n": (lambda: cap_weights(1, 0.5, [1.0]), ValueError, r"n must be in \[2, inf\]"),
    "capw-d-type": (
        lambda: cap_weights(8, "2", [1.0]),
        TypeError, "radius d must be a real number"),
    "capw-d-range": (
        lambda: cap_weights(8, 8.5, [1.0]),
        ValueError, r"radius d must be in \[0, n\] = \[0, 8\]"),
    "capw-cos-type": (lambda: cap_weights(8, 2, [1j]), TypeError, "cosines must be real numbers"),
    "capw-cos-empty": (lambda: cap_weights(8, 2, []), ValueError, "cosines must have at least one"),
    "capw-cos-range": (
        lambda: cap_weights(8, 2, [1.5]),
        ValueError, r"cosines must lie in \[-1, 1\]"),
    # sdm_pattern_read
    "read-n-bits": (_bad_read(n_bits=64.0), TypeError, "n_bits must be an integer"),
    "read-keys-dtype": (
        _bad_read(keys=WORDS.astype(np.int64)),
        TypeError, "keys must be packed uint64"),
    "read-keys-1d": (_bad_read(keys=WORDS[0]), ValueError, "keys must have 2 dimensions"),
    "read-keys-empty": (_bad_read(keys=WORDS[:0]), ValueError, "keys is empty"),
    "read-queries-empty": (_bad_read(queries=WORDS[:0]), ValueError, "queries is empty"),
    "read-width": (_bad_read(n_bits=65), ValueError, "must have 2 words per vector for n_bits=65"),
    "read-pad": (_bad_read(n_bits=60), ValueError, "non-zero pad bits"),
    "read-nvb-alone": (
        _bad_read(n_value_bits=32),
        ValueError, "n_value_bits=32 was given without values"),
    "read-nvb-type": (
        _bad_read(values=WORDS, n_value_bits="64"),
        TypeError, "n_value_bits must be an integer"),
    "read-values-rows": (
        _bad_read(values=WORDS[:3]),
        ValueError, "values must have one row per key, got 3 rows for 4 keys"),
    "read-values-width": (
        _bad_read(values=WORDS, n_value_bits=200),
        ValueError, "values must have 4 words per vector"),
    "read-iterations": (
        _bad_read(iterations=0),
        ValueError, r"iterations must be in \[1, inf\], got 0"),
    "read-iterations-hetero": (
        _bad_read(values=fastsdm.random_addresses(4, 10, seed=1), n_value_bits=10, iterations=2),
        ValueError, "need values as wide as the keys"),
    "read-radius-missing": (
        _bad_read(radius=None),
        ValueError, "radius is required for SDM weights"),
    "read-radius-range": (_bad_read(radius=65), ValueError, r"radius must be in \[0, 64\], got 65"),
    "read-radius-type": (_bad_read(radius=5.0), TypeError, "radius must be an integer"),
    "read-fit-radius": (
        _bad_read(radius=1, beta="fit"),
        ValueError, r"radius must be in \[2, 64\], got 1.*at least two points"),
    "read-fit-missing": (_bad_read(radius=None, beta="fit"), ValueError, "radius is required"),
    "read-beta-radius": (
        _bad_read(radius=-1, beta=2.0),
        ValueError, r"radius must be in \[0, 64\]"),
    "read-beta-str": (
        _bad_read(beta="auto"),
        ValueError, "beta must be a number >= 0, 'fit' or None, got 'auto'"),
    "read-beta-type": (_bad_read(beta=[1.0]), TypeError, "beta must be a positive real number"),
    "read-beta-neg": (_bad_read(beta=-3.0), ValueError, "beta must be a positive finite number"),
    # continuous_pattern_read
    "cont-zero-key": (
        _bad_continuous(keys=np.zeros((2, 3))),
        ValueError, "keys has a zero vector.*unit sphere"),
    "cont-zero-query": (
        _bad_continuous(queries=np.zeros(3)),
        ValueError, "queries has a zero vector"),
    "cont-nan": (_bad_continuous(queries=[np.nan, 1, 0]), ValueError, "queries contains NaN"),
    "cont-width": (
        _bad_continuous(queries=[1.0, 0.0]),
        ValueError, "queries and keys must have the same number of features"),
    "cont-values-rows": (
        _bad_continuous(values=np.ones((2, 2))),
        ValueError, "values must have one row per key"),
    "cont-iterations": (_bad_continuous(iterations=0), ValueError, "iterations must be in"),
    "cont-iterations-hetero": (
        _bad_continuous(values=K3, iterations=2),
        ValueError, "iterations=2 needs an autoassociative read"),
    "cont-n": (_bad_continuous(n=1), ValueError, r"n must be in \[2, inf\]"),
    "cont-radius-missing": (
        _bad_continuous(radius=None),
        ValueError, "radius is required for cap weights"),
    "cont-radius-range": (
        _bad_continuous(radius=4.0),
        ValueError, r"radius d must be in \[0, n\] = \[0, 3\]"),
    "cont-fit-radius-type": (
        _bad_continuous(radius="2", beta="fit"), TypeError, "radius d must be a real number"),
    "cont-beta-radius": (
        _bad_continuous(radius=-1.0, beta=2.0), ValueError, r"radius d must be in \[0, n\]"),
    "cont-fit-radius-small": (
        _bad_continuous(radius=1.0, beta="fit"),
        ValueError, r"radius must be >= 1.5 for beta='fit', got 1.0"),
    "cont-fit-missing": (
        _bad_continuous(radius=None, beta="fit"),
        ValueError, "radius is required"),
    "cont-beta-str": (
        _bad_continuous(beta="auto"),
        ValueError, "beta must be a positive number, 'fit' or None"),
    "cont-beta-zero": (
        _bad_continuous(beta=0),
        ValueError, "beta must be a positive finite number"),
    # compare_weights
    "cmp-method": (
        lambda: compare_weights(64, 11, method="mle"),
        ValueError, "method must be one of 'paper', 'ols', got 'mle'"),
    "cmp-n": (lambda: compare_weights(1, 0, beta=1.0), ValueError, r"n must be in \[2, inf\]"),
    "cmp-d-fit": (
        lambda: compare_weights(64, 1),
        ValueError, r"radius d must be in \[2, 64\], got 1.*or pass beta"),
    "cmp-d-range": (
        lambda: compare_weights(64, 70, beta=1.0),
        ValueError, r"radius d must be in \[0, 64\], got 70"),
    "cmp-d-type": (lambda: compare_weights(64, 11.0), TypeError, "radius d must be an integer"),
    "cmp-beta": (
        lambda: compare_weights(64, 11, beta=-2.0),
        ValueError, "beta must be a positive finite"),
    "cmp-h-float": (
        lambda: compare_weights(64, 11, h=[0.5]),
        TypeError, "^h must be integer"),
    "cmp-h-2d": (lambda: compare_weights(64, 11, h=[[0, 1]]), ValueError, "h must be a 1-D array"),
    "cmp-h-far": (
        lambda: compare_weights(64, 5, h=[11, 20]),
        ValueError, r"every distance in h exceeds 2d = 10"),
    # learned betas
    "csv-header": (
        lambda: _betas._parse_betas(["# c\n", "a,b,c\n"]),
        ValueError, "must start with the header task,module,beta"),
    "csv-empty": (
        lambda: _betas._parse_betas(["# only a comment\n"]),
        ValueError, "got no rows"),
    "csv-fields": (
        lambda: _betas._parse_betas(["task,module,beta\n", "x,y\n"]),
        ValueError, "must have 3 fields"),
    "summary-n": (lambda: learned_beta_summary(n=64.0), TypeError, "n .* must be an integer"),
    # effective_beta
    "eff-keys-1d": (
        lambda: attention.effective_beta(np.ones(4), np.ones(4)),
        ValueError, r"keys must be a non-empty array of shape \(N, d\)"),
    "eff-width": (
        lambda: attention.effective_beta(np.ones(3), np.ones((2, 4))),
        ValueError, "queries and keys must have the same number of features"),
    "eff-nan": (
        lambda: attention.effective_beta(np.ones(4), np.full((2, 4), np.nan)),
        ValueError, "keys contains NaN or infinite values"),
    "eff-type": (
        lambda: attention.effective_beta(np.array(["a"]), np.ones((2, 1))),
        TypeError, "queries must be a real-valued"),
    "eff-scale-type": (
        lambda: attention.effective_beta(np.ones(4), np.ones((2, 4)), scale="1/8"),
        TypeError, "scale must be a positive real number, got '1/8'"),
    "eff-scale-range": (
        lambda: attention.effective_beta(np.ones(4), np.ones((2, 4)), scale=0.0),
        ValueError, "scale must be a positive finite number, got 0.0"),
    "eff-method": (
        lambda: attention.effective_beta(np.ones(4), np.ones((2, 4)), method="mean"),
        ValueError, "method must be one of 'max', 'fit', got 'mean'"),
    "eff-overflow": (
        lambda: attention.effective_beta(np.full(4, 1e200), np.full((2, 4), 1e200)),
        ValueError, "overflowed float64"),
    "eff-fit-zero": (
        lambda: attention.effective_beta(np.zeros(4), np.ones((2, 4)), method="fit"),
        ValueError, "queries has a zero vector"),
    "eff-fit-one-key": (
        lambda: attention.effective_beta(np.ones((3, 4)), np.ones((1, 4)), method="fit"),
        ValueError, "method='fit' needs, for some query, two keys at different cosines"),
}


@nojit
@pytest.mark.parametrize("call, error, match", ERRORS.values(), ids=ERRORS.keys())
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _neuron_view_error(n_locations, seed, n=16, d=5, m=6):
    """Relative L2 distance between the neuron-view read sums of a finite SDM and
    the pattern view's sum over patterns of I(h) * (2 v - 1), both scaled to 2^n."""
    rng = np.random.default_rng(seed)
    patterns = fastsdm.random_addresses(m, n, rng)
    query = fastsdm.random_addresses(1, n, rng)
    mem = fastsdm.SDM(n, n_locations, radius=d, counter_dtype="int32", ties="zero",
                      seed=int(rng.integers(2**32)))
    mem.write(patterns)
    neuron = mem.read_sums(query)[0] * (2**n / n_locations)
    h = fastsdm.hamming_distances(query, patterns)[0]
    signs = 2 * fastsdm.unpack_bits(patterns, n).astype(np.int64) - 1
    pattern = sum(int(theory.intersection(n, d, int(hh))) * s for hh, s in zip(h, signs,
                                                                               strict=True))
    return np.linalg.norm(neuron - pattern) / np.linalg.norm(pattern)


@pytest.mark.slow
def test_neuron_view_approaches_the_pattern_view_as_n_grows():
    # Each location in both balls is a Binomial(N, I(h)/2^n) count: the relative
    # error of the finite memory shrinks like 1/sqrt(N).
    errors = {N: np.mean([_neuron_view_error(N, seed) for seed in range(8)])
              for N in (1_000, 10_000, 100_000)}
    assert errors[1_000] > errors[10_000] > errors[100_000]
    assert errors[100_000] < 0.06
    assert errors[1_000] / errors[100_000] > 4  # ~sqrt(100) = 10 in theory


# ---------------------------------------------------------------------------
# The effective β of unnormalised attention
# ---------------------------------------------------------------------------


@nojit
def test_effective_beta_with_equal_norms_is_exact(rng):
    # ‖q‖ = a, ‖k‖ = b: the scores are (scale·a·b)·cos, so both methods recover β exactly
    # once a key is parallel to each query, and the softmaxes are identical.
    d, a, b = 64, 7.0, 3.0
    directions = unit(rng.standard_normal((50, d)))
    keys, queries = b * directions, a * directions[[3, 7, 11]]
    truth = a * b / math.sqrt(d)
    for method in ("max", "fit"):
        result = attention.effective_beta(queries, keys, method=method)
        assert result.beta == pytest.approx(truth, rel=1e-12)
        np.testing.assert_allclose(result.per_query, truth, rtol=1e-12)
        assert result.method == method and result.scale == 1 / 8
    eff = attention.effective_beta(queries, keys, method="fit").beta
    np.testing.assert_allclose(softmax_weights(queries, keys, 1 / 8),
                               softmax_weights(queries, keys, eff, normalize=True), rtol=1e-10)


@nojit
def test_effective_beta_max_is_the_papers_largest_input(rng):
    # Without a parallel key the paper's estimate is max_j scale·q·k_j (a lower bound).
    Q, K = rng.standard_normal((6, 64)) * 4, rng.standard_normal((30, 64)) * 4
    result = attention.effective_beta(Q, K)
    scores = [[sum(q * k) / 8 for k in K] for q in Q]  # plain loops
    np.testing.assert_allclose(result.per_query, [max(row) for row in scores], rtol=1e-12)
    assert result.beta == pytest.approx(max(max(row) for row in scores), rel=1e-12)
    assert attention.effective_beta(Q[0], K, scale=0.5).beta == pytest.approx(
        4 * result.per_query[0], rel=1e-12)


def test_effective_beta_can_be_negative_as_its_docstring_says():
    # Every key points away from its query: the paper's max is negative, and
    # no softmax over cosines with a positive β describes the scores.
    K = np.array([[-1.0, 0.0], [-1.0, 0.5]])
    result = attention.effective_beta([1.0, 0.0], K)
    assert result.beta < 0
    with pytest.raises(ValueError, match="beta must be a positive finite number"):
        attention.softmax_weights([1.0, 0.0], K, result.beta, normalize=True)


@nojit
def test_effective_beta_fit_recovers_a_planted_beta_through_varying_norms(rng):
    # A QK-normalised head with gain β (scale=1): the fit reads β back exactly. With
    # key norms drawn independently of the cosines, the pooled slope is β·mean‖k‖.
    d, beta = 32, 17.5
    qh, kh = unit(rng.standard_normal((8, d))), unit(rng.standard_normal((40, d)))
    result = attention.effective_beta(beta * qh, kh, scale=1.0, method="fit")
    assert result.beta == pytest.approx(beta, rel=1e-12)  # equal norms after scaling
    norms = rng.uniform(0.5, 1.5, 40)
    noisy = attention.effective_beta(beta * qh, kh * norms[:, None], scale=1.0, method="fit")
    assert noisy.beta == pytest.approx(beta * norms.mean(), rel=0.15)
    assert np.all(np.isfinite(noisy.per_query))


def test_a_fitted_beta_of_zero_reads_with_equal_weights():
    # For radii near n the intersections are flat to double precision and
    # fit_beta is exactly 0 (n = 64: d >= 60).  beta="fit" used to refuse
    # "beta must be positive, got 0.0", a β the caller never gave; the β → 0
    # limit is equal weights, which is what the SDM weights are at d = n.
    assert theory.fit_beta(64, 62) == 0.0
    patterns = fastsdm.random_addresses(5, 64, seed=0)  # odd: no zero sums
    cues = fastsdm.flip_bits(patterns, 64, 3, seed=1)
    fitted = sdm_pattern_read(cues, patterns, n_bits=64, radius=62, beta="fit")
    # Equal weights: every cue reads the bitwise majority of the five patterns.
    majority = fastsdm.pack_bits(fastsdm.unpack_bits(patterns, 64).sum(axis=0) >= 3)
    assert np.array_equal(fitted, np.repeat(majority[None], 5, axis=0))
    assert np.array_equal(fitted, sdm_pattern_read(cues, patterns, n_bits=64, radius=64))
    # The fitted value passed as a number reads the same (it was refused).
    for zero in (theory.fit_beta(64, 62), 0, np.float32(0.0)):
        assert np.array_equal(fitted, sdm_pattern_read(cues, patterns, n_bits=64, beta=zero))
    with pytest.raises(ValueError, match="beta must be a positive finite number, got -1.0"):
        sdm_pattern_read(cues, patterns, n_bits=64, beta=-1.0)


@pytest.mark.parametrize("n, d", [(8, 8), (64, 64), (64, 62), (64, 11)])
def test_compare_weights_kl_is_never_negative(n, d):
    # Identical curves (d = n: flat SDM weights, fitted β = 0) gave kl = -0.0.
    kl = attention.compare_weights(n, d).kl
    assert kl >= 0.0 and math.copysign(1.0, kl) == 1.0


@nojit
def test_beta_fits_and_conversions_are_exact_at_large_n():
    # Third review: fit_beta centred the cosines 1 - 2h/n in float64 (27 % off at
    # n = 2**53, 1e-5 at 1e12); fit_cap_beta went wrong from 1e10 (its
    # quadrature) and hung at 1e13; cosine_to_hamming rounded a float that
    # cannot hold n (1 - cos) / 2 (one bit off, not near a tie).
    from fastsdm.theory import fit_beta, fit_cap_beta, log_intersection

    for n, d in ((1000, 5), (10**12, 5), (10**15, 3), (2**53, 5)):
        xs = [Fraction(n - 2 * h, n) for h in range(d)]
        ys = [Fraction(log_intersection(n, d, h)) for h in range(d)]
        mx, my = sum(xs) / d, sum(ys) / d
        slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
                 / sum((x - mx) ** 2 for x in xs) * Fraction(d, d - 1))
        assert fit_beta(n, d) == pytest.approx(float(slope), rel=1e-13), n
    assert fit_cap_beta(10**9, 5) / 10**18 == pytest.approx(fit_cap_beta(10**6, 5) / 10**12,
                                                            rel=1e-4)
    with pytest.raises(ValueError, match=r"\[2, 1,000,000,000\] for a β fit .*quadrature"):
        fit_cap_beta(10**10, 5)
    rng = np.random.default_rng(0)
    for n in (10**15, 2**53 - 1):
        cos = rng.uniform(-1, 1, 300)
        exact = [round(Fraction(n) * (1 - Fraction(float(c))) / 2) for c in cos]
        assert cosine_to_hamming(cos, n).tolist() == exact
        assert cosine_to_hamming(0.10784243581324104, 10**15) == 446078782093379
        h = rng.integers(0, n + 1, 300, dtype=np.int64)
        np.testing.assert_array_equal(cosine_to_hamming(hamming_to_cosine(h, n), n), h)


@nojit
def test_attention_review_of_extremes():
    # Fourth review of the attention utilities (each case failed before its fix).
    import warnings

    from fastsdm.theory import fit_cap_beta

    # hamming_to_cosine rounds (n - 2h)/n once: 1 - 2h/n lost 0.08 % of 1/n.
    rng = np.random.default_rng(1)
    n = 10**15 + 1
    assert hamming_to_cosine((n - 1) // 2, n) == float(Fraction(1, n))
    for n in rng.integers(1, 2**53, 200):
        h = rng.integers(0, n + 1, 5)
        assert hamming_to_cosine(h, int(n)).tolist() == [float(Fraction(int(n) - 2 * int(x),
                                                                        int(n))) for x in h]
    # An average of finite values stays finite (was inf: the BLAS sum overflowed).
    big = np.finfo(np.float64).max
    out = softmax_attention([1.0, 0.0], np.zeros((11, 2)), np.full((11, 1), big), 1.0)
    assert out.tolist() == [big]
    # Flat caps fit β = +0.0 (was -0.0), and beta="fit" then reads with equal
    # weights (was refused: "beta must be positive, got -0.0").
    beta = fit_cap_beta(8, 8)
    assert beta == 0.0 and math.copysign(1.0, beta) == 1.0
    keys = rng.standard_normal((5, 8))
    cue = rng.standard_normal(8)
    unit = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    mean = unit.mean(axis=0)
    np.testing.assert_allclose(continuous_pattern_read(cue, keys, radius=8, beta="fit"),
                               mean / np.linalg.norm(mean))
    # β = 0 given as any real zero reads with equal weights (Fraction(0) made an
    # object array NumPy could not exponentiate).
    x = fastsdm.random_addresses(3, 64, seed=0)
    np.testing.assert_array_equal(sdm_pattern_read(x[0], x, n_bits=64, beta=Fraction(0)),
                                  sdm_pattern_read(x[0], x, n_bits=64, beta=0.0))
    # No queries: no weights (was NumPy's "zero-size array to reduction").
    assert sdm_weights(8, 2, np.zeros((0, 3), int)).shape == (0, 3)
    # compare_weights with given distances needs memory for those only (it built
    # all n + 1: 8 TB here), and a huge β leaks no overflow warnings.
    assert compare_weights(10**12, 50, h=[0, 1, 2]).sdm.shape == (3,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compare_weights(64, 40, beta=1e308).kl == math.inf


@nojit
def test_attention_review_messages_name_what_the_caller_passed():
    # Each named an argument the caller never passed: n, distances, p_whole.
    with pytest.raises(ValueError, match=r"need dim >= 2, got vectors of width 1"):
        continuous_pattern_read([1.0], [[1.0], [-1.0]], radius=0.5)
    with pytest.raises(ValueError, match=r"^h must"):
        compare_weights(64, 11, h=3)
    with pytest.raises(ValueError, match=r"^n \(the number of bits\) must .*head dimension"):
        learned_beta_summary(1)


@pytest.mark.nojit
def test_values_beyond_float64_are_named_not_called_infinite():
    # A finite long double beyond float64's range (1e400) was refused as "NaN
    # or infinite" without a word of the range, and an array of them leaked
    # NumPy's overflow warning.
    huge = np.longdouble("1e400")
    if not np.isfinite(huge):
        pytest.skip("long double is float64 on this platform")
    beyond = "beyond the float64 range|beyond float64's range"
    with pytest.raises(ValueError, match=f"beta must be a positive finite number, got "
                                         f".*1e\\+400.*({beyond})"):
        attention.softmax_weights(np.ones((1, 2)), np.ones((2, 2)), huge)
    K = np.ones((2, 2), dtype=np.longdouble)
    K[0, 0] = huge
    # The wording of every refusal of non-finite values after a narrowing cast.
    with pytest.raises(ValueError, match=r"keys contains NaN or infinite values \(or values "
                                         r"beyond the float64 range\); .*or rescale keys"):
        attention.effective_beta(K[1:], K)
    with pytest.raises(ValueError, match=r"K contains NaN or infinite values \(or values "
                                         r"beyond the float64 range\)"):
        attention.softmax_attention(K[1:], K, K, beta=1.0)
    with pytest.raises(ValueError) as info:  # no cast that can overflow: no such words
        attention.effective_beta(np.ones(2), [[np.nan, 1.0]])
    assert "beyond" not in str(info.value)
    # Not where the value is refused for being too large anyway, or negative.
    with pytest.raises(ValueError) as info:
        attention.softmax_weights(np.ones((1, 2)), np.ones((2, 2)), -huge)
    assert "float64" not in str(info.value)


@pytest.mark.nojit
@pytest.mark.parametrize("delta", [5e-11, 1e-8])
def test_effective_beta_fits_keys_at_close_but_different_cosines(delta):
    # Cosines 5e-11 apart were called "all at the same cosine" (a fixed
    # threshold of 1e-6 on their spread), far above float64's rounding.
    a = 0.7
    keys = 3.0 * np.array([[np.cos(a), np.sin(a)], [np.cos(a + delta), np.sin(a + delta)]])
    eff = attention.effective_beta([2.0, 0.0], keys, scale=0.5, method="fit")
    assert eff.beta == pytest.approx(0.5 * 2.0 * 3.0, rel=1e-4)
    with pytest.raises(ValueError, match=r"all at the same cosine from every query \(to within"):
        attention.effective_beta([2.0, 0.0], keys[[0, 0]], scale=0.5, method="fit")

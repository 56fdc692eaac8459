"""Tests for fastsdm.theory against brute force, independent formulas and published numbers."""

from __future__ import annotations

import itertools
import math
import signal
import statistics
import time
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastsdm import theory
from fastsdm.theory import _caps, _reads

nojit = pytest.mark.nojit
LOG2 = math.log(2.0)


# ---------------------------------------------------------------------------
# Independent oracles
# ---------------------------------------------------------------------------


def brute_force_counts(n: int) -> tuple[list[int], dict[tuple[int, int], int]]:
    """Ball sizes and intersections by enumerating all 2^n points (n <= 12)."""
    points = np.arange(1 << n, dtype=np.uint64)
    to_p = np.bitwise_count(points).astype(np.intp)  # centre p = 0
    sizes = [int((to_p <= d).sum()) for d in range(n + 1)]
    counts = {}
    for h in range(n + 1):
        q = np.uint64((1 << h) - 1)  # centre q: the first h bits set
        to_q = np.bitwise_count(points ^ q).astype(np.intp)
        joint = np.zeros((n + 1, n + 1), dtype=np.int64)
        np.add.at(joint, (to_p, to_q), 1)
        within = joint.cumsum(axis=0).cumsum(axis=1)  # within[a, b] = #{to_p <= a, to_q <= b}
        for d in range(n + 1):
            counts[d, h] = int(within[d, d])
    return sizes, counts


def double_sum_intersection(n: int, d: int, h: int) -> int:
    """REFERENCE §2 double sum, term by term."""
    total = 0
    for i in range(h + 1):
        top = min(d - i, d - h + i, n - h)
        if top >= 0:
            total += math.comb(h, i) * sum(math.comb(n - h, j) for j in range(top + 1))
    return total


def exact_log(value: int) -> float:
    return math.log(value) if value else -math.inf


def phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def random_unit_vectors(rng, count: int, n: int) -> np.ndarray:
    x = rng.standard_normal((count, n))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---------------------------------------------------------------------------
# Exact counts
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("n", range(1, 13))
def test_ball_size_and_intersection_match_brute_force(n):
    sizes, counts = brute_force_counts(n)
    assert [theory.ball_size(n, d) for d in range(n + 1)] == sizes
    for d in range(n + 1):
        expected = [counts[d, h] for h in range(n + 1)]
        assert theory.intersection(n, d, np.arange(n + 1)).tolist() == expected
        assert [theory.intersection(n, d, h) for h in range(n + 1)] == expected


@nojit
def test_ball_size_clamps_radius():
    assert theory.ball_size(7, -1) == 0
    assert theory.ball_size(7, 7) == theory.ball_size(7, 100) == 2**7
    assert theory.ball_size(1000, 451) == sum(math.comb(1000, k) for k in range(452))
    assert theory.log_ball_size(7, -3) == -math.inf
    assert theory.log_ball_size(7, 9) == pytest.approx(7 * LOG2, rel=1e-15)


@nojit
@pytest.mark.parametrize("n, d", [(13, 4), (20, 7), (33, 16), (40, 25), (64, 11), (64, 40)])
def test_intersection_matches_double_sum(n, d):
    expected = [double_sum_intersection(n, d, h) for h in range(n + 1)]
    assert theory.intersection(n, d, list(range(n + 1))).tolist() == expected


@nojit
def test_intersection_matches_double_sum_at_every_radius_and_its_far_end():
    # The lune terms follow one another by exact ratios: every (n, d, h) of
    # small n, and the last h where the balls meet at a larger n.
    for n in range(1, 25):
        for d in range(n + 1):
            expected = [double_sum_intersection(n, d, h) for h in range(n + 1)]
            assert theory.intersection(n, d, list(range(n + 1))).tolist() == expected, (n, d)
    n, d = 601, 290
    for h in (1, 2, 3, 300, 2 * d - 1, 2 * d, 2 * d + 1):
        assert theory.intersection(n, d, h) == double_sum_intersection(n, d, h), h


@nojit
@pytest.mark.parametrize("n, d", [(10, 3), (64, 15), (255, 100), (1000, 451), (1000, 20)])
def test_intersection_properties(n, d):
    values = theory.intersection(n, d, np.arange(n + 1)).tolist()
    assert values[0] == theory.ball_size(n, d)
    for k in range(1, n // 2 + 1):
        assert values[2 * k - 1] == values[2 * k]
    if 2 * d <= n:
        assert values[2 * d] == math.comb(2 * d, d)
        assert all(v == 0 for v in values[2 * d + 1 :])
    assert all(a >= b for a, b in itertools.pairwise(values))


@nojit
def test_kanerva_table_for_the_canonical_memory():
    h = [0, 1, 10, 50, 100, 150, 200, 300, 400, 500]
    size = theory.ball_size(1000, 451)
    table = [round(1000 * i / size) for i in theory.intersection(1000, 451, h)]
    assert table == [1000, 894, 743, 445, 267, 162, 97, 30, 7, 1]
    fractions = theory.intersection_fraction(1000, 451, h)
    assert fractions.dtype == np.float64
    assert np.round(1000 * fractions).astype(int).tolist() == table


@nojit
def test_array_shapes_and_types():
    h = np.array([[0, 1], [5, 8]])
    exact = theory.intersection(8, 2, h)
    assert exact.dtype == object and exact.shape == (2, 2)
    assert all(type(v) is int for v in exact.flat)
    assert exact.tolist() == [[37, 16], [0, 0]]  # 37 - C(7, 2)
    logs = theory.log_intersection(8, 2, h)
    assert logs.dtype == np.float64 and logs.shape == (2, 2)
    assert logs[1, 0] == -math.inf
    assert isinstance(theory.intersection(8, 2, np.int64(1)), int)
    assert isinstance(theory.log_intersection(8, 2, 1), float)
    assert isinstance(theory.intersection_fraction(8, 2, 1), float)
    assert theory.intersection(8, 2, []).shape == (0,)
    assert theory.expected_intersection(8, 2, h, 256).shape == (2, 2)


@nojit
def test_expected_intersection():
    assert round(theory.expected_intersection(1000, 451, 0, 10**6), 2) == 1071.85
    values = theory.expected_intersection(10, 3, [0, 3, 7], 1024)
    assert values.tolist() == [176.0, 50.0, 0.0]  # 176 - C(9,3) - 2 C(7,2); N = 2^n


# ---------------------------------------------------------------------------
# Log space
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("n", [64, 256, 1000])
def test_log_versions_match_exact_integers(n):
    h = np.arange(n + 1)
    for d in sorted({0, 1, 2, n // 4, n // 2 - 1, n // 2, n // 2 + 1, n - 1, n,
                     *range(0, n + 1, max(1, n // 25))}):
        exact = theory.intersection(n, d, h)
        expected = np.array([exact_log(v) for v in exact])
        np.testing.assert_allclose(theory.log_intersection(n, d, h), expected, rtol=1e-14, atol=0)
        assert theory.log_ball_size(n, d) == pytest.approx(
            math.log(theory.ball_size(n, d)), rel=5e-16, abs=0)


def _hang_guard(seconds: int, what: str):
    def hang(*_):
        raise TimeoutError(f"{what} did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    return previous


@nojit
@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs SIGALRM for the hang guard")
def test_log_ball_size_and_log_intersection_are_accurate_for_huge_n():
    # lgamma differences of size n log n lost up to 6.5e-10 relative (n = 1e7) and
    # each call built an O(n) table (n = 1e8: 24 s, then MemoryError under 3 GB).
    # Oracle: math.log of the exact integers (ball sums, and the lune tail
    # I(h) = Σ_{k >= ceil(h/2)} C(2k, k) C(n - 2k - 1, d - k) for 2d < n).
    def lune(n, d, h):
        return sum(math.comb(2 * k, k) * math.comb(n - 2 * k - 1, d - k)
                   for k in range((h + 1) // 2, d + 1))

    previous = _hang_guard(30, "log_ball_size / log_intersection")
    try:
        balls = [(n, d, theory.log_ball_size(n, d))
                 for n, d in [(10**6, 3), (10**7, 2), (10**8, 2), (10**6, 200), (4097, 2048),
                              (20001, 10000), (20000, 10100), (5000, 1700)]]
        meets = [(n, d, h, theory.log_intersection(n, d, h))
                 for n, d in [(4096, 1), (10**6, 3), (10**7, 2), (10**8, 2), (10**6, 40)]
                 for h in range(2 * d + 1)]
        wide = theory.log_intersection(30001, 15000, np.array([29000, 29500, 29999, 30000]))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    for n, d, value in balls:
        assert value == pytest.approx(math.log(theory.ball_size(n, d)), rel=5e-16, abs=0), (n, d)
    for n, d, h, value in meets:
        assert value == pytest.approx(math.log(lune(n, d, h)), rel=1e-15, abs=0), (n, d, h)
    expected = [math.log(lune(30001, 15000, h)) for h in (29000, 29500, 29999, 30000)]
    np.testing.assert_allclose(wide, expected, rtol=1e-14, atol=0)


@pytest.mark.slow
def test_log_intersection_sweeps_n4096_quickly():
    n = 4096
    h = np.arange(n + 1)
    start = time.perf_counter()
    sweep = [theory.log_intersection(n, d, h) for d in range(n + 1)]
    elapsed = time.perf_counter() - start
    assert elapsed < 30.0  # a few hundred ms here; O(n^3) would take minutes
    for d, values in enumerate(sweep):
        assert values[0] == pytest.approx(theory.log_ball_size(n, d), rel=1e-12)
        finite = values[: min(2 * d, n) + 1]
        assert np.isfinite(finite).all()
        assert np.all(np.diff(finite) <= 1e-12 * np.abs(finite[:-1]))
        assert np.all(values[2 * d + 1 :] == -np.inf)
    for d in (1, 700, 2047, 2048, 3000, 4095):
        probe = np.array([0, 1, 2, 333, 1000, 2048, 4095, 4096])
        expected = [exact_log(v) for v in theory.intersection(n, d, probe)]
        np.testing.assert_allclose(sweep[d][probe], expected, rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------
# Probabilities and radii
# ---------------------------------------------------------------------------


@nojit
def test_canonical_memory_numbers():
    p = theory.activation_probability(1000, 451)
    # REFERENCE quotes 16 significant digits; the correctly rounded double is one ulp away
    assert p == pytest.approx(0.001071850048923666, rel=1e-15)
    assert p == float(Fraction(sum(math.comb(1000, k) for k in range(452)), 2**1000))
    assert round(theory.expected_activated(1000, 451, 10**6), 2) == 1071.85
    assert round(theory.activated_std(1000, 451, 10**6), 2) == 32.72
    assert theory.activation_probability(5, 5) == 1.0
    assert theory.activated_std(5, 5, 100) == 0.0


@nojit
def test_radius_for_probability_published():
    assert theory.radius_for_probability(256, 1 / 1000) == 103
    assert theory.radius_for_probability(64, 2.0**-25) == 11
    assert theory.radius_for_probability(64, 1.0) == 64
    assert theory.radius_for_probability(64, 1) == 64


@nojit
@pytest.mark.parametrize("n", [1, 2, 7, 64, 256, 1000])
def test_radius_for_probability_matches_scipy(n):
    binom = pytest.importorskip("scipy.stats").binom
    rng = np.random.default_rng(n)
    probabilities = np.concatenate([rng.uniform(1e-12, 1.0, 60), 10.0 ** rng.uniform(-40, 0, 60)])
    for p in probabilities:
        assert theory.radius_for_probability(n, float(p)) == binom.ppf(p, n, 0.5)


@nojit
def test_radius_for_probability_is_exact_at_boundaries():
    n = 100
    for d in (0, 3, 50, 99, 100):
        p = Fraction(theory.ball_size(n, d), 2**n)
        assert theory.radius_for_probability(n, p) == d
        if d < n:
            assert theory.radius_for_probability(n, p + Fraction(1, 2**n)) == d + 1


@nojit
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200), p=st.floats(1e-300, 1.0))
def test_radius_for_probability_brackets(n, p):
    d = theory.radius_for_probability(n, p)
    assert Fraction(theory.ball_size(n, d), 2**n) >= Fraction(p)
    assert Fraction(theory.ball_size(n, d - 1), 2**n) < Fraction(p)


@nojit
@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 80))
def test_log_intersection_property(data, n):
    d = data.draw(st.integers(0, n))
    h = data.draw(st.lists(st.integers(0, n), min_size=1, max_size=5))
    exact = [double_sum_intersection(n, d, k) for k in h]
    got = theory.log_intersection(n, d, h)
    np.testing.assert_allclose(got, [exact_log(v) for v in exact], rtol=1e-12, atol=0)


@nojit
@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 60))
def test_intersection_inclusion_exclusion(data, n):
    # |A ∩ B| = |A| + |B| - 2^n + |A^c ∩ B^c|; the complements are balls of radius
    # n - d - 1 around the complemented centres, still h apart.
    d = data.draw(st.integers(0, n))
    h = data.draw(st.integers(0, n))
    complement = theory.intersection(n, n - d - 1, h) if d < n else 0
    assert theory.intersection(n, d, h) == 2 * theory.ball_size(n, d) - 2**n + complement


# ---------------------------------------------------------------------------
# β
# ---------------------------------------------------------------------------


@nojit
def test_published_betas():
    assert [round(theory.fit_beta(64, d), 1) for d in (5, 11, 15)] == [35.5, 15.9, 10.1]


@nojit
@pytest.mark.parametrize("n, d", [(64, 2), (64, 5), (64, 15), (100, 37), (1000, 451)])
def test_fit_beta_against_numpy(n, d):
    h = np.arange(d)
    x = 1.0 - 2.0 * h / n
    y = np.array([math.log(v) for v in theory.intersection(n, d, h)])
    paper = np.cov(x, y, ddof=1)[0, 1] / np.var(x)
    slope, intercept = np.polyfit(x, y, 1)
    assert theory.fit_beta(n, d) == pytest.approx(paper, rel=1e-10)
    beta, b0 = theory.fit_beta(n, d, method="ols", return_intercept=True)
    assert beta == pytest.approx(slope, rel=1e-10)
    assert b0 == pytest.approx(intercept, rel=1e-10, abs=1e-9)
    beta_paper, b0_paper = theory.fit_beta(n, d, return_intercept=True)
    assert beta_paper == pytest.approx(beta * d / (d - 1), rel=1e-12)  # the N/(N-1) inflation
    assert b0_paper == pytest.approx(y.mean() - beta_paper * x.mean(), rel=1e-10, abs=1e-9)


@nojit
def test_fit_beta_is_never_negative():
    # Near d = n the intersections are flat to double precision: the fit gave
    # rounding noise such as -6.6e-31, which softmax functions refuse as a β.
    for n, d in ((100, 90), (64, 62), (256, 250)):
        for method in ("paper", "ols"):
            beta, _ = theory.fit_beta(n, d, method=method, return_intercept=True)
            assert beta == 0.0 and math.copysign(1.0, beta) == 1.0
    assert theory.fit_beta(64, 59) > 0  # tiny, but a real decay


@nojit
def test_radius_for_beta():
    assert [theory.radius_for_beta(64, b) for b in (35.5, 15.9, 10.1)] == [5, 11, 15]
    assert theory.radius_for_beta(64, 1e6) == 2
    assert theory.radius_for_beta(64, 1e-6) == 32
    ols = theory.fit_beta(100, 30, method="ols")
    assert theory.radius_for_beta(100, ols, method="ols") == 30


# ---------------------------------------------------------------------------
# Optimal radii
# ---------------------------------------------------------------------------


@nojit
def test_optimal_radii_of_the_paper():
    args = (64, 2**64, 1024)
    assert theory.optimal_radius(*args, criterion="snr") == 11
    assert theory.optimal_radius(*args, criterion="memory") == 5
    assert theory.optimal_radius(*args, criterion="critical_distance") == 15
    for criterion in ("snr", "memory", "critical_distance"):
        paper = theory.optimal_radius(*args, criterion=criterion)
        argmax = theory.optimal_radius(*args, criterion=criterion, rounding="argmax")
        assert abs(paper - argmax) <= 1


@nojit
def test_optimal_probability_takes_n_first_like_every_theory_function():
    # The order of snr(n, d, n_locations, n_patterns) and optimal_radius(n,
    # n_locations, n_patterns, criterion), beside the older (n_locations,
    # n_patterns, criterion, *, n=): three numbers first mean n comes first.
    f = theory.optimal_probability
    snr = f(2**64, 1024)
    assert snr == pytest.approx(2.0**-25, rel=1e-14)
    assert f(64, 2**64, 1024) == snr == f(2**64, 1024, "snr") == f(64, 2**64, 1024, "snr")
    memory = f(2**64, criterion="memory", n=64)
    assert f(64, 2**64, 1024, "memory") == memory == f(64, 2**64, 1024, criterion="memory")
    assert f(64, 2**64, 1024, "memory", p_whole=0.9) == f(2**64, None, "memory", n=64,
                                                           p_whole=0.9)
    assert f(n=64, n_locations=2**64, n_patterns=1024) == snr
    assert f(np.int64(64), 2**64, np.float64(1024)) == snr
    with pytest.raises(TypeError, match=r"got n twice: first positionally .* pass it once"):
        f(64, 2**64, 1024, n=64)
    with pytest.raises(TypeError, match=r"at most 4 positional arguments .* got 5"):
        f(64, 2**64, 1024, "snr", 0.5)
    # The older order keeps its meaning and its refusals.
    with pytest.raises(ValueError, match="criterion must be one of"):
        f(10**6, 100, "SNR")


@nojit
def test_snr_optimum():
    assert theory.optimal_probability(10**6, 10**4) == pytest.approx(0.000368403, rel=1e-6)
    assert theory.optimal_probability(2**64, 1024) == pytest.approx(2.0**-25, rel=1e-14)
    p = 0.001071850048923666
    expected = math.sqrt(p * 1e6 / (1 + p * 1e4 + p**3 * 1e4 * 1e6))
    assert theory.snr(1000, 451, 10**6, 10**4) == pytest.approx(expected, rel=1e-12)
    # argmax rounding really maximises SNR over all integer radii
    n, r, m = 200, 1e5, 300.0
    best = theory.optimal_radius(n, r, m, "snr", "argmax")
    scores = [theory.snr(n, d, r, m) for d in range(n + 1)]
    assert scores[best] == max(scores)


@nojit
@pytest.mark.parametrize(("r", "m"), [(1, 0.1), (0.5, 0.999), (1, 0.5), (3, 0.05)])
def test_snr_optimum_is_clipped_to_one(r, m):
    # For 2 m r <= 1, (2 m r)^(-1/3) >= 1 was returned as is (1.71 for r = 1,
    # m = 0.1) and optimal_radius then refused "p ... got 1.71".  Oracle: the
    # exact SNR² = p r / (1 + p m + p³ m r) in Fractions increases on (0, 1].
    assert theory.optimal_probability(r, m) == 1.0
    R, M = Fraction(r), Fraction(m)
    ps = [Fraction(k, 64) for k in range(1, 65)]
    snr2 = [p * R / (1 + p * M + p**3 * M * R) for p in ps]
    assert all(a < b for a, b in itertools.pairwise(snr2))
    n = 64
    assert theory.optimal_radius(n, r, m) == n  # p = 1: every location
    # argmax: the exact SNR over the integer radii is largest at d = n.
    exact = [Fraction(sum(math.comb(n, k) for k in range(d + 1)), 2**n) for d in range(n + 1)]
    scores = [p * R / (1 + p * M + p**3 * M * R) for p in exact]
    assert scores.index(max(scores)) == n
    if 2 * m * r < 0.5:  # at 2 m r = 1 the SNR is flat at p = 1: float ties elsewhere
        assert n in theory.optimal_radius(n, r, m, rounding="argmax", return_all=True)


@nojit
def test_memory_optimum():
    n, r = 64, 2.0**64
    z = statistics.NormalDist().inv_cdf(0.5 ** (1 / n))
    p = theory.optimal_probability(r, criterion="memory", n=n)
    # the stationary-point cubic, relative to its largest term
    residual = -2 * r**2 * p**3 + 3 * r * p**2 * z**2 + z**2
    assert abs(residual) <= 1e-10 * 2 * r**2 * p**3

    def m(q):
        return (q * r / z**2 - 1) / (q * (1 + q**2 * r))

    assert m(p) > m(p * 1.01) and m(p) > m(p * 0.99)
    assert theory.optimal_probability(r, criterion="memory", z=z) == pytest.approx(p, rel=1e-12)
    d = 5
    pd = theory.activation_probability(n, d)
    assert theory.capacity(n, d, r) == pytest.approx(m(pd), rel=1e-12)
    assert theory.capacity(n, d, r, z=3.0) == pytest.approx(
        (pd * r / 9 - 1) / (pd * (1 + pd**2 * r)), rel=1e-12)
    assert theory.capacity(4096, 0, 1e6) == -math.inf
    assert theory.optimal_probability(1, criterion="memory", n=10) == 1.0  # clipped
    best = theory.optimal_radius(n, r, 1, "memory", "argmax")
    values = [theory.capacity(n, d, r) for d in range(n + 1)]
    assert values[best] == max(values)


@nojit
def test_critical_distance_against_direct_formula():
    n, d, r, m = 64, 17, 2.0**40, 100
    result = theory.critical_distance(n, d, r, m, model="paper")
    s = [float(r * i / 2**n) for i in theory.intersection(n, d, np.arange(n + 1))]
    half = s[n // 2]
    expected = [n * phi(-sx / math.sqrt(sx + (m - 1) * (half + half**2))) for sx in s]
    x, x_new = result.curve
    assert x.tolist() == list(range(n + 1))
    # Φ's far tail amplifies the last-ulp differences of the log-space ratio t by t²
    np.testing.assert_allclose(x_new, expected, rtol=1e-10)
    distance = 0
    while distance < n and expected[distance + 1] < distance + 1:
        distance += 1
    assert result.distance == distance


@nojit
def test_critical_distance_noise_vanishes_below_quarter_radius():
    # 2d < n/2: I(n/2) = 0, so x'(x) = n Φ(-sqrt(S(x))) for any number of patterns
    n, d, r = 64, 15, 2.0**64
    paper = {"model": "paper"}
    few = theory.critical_distance(n, d, r, 1, **paper).curve[1]
    many = theory.critical_distance(n, d, r, 10**9, **paper).curve[1]
    np.testing.assert_array_equal(few, many)
    assert theory.critical_distance(n, d, r, 1024, **paper).distance == 2 * d
    crowded = theory.critical_distance(n, 16, r, 1024, **paper)
    assert crowded.distance < 2 * 16
    assert theory.critical_distance(8, 0, 1.0, 1, **paper).distance == 0
    # the three-way tie of the paper's d*_CD, reported rather than hidden
    assert [theory.critical_distance(n, k, r, 1024, **paper).distance
            for k in (14, 15, 16, 17, 18)] == [28, 30, 30, 30, 28]
    assert theory.optimal_radius(n, r, 1024, "critical_distance", return_all=True) == (15, 16, 17)


# ---------------------------------------------------------------------------
# One-read models: each piece against exact enumeration, Monte Carlo and fastsdm.SDM
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
def test_self_bias_identity_is_exact(n):
    # Σ_h C(n,h) I(h) (n − 2h) = n C(n−1, d)²: the mean pull E_h[S(h)(1 − 2h/n)] of
    # one stored word towards the cue is N κ², κ = C(n−1, d)/2^n (exact integers).
    for d in range(n + 1):
        lhs = sum(math.comb(n, h) * theory.intersection(n, d, h) * (n - 2 * h)
                  for h in range(n + 1))
        assert lhs == n * math.comb(n - 1, d) ** 2, (n, d)
    stats = theory.read_statistics(n, min(n, 2), 1000, 11)
    kappa = math.comb(n - 1, min(n, 2)) / 2**n
    assert stats.bias == pytest.approx(10 * 1000 * kappa**2, rel=1e-12)


def brute_force_overlap(n: int, d: int, x: int) -> int:
    """Σ z̃_j q̃_j over z in O(q, d) ∩ O(ξ, d), with q, ξ x bits apart and agreeing on bit j."""
    points = np.arange(1 << n, dtype=np.uint64)
    q, xi = np.uint64(0), np.uint64(((1 << x) - 1) << 1)  # bit 0 agrees; bits 1..x differ
    both = (np.bitwise_count(points ^ q) <= d) & (np.bitwise_count(points ^ xi) <= d)
    agree_bit0 = (points & np.uint64(1)) == 0
    return int(both[agree_bit0].sum()) - int(both[~agree_bit0].sum())


@nojit
@pytest.mark.parametrize("n", [2, 5, 9])
def test_agreeing_overlap_against_enumeration(n):
    for d in range(n + 1):
        log_j = _reads._log_agreeing_overlap(n, d)
        for x in range(n):
            expected = brute_force_overlap(n, d, x)
            got = math.exp(log_j[x]) if log_j[x] > -math.inf else 0.0
            assert got == pytest.approx(expected, rel=1e-12, abs=1e-12), (n, d, x)


def simulate_oriented_sums(n, d, N, m, x, trials, rng):
    """t_j = s_j q̃_j of one read, on right (ε = +1) and flipped cue bits, with NumPy only."""
    bit = np.uint64(1) << np.arange(n, dtype=np.uint64)
    right, flipped = [], []
    for _ in range(trials):
        locations = rng.integers(0, 1 << n, N, dtype=np.uint64)  # n-bit integers
        words = rng.integers(0, 1 << n, m, dtype=np.uint64)
        flips = rng.choice(n, x, replace=False)
        cue = words[0] ^ np.bitwise_or.reduce(bit[flips])
        writes = np.bitwise_count(locations[:, None] ^ words[None]) <= d  # (N, m)
        bipolar = np.where(words[:, None] & bit, 1, -1)  # (m, n)
        active = np.bitwise_count(locations ^ cue) <= d
        t = (writes[active].sum(axis=0) @ bipolar) * np.where(cue & bit, 1, -1)
        mask = np.zeros(n, dtype=bool)
        mask[flips] = True
        right.append(t[~mask])
        flipped.append(t[mask])
    return np.concatenate(right).astype(float), np.concatenate(flipped).astype(float)


@pytest.mark.slow
def test_read_moments_against_monte_carlo():
    # Small memories where the shared-location term is 17 % of the variance: the
    # issue's σ² = S + (m−1)E_h[S + S²] alone would miss the Monte Carlo variance.
    n, d, N, m, x = 12, 4, 150, 60, 3
    stats = theory.read_statistics(n, d, N, m)
    right, flipped = simulate_oriented_sums(n, d, N, m, x, 4000, np.random.default_rng(0))
    s = stats.signal[x]
    mean_right, mean_flipped = s + stats.bias, -s + stats.bias
    var_right = stats.signal_var[x] + stats.crosstalk_var + 2 * stats.cov_correct[x]
    var_flipped = stats.signal_var[x] + stats.crosstalk_var - 2 * stats.cov_flipped[x]
    assert right.mean() == pytest.approx(mean_right, abs=4 * right.std() / math.sqrt(4000))
    assert flipped.mean() == pytest.approx(mean_flipped, abs=4 * flipped.std() / math.sqrt(4000))
    assert right.var() == pytest.approx(var_right, rel=0.05)
    assert flipped.var() == pytest.approx(var_flipped, rel=0.05)
    hetero = theory.read_statistics(n, d, N, m, model="heteroassociative")
    without_sharing = stats.signal_var[x] + hetero.crosstalk_var
    assert right.var() > 1.12 * without_sharing


def sdm_one_read(n, d, N, m, xs, cues, seed, hetero=False):
    """Mean distance after one read of fastsdm.SDM, per cue distance."""
    import fastsdm

    seeds = np.random.SeedSequence(seed).spawn(3)
    mem = fastsdm.SDM(n, N, radius=d, seed=seeds[0])
    rng = np.random.default_rng(seeds[1])
    keys = fastsdm.random_addresses(m, n, seed=rng)
    data = fastsdm.random_addresses(m, n, seed=rng) if hetero else keys
    mem.write(keys, data if hetero else None)
    rng = np.random.default_rng(seeds[2])
    chosen = rng.choice(m, cues, replace=False)
    out = []
    for x in xs:
        read = mem.read(fastsdm.flip_bits(keys[chosen], n, x, seed=rng))
        out.append(float(np.bitwise_count(read ^ data[chosen]).sum(axis=1).mean()))
    return np.array(out)


def test_autoassociative_model_tracks_the_simulated_memory():
    n, d, N, m = 256, 108, 20_000, 1600
    xs = np.array([16, 32, 48, 64, 96])
    simulated = sdm_one_read(n, d, N, m, xs, 100, seed=11)
    model = theory.critical_distance(n, d, N, m).curve[1][xs]
    tolerance = np.maximum(10.0, 0.06 * simulated)
    assert np.all(np.abs(model - simulated) <= tolerance), (simulated, model)
    # the paper model, without the self-bias, misses the same measurement by far
    paper = theory.critical_distance(n, d, N, m, model="paper").curve[1][xs]
    assert np.all(np.abs(paper - simulated) > tolerance), (simulated, paper)


def test_heteroassociative_bit_error_tracks_the_simulated_memory():
    n, d, N, m, x = 256, 103, 100_000, 2000, 32
    simulated = sdm_one_read(n, d, N, m, [x], 300, seed=12, hetero=True)[0] / n
    model = theory.bit_error_probability(n, d, N, m, x, model="heteroassociative")
    assert model == pytest.approx(simulated, rel=0.15)
    paper = theory.bit_error_probability(n, d, N, m, x, model="paper")
    assert paper != pytest.approx(simulated, rel=0.15)


def test_at_light_loads_the_model_gets_the_mean_loss_but_not_its_lumpy_shape():
    # docs/theory.rst, "Where it is exact and where it approximates": n = 256,
    # N = 10^5, d = 103, m = 20, x = 64.  Over many memories the simulated
    # mean distance after one read matches the model's n * p_err, but few
    # words share locations with the cue, so the crosstalk is lumpy: most
    # reads are exact (more than the normal model's exact-recall probability)
    # and a few lose tens of bits.
    import fastsdm

    n, d, N, m, x = 256, 103, 100_000, 20, 64
    distances = []
    for seed in range(8):
        mem = fastsdm.SDM(n, N, radius=d, seed=seed)
        keys = fastsdm.random_addresses(m, n, seed=1000 + seed)
        mem.write(keys)
        for repeat in range(5):
            cues = fastsdm.flip_bits(keys, n, x, seed=100 * seed + repeat)
            distances.append(np.bitwise_count(mem.read(cues) ^ keys).sum(axis=1))
    distances = np.concatenate(distances)
    mean_loss = n * theory.bit_error_probability(n, d, N, m, x)
    assert abs(distances.mean() - mean_loss) < 1.5, (distances.mean(), mean_loss)
    exact = theory.exact_recall_probability(n, d, N, m, x)
    assert np.mean(distances == 0) > exact + 0.1, (np.mean(distances == 0), exact)
    assert np.percentile(distances, 99) > 10 * mean_loss


@nojit
@pytest.mark.parametrize("model", ["autoassociative", "heteroassociative"])
def test_read_models_refuse_locations_whose_moments_overflow(model):
    # r >~ 1e154 made E[S²] overflow: a raw "OverflowError: math range error".
    n, d, m = 64, 15, 1024
    calls = (lambda r: theory.critical_distance(n, d, r, m, model=model),
             lambda r: theory.read_statistics(n, d, r, m, model=model),
             lambda r: theory.bit_error_probability(n, d, r, m, 3, model=model),
             lambda r: theory.exact_recall_probability(n, d, r, m, 3, model=model))
    for call in calls:
        with pytest.raises(ValueError, match=rf"n_locations=1e\+200 with n_patterns=1024 is too "
                                             rf"large for model='{model}'.*overflows float64; "
                                             r"pass n_locations at most about"):
            call(1e200)
    # The limit named: (m - 1) E[S(h)²] = DBL_MAX / 64, E over h ~ Bin(n, 1/2), with
    # S(h) = r I(h) / 2^n from exact integer intersections.
    with pytest.raises(ValueError) as info:
        calls[0](1e200)
    stated = float(info.value.args[0].split("at most about ")[1].split()[0])
    mean_square = sum(Fraction(math.comb(n, h) * double_sum_intersection(n, d, h) ** 2)
                      for h in range(n + 1)) / Fraction(2) ** (3 * n)
    log_ms = math.log(mean_square.numerator) - math.log(mean_square.denominator)
    limit = math.exp(0.5 * (math.log(np.finfo(np.float64).max / 64) - math.log(m - 1) - log_ms))
    assert stated == pytest.approx(limit, rel=2e-3)  # the message rounds to 3 digits
    for call in calls:  # just below the limit: finite answers
        result = call(0.99 * limit)
        values = result.curve[1] if hasattr(result, "curve") else (
            result.crosstalk_var if hasattr(result, "crosstalk_var") else result)
        assert np.isfinite(values).all()
    assert theory.critical_distance(n, d, 1e160, m, model=model).distance == 20 - 2 * (
        model == "heteroassociative")
    # One pattern has no crosstalk: any number of locations answers.
    stats = theory.read_statistics(n, d, 1e308, 1, model=model)
    assert stats.crosstalk_var == 0.0 and stats.bias == 0.0
    assert theory.critical_distance(n, d, 1e308, 1, model=model).distance == 2 * d
    # The paper model is in log space and still answers.
    assert theory.critical_distance(n, d, 1e200, m, model="paper").distance == 30
    if model == "autoassociative":  # its self-bias and covariances grow like m²
        with pytest.raises(ValueError, match=r"n_patterns=1e\+300 is too large for "
                                             r"model='autoassociative' with n_locations=1e\+06"):
            theory.critical_distance(n, d, 1e6, 1e300, model=model)


@nojit
def test_canonical_memory_models():
    auto = theory.critical_distance(1000, 451, 10**6, 10_000)
    assert auto.distance == 228
    assert theory.critical_distance(1000, 451, 10**6, 10_000, model="paper").distance == 164
    hetero = theory.critical_distance(1000, 451, 10**6, 10_000, model="heteroassociative")
    assert hetero.distance < 164  # more crosstalk than the paper model, no self-bias
    stats = theory.read_statistics(1000, 451, 10**6, 10_000)
    assert stats.bias == pytest.approx(128.6134, abs=1e-4)
    assert auto.curve[1][200] == pytest.approx(177.94, abs=0.01)
    # canonical load of the capacity experiment, noise 0: measured 1e-5 bit errors
    assert theory.bit_error_probability(1000, 451, 10**6, 60_000, 0) < 1e-4
    assert theory.bit_error_probability(1000, 451, 10**6, 60_000, 0, model="paper") > 1e-3


@nojit
@pytest.mark.parametrize("model", ["autoassociative", "heteroassociative"])
def test_one_stored_word_is_exact(model):
    # No crosstalk: a bit is wrong only when no location is shared (a coin flip),
    # P(c = 0) = (1 − I(x)/2^n)^N, exactly.
    n, d, N = 64, 20, 1000
    xs = np.array([0, 10, 30, 41])
    share = np.array([theory.intersection(n, d, int(x)) / 2**n for x in xs])
    none = (1.0 - share) ** N
    np.testing.assert_allclose(theory.bit_error_probability(n, d, N, 1, xs, model=model),
                               none / 2, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(theory.exact_recall_probability(n, d, N, 1, xs, model=model),
                               1 - none + none * 0.5**n, rtol=1e-9)
    # paper model: Kanerva's normal form Φ(−√S) per bit
    s = N * share[0]
    assert theory.bit_error_probability(n, d, N, 1, 0, model="paper") == pytest.approx(
        phi(-math.sqrt(s)))


@nojit
def test_probabilities_stay_in_the_unit_interval():
    # The paper model's Poisson mixture summed to 1.0000000000001128 here before clipping.
    assert theory.exact_recall_probability(1000, 451, 10**6, 100, 0, model="paper") == 1.0
    # A clean cue of a reliable memory: the flipped bits' term had 0 * log(0) = nan.
    assert theory.bit_error_probability(32, 8, 10**6, 10_000, 0) < 1e-20
    assert theory.exact_recall_probability(32, 8, 10**6, 10_000, 0) == 1.0
    for model in theory.READ_MODELS:
        for args in [(64, 20, 2000, 100), (256, 103, 10**5, 2000), (64, 15, 2**64, 1024)]:
            xs = np.arange(args[0] + 1)
            for values in (theory.bit_error_probability(*args, xs, model=model),
                           theory.exact_recall_probability(*args, xs[::7], model=model)):
                assert np.all((values >= 0) & (values <= 1)), (model, args)


@nojit
def test_read_model_shapes_and_scalars():
    value = theory.bit_error_probability(128, 51, 4000, 100, 12)
    assert isinstance(value, float)
    grid = theory.bit_error_probability(128, 51, 4000, 100, [[0, 12], [24, 128]])
    assert grid.shape == (2, 2) and grid[0, 1] == value
    # Nothing shared with the complement: coin flips, unless the other words (stored
    # at their own addresses) pull the read towards the cue, i.e. away from the word.
    assert theory.bit_error_probability(128, 51, 4000, 100, 128,
                                        model="heteroassociative") == 0.5
    assert grid[1, 1] > 0.55
    curve = theory.critical_distance(128, 51, 4000, 100).curve
    np.testing.assert_allclose(curve[1][[0, 12, 24]] / 128, [grid[0, 0], value, grid[1, 0]])
    stats = theory.read_statistics(128, 51, 4000, 100, model="paper")
    assert stats.bias == 0.0 and stats.model == "paper"


@nojit
def test_optimal_radius_models_and_ties():
    args = (64, 2**64, 1024)
    assert theory.optimal_radius(*args, "snr", return_all=True) == (11,)
    assert theory.optimal_radius(*args, "memory", "argmax", return_all=True) == (
        theory.optimal_radius(*args, "memory", "argmax"),)
    auto = theory.optimal_radius(*args, "critical_distance", model="autoassociative",
                                 return_all=True)
    cds = [theory.critical_distance(64, d, 2**64, 1024, model="autoassociative").distance
           for d in range(33)]
    assert auto == tuple(d for d in range(33) if cds[d] == max(cds))


# ---------------------------------------------------------------------------
# Cap-fitted β
# ---------------------------------------------------------------------------


@nojit
def test_fit_cap_beta_reproduces_the_authors_values():
    assert [round(theory.fit_cap_beta(64, d), 5) for d in (5, 9, 11)] == [
        71.70921, 29.76709, 21.53975]
    for d in (5, 9, 11):
        paper, ols = theory.fit_cap_beta(64, d), theory.fit_cap_beta(64, d, method="ols")
        assert paper == pytest.approx(ols * d / (d - 1), rel=1e-12)
        assert paper > theory.fit_beta(64, d)  # caps fall faster than balls at n = 64
    # against an independent line fit (np.polyfit) of the same points
    h = np.arange(11)
    x = 1 - 2 * h / 64
    slope, intercept = np.polyfit(x, theory.log_cap_intersection(64, 11, x), 1)
    beta, b0 = theory.fit_cap_beta(64, 11, method="ols", return_intercept=True)
    assert (beta, b0) == pytest.approx((slope, intercept), rel=1e-9)


# ---------------------------------------------------------------------------
# Continuous SDM
# ---------------------------------------------------------------------------


def test_log_betainc_against_scipy():
    special = pytest.importorskip("scipy.special")
    for a in (0.5, 1.0, 1.5, 3.5, 31.5, 499.5, 2047.5):
        for b in (0.5, 1.5, 499.5):
            for x in (1e-8, 1e-3, 0.1, 0.5, 0.9, 0.99, 0.999999):
                expected = special.betainc(a, b, x)
                if expected > 1e-300:
                    got = math.exp(_caps._log_betainc(a, b, x, 1.0 - x))
                    assert got == pytest.approx(expected, rel=1e-10), (a, b, x)


@nojit
def test_gauss_kronrod_constants_integrate_polynomials_exactly():
    x = np.concatenate([-_caps._GK_X[:-1], _caps._GK_X[::-1]])
    w = np.concatenate([_caps._GK_W[:-1], _caps._GK_W[::-1]])
    gx, gw = x[1::2], np.concatenate([_caps._G_W[:-1], _caps._G_W[::-1]])
    for k in range(23):
        exact = 2.0 / (k + 1) if k % 2 == 0 else 0.0
        assert w @ x**k == pytest.approx(exact, abs=1e-15)
        if k < 14:
            assert gw @ gx**k == pytest.approx(exact, abs=1e-15)


@nojit
def test_cap_fraction_closed_forms():
    for d in (0.0, 0.3, 1.0, 1.5, 2.2, 3.0):  # n = 3: d/n (Archimedes)
        assert theory.cap_fraction(3, d) == pytest.approx(d / 3, rel=1e-13, abs=1e-300)
    for d in (0.0, 0.3, 1.0, 1.5, 2.0):  # n = 2: an arc of half-angle θ
        theta = math.acos(1 - d)
        assert theory.cap_fraction(2, d) == pytest.approx(theta / math.pi, rel=1e-13)
    for n in (2, 5, 64, 1000):
        assert theory.cap_fraction(n, n / 2) == 0.5
        assert theory.cap_fraction(n, 0) == 0.0
        assert theory.cap_fraction(n, n) == 1.0


@pytest.mark.parametrize("n", [2, 3, 5, 8, 64, 1000, 4096])
def test_cap_fraction_against_scipy(n):
    special = pytest.importorskip("scipy.special")
    for d in np.linspace(0, n, 23)[1:-1]:
        theta = math.acos(1 - 2 * d / n)
        small = 0.5 * special.betainc((n - 1) / 2, 0.5, math.sin(theta) ** 2)
        expected = small if theta <= math.pi / 2 else 1.0 - small
        assert theory.cap_fraction(n, d) == pytest.approx(expected, rel=1e-10)
        assert math.exp(theory.log_cap_fraction(n, d)) == pytest.approx(expected, rel=1e-10)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 3000), u=st.floats(0.0, 1.0))
def test_cap_fraction_symmetry(n, u):
    d = u * n
    assert theory.cap_fraction(n, d) + theory.cap_fraction(n, n - d) == pytest.approx(1.0, 1e-12)


def arcs_on_circle(theta: float, theta_v: float) -> float:
    """n = 2: fraction of the circle in two arcs of half-angle θ whose centres are θ_v apart."""
    if theta <= math.pi / 2:
        return max(0.0, 2 * theta - theta_v) / (2 * math.pi)
    # complements are arcs of half-angle π − θ around the antipodes
    return (4 * theta - 2 * math.pi + max(0.0, 2 * math.pi - 2 * theta - theta_v)) / (2 * math.pi)


@nojit
def test_cap_intersection_closed_forms():
    cosines = np.array([1.0, 0.95, 0.5, 0.0, -0.5, -0.95, -1.0])
    angles = np.arccos(cosines)
    for d in (0.2, 0.5, 1.0, 1.4, 1.9):
        theta = math.acos(1 - d)
        expected = [arcs_on_circle(theta, a) for a in angles]
        np.testing.assert_allclose(theory.cap_intersection(2, d, cosines), expected,
                                   rtol=1e-11, atol=1e-15)
    for n in (3, 8):  # hemispheres meet in a lune of dihedral angle π − θ_v, in any dimension
        lune = (math.pi - angles) / (2 * math.pi)
        np.testing.assert_allclose(theory.cap_intersection(n, n / 2, cosines), lune, rtol=1e-11)
    assert theory.cap_intersection(3, 1.2, 1.0) == pytest.approx(0.4, rel=1e-12)


@pytest.mark.parametrize("n", [64, 1000, 4096])
def test_cap_intersection_hemispheres_large_n(n):
    cosines = np.linspace(-0.999, 1.0, 13)
    lune = (math.pi - np.arccos(cosines)) / (2 * math.pi)
    np.testing.assert_allclose(theory.cap_intersection(n, n / 2, cosines), lune, rtol=1e-10)


def quad_cap_intersection(n: int, d: float, cos: float) -> float:
    """Lee & Kim's J_n integral with scipy (caps no wider than a hemisphere)."""
    special = pytest.importorskip("scipy.special")
    integrate = pytest.importorskip("scipy.integrate")
    theta = math.acos(1 - 2 * d / n)
    half = math.acos(cos) / 2
    if half >= theta:
        return 0.0

    def integrand(p):
        inner = special.betainc((n - 2) / 2, 0.5, 1 - (math.tan(half) / math.tan(p)) ** 2)
        return math.sin(p) ** (n - 2) * inner

    breaks = [theta - (theta - half) * 2.0**-k for k in range(1, 30)]
    with warnings.catch_warnings():
        # quad may report that roundoff limits a 1e-12 tolerance; the value is still fine
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value, _ = integrate.quad(integrand, half, theta, epsabs=0, epsrel=1e-12, limit=500,
                                  points=breaks)
    return value / special.beta((n - 1) / 2, 0.5)


@pytest.mark.parametrize("n", [3, 4, 16, 100, 400])
def test_cap_intersection_against_quadrature(n):
    cosines = [1.0, 0.99, 0.9, 0.6, 0.2, -0.3, -0.8]
    for d in np.linspace(0, n / 2, 6)[1:]:
        expected = [quad_cap_intersection(n, d, c) for c in cosines]
        got = theory.cap_intersection(n, d, cosines)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-300)
        logs = theory.log_cap_intersection(n, d, cosines)
        np.testing.assert_allclose(np.exp(logs), got, rtol=1e-15)


@nojit
@pytest.mark.parametrize("n", [3, 8])
def test_caps_against_monte_carlo(n):
    rng = np.random.default_rng(2024 + n)
    samples = 200_000
    x = random_unit_vectors(rng, samples, n)
    for d in (0.25 * n, 0.4 * n, 0.7 * n):
        c = 1 - 2 * d / n
        in_a = x[:, 0] >= c
        p = theory.cap_fraction(n, d)
        assert abs(in_a.mean() - p) <= 4 * math.sqrt(p * (1 - p) / samples)
        for cos in (0.9, 0.3, -0.4):
            in_b = cos * x[:, 0] + math.sqrt(1 - cos * cos) * x[:, 1] >= c
            estimate = (in_a & in_b).mean()
            q = theory.cap_intersection(n, d, cos)
            assert abs(estimate - q) <= 4 * math.sqrt(max(q * (1 - q), 1e-6) / samples)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 200), u=st.floats(0.0, 1.0),
       cos=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=4))
def test_cap_intersection_bounds(n, u, cos):
    d = u * n
    values = theory.cap_intersection(n, d, sorted(cos))
    assert np.all(values <= theory.cap_fraction(n, d) * (1 + 1e-9))
    assert np.all(np.diff(values) >= -1e-12 * values[1:])  # more similar centres, more overlap
    assert theory.cap_intersection(n, d, 1.0) == pytest.approx(theory.cap_fraction(n, d), 1e-9)


@nojit
def test_expected_cap_neurons():
    assert theory.expected_cap_neurons(3, 1.5, 1.0, 1000) == pytest.approx(500.0, rel=1e-12)
    got = theory.expected_cap_neurons(3, 1.5, [0.0, -1.0], 1000)
    np.testing.assert_allclose(got, [250.0, 0.0], rtol=1e-12, atol=1e-12)


def test_tiny_cap_intersections_stay_positive_in_log_space():
    # far below float range as a fraction, but finite and ordered in log space
    logs = theory.log_cap_intersection(4096, 800, [0.9, 0.5, 0.1])
    assert np.all(np.isfinite(logs)) and np.all(np.diff(logs) < 0)
    assert logs[-1] < -700
    assert logs[0] < theory.log_cap_fraction(4096, 800)


# ---------------------------------------------------------------------------
# Errors: one test per raise, each matched on its message
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: theory.ball_size(64.0, 3), TypeError, r"n \(the number of bits\) must be an int"),
        (lambda: theory.ball_size(True, 0), TypeError, r"must be an integer, got bool True"),
        (lambda: theory.ball_size(0, 0), ValueError, r"must be an integer >= 1, got 0"),
        (lambda: theory.ball_size(8, 2.5), TypeError, r"radius d must be an integer"),
        (lambda: theory.intersection(64, 70, 0), ValueError,
         r"radius d must be an integer in \[0, n\] = \[0, 64\], got 70; choose a radius"),
        (lambda: theory.intersection(8, 2, [1.0, 2.0]), TypeError,
         r"h must be an integer .* got dtype float64; convert with np.rint"),
        (lambda: theory.log_intersection(8, 2, [1, 9]), ValueError,
         r"h must be in \[0, n\] = \[0, 8\], got 9"),
        (lambda: theory.activation_probability(8, -1), ValueError, r"got -1"),
        (lambda: theory.radius_for_probability(8, 0.0), ValueError,
         r"p must be a probability in \(0, 1\], got 0.0"),
        (lambda: theory.radius_for_probability(8, 1.5), ValueError, r"in \(0, 1\], got 1.5"),
        (lambda: theory.radius_for_probability(8, "0.1"), TypeError,
         r"p must be a probability \(a real number\)"),
        (lambda: theory.expected_activated(8, 2, 0), ValueError,
         r"n_locations must be a positive finite number, got 0"),
        (lambda: theory.expected_activated(8, 2, 10**400), ValueError,
         r"n_locations must be a positive finite"),
        (lambda: theory.activated_std(8, 2, "many"), TypeError, r"n_locations must be a positive"),
        (lambda: theory.expected_intersection(8, 2, 1, -5), ValueError, r"got -5"),
        (lambda: theory.fit_beta(64, 1), ValueError,
         r"needs at least two points .* d must be >= 2, got 1"),
        (lambda: theory.fit_beta(64, 65), ValueError, r"in \[2, n\] = \[2, 64\], got 65"),
        (lambda: theory.fit_beta(1, 1), ValueError, r">= 2 for a β fit, got 1"),
        (lambda: theory.fit_beta(64, 5, method="mle"), ValueError,
         r"method must be one of 'paper', 'ols', got 'mle'"),
        (lambda: theory.radius_for_beta(3, 10.0), ValueError, r">= 4 so that the radii"),
        (lambda: theory.radius_for_beta(64, math.inf), ValueError, r"beta must be a positive"),
        (lambda: theory.snr(64, 11, 2**64, 0.0), ValueError, r"n_patterns must be a positive"),
        (lambda: theory.capacity(64, 5, 2**64, p_whole=1.0), ValueError,
         r"p_whole must be a probability in \(0, 1\), got 1.0"),
        (lambda: theory.capacity(64, 5, 2**64, z=-1.0), ValueError, r"z must be a positive"),
        (lambda: theory.optimal_probability(10**6, 100, criterion="critical_distance"),
         ValueError, r"has no closed form, use optimal_radius"),
        (lambda: theory.optimal_probability(10**6, criterion="snr"), ValueError,
         r"n_patterns is required for criterion='snr'"),
        (lambda: theory.optimal_probability(10**6, criterion="memory"), ValueError,
         r"needs n .* or z, got neither"),
        (lambda: theory.optimal_probability(10**6, 100, criterion="SNR"), ValueError,
         r"criterion must be one of 'snr', 'memory', 'critical_distance', got 'SNR'"),
        (lambda: theory.optimal_radius(64, 2**64, 1024, rounding="nearest"), ValueError,
         r"rounding must be one of 'paper', 'argmax', got 'nearest'"),
        (lambda: theory.optimal_radius(64, 2**64, 0.5, "critical_distance"), ValueError,
         r"n_patterns must be >= 1 for the critical distance, got 0.5"),
        (lambda: theory.critical_distance(64, 15, 2**64, 0.5), ValueError,
         r"n_patterns must be >= 1 for the critical distance"),
        (lambda: theory.critical_distance(64, 15, 2**64, 10, model="auto"), ValueError,
         r"model must be one of 'autoassociative', 'heteroassociative', 'paper', got 'auto'"),
        (lambda: theory.read_statistics(64, 15, 2**64, 0.5), ValueError,
         r"n_patterns must be >= 1 for a read model, got 0.5"),
        (lambda: theory.bit_error_probability(64, 15, 2**64, 10, 65), ValueError,
         r"h must be in \[0, n\] = \[0, 64\], got 65"),
        (lambda: theory.bit_error_probability(64, 15, 2**64, 10, 1.5), TypeError,
         r"must be an integer or an array of integers"),
        # Python ints beyond 64 bits are out of range, not of the wrong type.
        (lambda: theory.intersection(64, 20, 2**64), ValueError,
         r"h must be in \[0, n\] = \[0, 64\], got 18446744073709551616"),
        (lambda: theory.intersection(64, 20, [3, -2**70]), ValueError,
         r"h must be in \[0, n\] = \[0, 64\], got -1180591620717411303424"),
        (lambda: theory.exact_recall_probability(64, 15, 0, 10, 1), ValueError,
         r"n_locations must be a positive"),
        (lambda: theory.exact_recall_probability(64, 15, 100, 0.0, 1), ValueError,
         r"n_patterns must be a positive"),
        (lambda: theory.optimal_radius(64, 2**64, 1024, "snr", model="autoassociative"),
         ValueError, r"model='autoassociative' applies to criterion='critical_distance' only"),
        (lambda: theory.optimal_radius(64, 2**64, 1024, return_all=1), TypeError,
         r"return_all must be True or False, got 1"),
        (lambda: theory.fit_cap_beta(64, 1), ValueError,
         r"fit_cap_beta needs at least two points .* got 1"),
        (lambda: theory.fit_cap_beta(64, 5.5), TypeError, r"radius d must be an integer"),
        (lambda: theory.fit_cap_beta(64, 5, method="mle"), ValueError,
         r"method must be one of 'paper', 'ols', got 'mle'"),
        (lambda: theory.cap_fraction(1, 0.5), ValueError,
         r">= 2 for caps on the sphere S\^\(n-1\), got 1"),
        (lambda: theory.cap_fraction(8, "2"), TypeError, r"radius d must be a real number"),
        (lambda: theory.cap_fraction(8, 9.5), ValueError,
         r"radius d must be in \[0, n\] = \[0, 8\], got 9.5"),
        (lambda: theory.cap_intersection(8, 2.0, [0.5, 1.5]), ValueError,
         r"cos must lie in \[-1, 1\], got 1.5; clip"),
        (lambda: theory.cap_intersection(8, 2.0, [np.nan]), ValueError, r"got nan"),
        (lambda: theory.log_cap_intersection(8, 2.0, ["a"]), TypeError,
         r"cos must be a real number or an array"),
        (lambda: theory.expected_cap_neurons(8, 2.0, 0.5, 0), ValueError,
         r"n_locations must be a positive"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------------
# radius_for_probability for any n (issue 11, section 4), intersection's check
# ---------------------------------------------------------------------------


def _radius_by_exact_sums(n: int, p) -> int:
    """fastsdm 0.1.0's radius_for_probability: the exact sum of binomials, d = 0, 1, ..."""
    target = Fraction(p)
    threshold, total, term = target.numerator << n, 0, 1
    for d in range(n + 1):
        total += term
        if total * target.denominator >= threshold:
            return d
        term = term * (n - d) // (d + 1)
    raise AssertionError("unreachable")


def _probabilities(n: int, rng) -> list:
    ps = [0.5, 1.0, 1e-300, 5e-324, 2.0**-n, 1 - 2.0**-53, 0.001, Fraction(1, 3)]
    ps += list(rng.uniform(0, 1, 6)) + list(10.0 ** rng.uniform(-300, 0, 6))
    for d in rng.integers(0, n + 1, 4):
        exact = Fraction(theory.ball_size(n, int(d)), 2**n)
        ps += [exact, float(exact), exact + Fraction(1, 2**n)]  # ties and their roundings
    return [p for p in ps if 0 < p <= 1]


@nojit
def test_radius_for_probability_fast_path_equals_the_exact_sums(monkeypatch):
    from fastsdm.theory import _binomial

    monkeypatch.setattr(_binomial, "EXACT_MAX_N", 0)  # the estimate-and-enclosure path for all n
    rng = np.random.default_rng(11)
    ns = list(range(1, 40)) + [int(n) for n in rng.integers(40, 3000, 16)] + [1501, 2047, 2048]
    for n in ns:
        for p in _probabilities(n, rng):
            assert theory.radius_for_probability(n, p) == _radius_by_exact_sums(n, p), (n, p)


def _probability_by_exact_sums(n: int, d: int) -> float:
    count = sum(math.comb(n, k) for k in range(min(d, n) + 1)) if d >= 0 else 0
    return float(Fraction(count, 2**n))  # Fraction -> float rounds correctly


@nojit
def test_activation_probability_fast_path_equals_the_exact_sums(monkeypatch):
    from fastsdm.theory import _binomial

    monkeypatch.setattr(_binomial, "EXACT_MAX_N", 0)  # the enclosure path for all n
    rng = np.random.default_rng(5)
    cases = [(n, d) for n in range(1, 41) for d in range(n + 1)]
    cases += [(int(n), int(d)) for n in rng.integers(41, 3000, 8)
              for d in {*rng.integers(0, n + 1, 12), 0, 1, n // 2 - 1, n // 2, n - 2, n - 1, n}]
    for n, d in cases:
        p = _probability_by_exact_sums(n, d)
        q = _probability_by_exact_sums(n, n - 1 - d)  # 1 - p, exactly rounded
        assert theory.activation_probability(n, d) == p, (n, d)
        assert theory.expected_activated(n, d, 1e6) == 1e6 * p
        assert theory.activated_std(n, d, 1e6) == math.sqrt(1e6 * p * q), (n, d)
    # Both ends of the enclosure round alike except at a rounding boundary, where
    # the exact integers decide: force that path (a wide interval) and compare.
    monkeypatch.setattr(_binomial, "_widen", lambda lo, hi: (lo / 2, hi * 2))
    for n, d in [(1601, 3), (1601, 700), (1601, 900), (1601, 1597), (2048, 1023)]:
        assert theory.activation_probability(n, d) == _probability_by_exact_sums(n, d), (n, d)


@nojit
@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs SIGALRM for the hang guard")
def test_activation_probability_answers_for_millions_of_bits():
    # The exact big-integer sums took 13-16 s at n = 4e5 and 141 s at n = 1e6;
    # the expected values are those sums' correctly rounded quotients.
    previous = _hang_guard(60, "activation_probability")
    try:
        p6 = theory.activation_probability(10**6, 498455)
        p5 = theory.activation_probability(4 * 10**5, 198000)
        std = theory.activated_std(10**6, 498455, 10**6)
        tiny = theory.activation_probability(10**8, 2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert p6 == 0.00100414976341762
    assert p5 == 1.282454510314399e-10
    assert std == pytest.approx(math.sqrt(10**6 * p6 * (1 - p6)), rel=1e-15)
    assert tiny == 0.0  # (1 + 10**8 + C(10**8, 2)) / 2**(10**8) underflows


@nojit
@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs SIGALRM for the hang guard")
def test_radius_for_probability_answers_for_millions_of_bits():
    binom = pytest.importorskip("scipy.stats").binom

    def hang(*_):
        raise TimeoutError("radius_for_probability did not return within 60 s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)  # fastsdm 0.1.0 needed minutes for n = 10**6
    try:
        # (Not 0.5 for odd n: there P(X <= (n-1)/2) = 1/2 exactly, a tie scipy's
        # floating-point check decides the other way.)
        cases = [(n, p) for n in (10**4 + 1, 10**5, 10**6, 10**7 + 1)
                 for p in (0.001, 0.999, 1e-30, 0.3) + ((0.5,) if n % 2 == 0 else ())]
        got = [theory.radius_for_probability(n, p) for n, p in cases]
        # Exact ties far beyond the exact-sum range: P(X <= (n-1)/2) = 1/2 for odd n.
        ties = [theory.radius_for_probability(n, 0.5) for n in (10**4 + 1, 10**7 + 1)]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert got == [int(binom.ppf(p, n, 0.5)) for n, p in cases]
    assert ties == [5000, 5 * 10**6]


@nojit
def test_intersection_reports_huge_unsigned_distances_as_they_are():
    with pytest.raises(ValueError, match=r"got 18446744073709551615;"):
        theory.intersection(5, 2, np.uint64(2**64 - 1))
    with pytest.raises(ValueError, match=r"got 9223372036854775808;"):
        theory.intersection(5, 2, np.array([1, 2**63], dtype=np.uint64))
    assert theory.intersection(5, 2, np.uint64(3)) == theory.intersection(5, 2, 3)


# ---------------------------------------------------------------------------
# The package layout (issue 13): one vocabulary of checks, Jaeckel's design re-exported
# ---------------------------------------------------------------------------


@nojit
def test_a_bool_is_not_a_probability():
    # Before the shared vocabulary, True passed as the rational 1 and returned n.
    with pytest.raises(TypeError, match=r"p must be a probability \(a real number\), got True"):
        theory.radius_for_probability(8, True)
    assert theory.radius_for_probability(8, 1) == 8
    assert theory.radius_for_probability(8, Fraction(1, 2)) == 4


@nojit
def test_jaeckels_design_is_part_of_the_theory():
    names = [name for name in theory.__all__ if name.startswith("hyperplane_")]
    assert len(names) == 10
    for name in names:
        assert getattr(theory, name).__module__ == "fastsdm.theory._hyperplane"
    # Its h_max default is the ball radius of the same activation probability.
    assert theory.hyperplane_fit_beta(64, 10) == theory.hyperplane_fit_beta(
        64, 10, theory.radius_for_probability(64, 2.0**-10))


@nojit
@pytest.mark.parametrize(("n", "k"), [(2000, 1100), (2000, 1074), (1500, 1400), (64, 10)])
def test_hyperplane_fit_beta_default_for_tiny_activation_probabilities(n, k):
    # 2**-k as a float underflowed to 0.0 for k > 1074 and the default h_max
    # failed with "p must be a probability ..., got 0.0".  Oracle: the smallest
    # d with 2**k * #ball(n, d) >= 2**n, in exact integers.
    ball, d = 0, -1
    while (ball << k) < (1 << n):
        d += 1
        ball += math.comb(n, d)
    h_max = min(max(2, d), n - k + 1)
    assert theory.hyperplane_fit_beta(n, k) == theory.hyperplane_fit_beta(n, k, h_max)


@nojit
def test_reliability_below_a_coin_flip_is_refused():
    # z = Φ⁻¹(p_whole^(1/n)) <= 0: capacity divided by z² = 0 (n = 1, p_whole = 0.5) or
    # read a negative z as positive (p_whole = 1e-30 over 64 bits); both are errors now.
    for call in (lambda: theory.capacity(1, 0, 2**40),
                 lambda: theory.capacity(64, 5, 2**64, p_whole=1e-30),
                 lambda: theory.optimal_probability(2**64, criterion="memory", n=1),
                 lambda: theory.optimal_radius(64, 2**64, 1024, "memory", p_whole=1e-30)):
        with pytest.raises(ValueError, match=r"gives no positive z-score; pass p_whole in "
                                             r"\(0.5\*\*n, 1\)"):
            call()
    # Just above a coin flip per bit is a (tiny) positive z, and answers.
    z = statistics.NormalDist().inv_cdf(0.5 + 1e-9)
    assert theory.capacity(1, 0, 2**40, p_whole=0.5 + 1e-9) == theory.capacity(1, 0, 2**40, z=z)


def test_kanervas_memory_criterion_is_conservative_against_the_simulator():
    # What docs/theory.rst and docs/guide/hopfield.rst say: at n = 128,
    # N = 10,000, d = 47 the criterion gives 920 patterns, where exact recall
    # is still about 0.9; it falls to 1/2 near 1,800, as the one-read model says.
    from fastsdm import experiments

    assert round(theory.capacity(128, 47, 10_000)) == 920
    assert 0.47 < theory.exact_recall_probability(128, 47, 10_000, 1780, 0) < 0.53
    rows = experiments.capacity(n_bits=128, n_locations=10_000, radius=47,
                                n_patterns=[920, 1800], noise=[0], n_cues=300, iterations=1,
                                repetitions=4, seed=1, progress=False)
    recall = {m: np.mean([r["exact_recall_1"] for r in rows if r["n_patterns"] == m])
              for m in (920, 1800)}
    assert 0.85 < recall[920] < 0.96 and 0.42 < recall[1800] < 0.6


def test_the_autoassociative_model_at_1600_patterns_as_the_guide_says():
    # docs/guide/experiments.rst: six memories of 400 cues measure 0.077 ± 0.001,
    # within 3 % of the model's 0.079 (the paper model says 0.138).
    from fastsdm import experiments

    rows = experiments.capacity(n_bits=256, n_locations=20_000, radius=108,
                                n_patterns=[1600], noise=[20], n_cues=400, repetitions=6,
                                iterations=1, seed=3, progress=False)
    measured = np.mean([r["bit_error_rate_1"] for r in rows])
    model = rows[0]["theory_bit_error_rate_1"]
    assert round(measured, 3) == 0.077 and round(model, 3) == 0.079
    assert abs(measured - model) / model < 0.03
    assert rows[0]["theory_bit_error_rate_1_paper"] > 1.7 * measured


def test_the_read_model_overestimates_rare_bit_errors_as_the_theory_page_says():
    # docs/theory.rst: n = 128, N = 10^4, d = 47, m = 920, clean cues: the model
    # says 3.5e-3, six memories of 400 cues measure (0.87 ± 0.09)e-3.
    from fastsdm import experiments

    rows = experiments.capacity(n_bits=128, n_locations=10_000, radius=47, n_patterns=[920],
                                noise=[0], n_cues=400, repetitions=6, iterations=1, seed=3,
                                progress=False)
    measured = np.array([r["bit_error_rate_1"] for r in rows])
    assert round(rows[0]["theory_bit_error_rate_1"], 4) == 0.0035
    assert round(measured.mean(), 5) == 0.00087
    assert round(measured.std(ddof=1) / math.sqrt(6), 5) == 0.00009

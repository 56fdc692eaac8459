"""One read of a finite memory: the signal, the self-bias and the crosstalk.

The exact moments of the counter sums of one read (:func:`read_statistics`)
under three models of how the words were stored, and the predictions built
on them: the bit-error and exact-recall probabilities and the critical
distance.  Re-exported by :mod:`fastsdm.theory`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from fastsdm._jit import jit
from fastsdm._validation import (
    check_choice,
    check_distances,
    check_n,
    check_positive,
    check_radius,
)

from ._hamming import log_ball_size, log_intersections
from ._logspace import LOG2, log_comb, log_factorials, logaddexp, logsumexp

__all__ = [
    "READ_MODELS",
    "ReadStatistics",
    "CriticalDistance",
    "read_statistics",
    "bit_error_probability",
    "exact_recall_probability",
    "critical_distance",
    "one_step_curve",
    "crossing",
]

#: The one-read models, by how the words were stored.
READ_MODELS = ("autoassociative", "heteroassociative", "paper")
#: Signals S(x) up to this size are mixed over the exact binomial count of shared
#: locations; above it the count is normal to better than 1/sqrt(1024) in skewness.
_MIXTURE_MAX_SIGNAL = 1024.0
#: Gauss-Hermite nodes for the normal count of shared locations (exact recall only).
_HERMITE_NODES = 48
_HERMITE = np.polynomial.hermite.hermgauss(_HERMITE_NODES)
#: log c! for every count the exact mixture can reach (c <= 1024 + 12·32 + 12).
_LOG_COUNT_FACTORIALS = np.array([math.lgamma(k + 1.0) for k in range(1500)])


class ReadStatistics(NamedTuple):
    """Moments of one read under a model of :func:`read_statistics`.

    The counter sum of bit ``j`` read at a cue ``x`` bits from a stored word,
    multiplied by ``±1`` so that it is positive when the read bit is the cue's
    bit, is ``t_j = ε_j·c + Z_j``: ``ε_j = +1`` where the cue bit is right and
    ``−1`` where it is flipped, ``c`` the number of hard locations shared by the
    cue and the word's address (the *signal*), ``Z_j`` the *crosstalk* of the
    other ``m − 1`` words. The read bit is wrong when ``ε_j·t_j < 0``.

    Attributes
    ----------
    x : ndarray of int64
        Cue distances ``0..n``.
    signal : ndarray of float64
        ``E[c] = S(x) = N·I(x)/2^n``.
    signal_var : ndarray of float64
        ``Var[c] = S(x)(1 − I(x)/2^n)`` (binomial; ``S(x)`` in the paper model).
    bias : float
        ``E[Z_j]``: the self-bias ``b`` towards the cue (0 unless autoassociative).
    crosstalk_var : float
        ``Var[Z_j]``.
    cov_correct, cov_flipped : ndarray of float64
        ``Cov[c, Z_j]`` on a bit where the cue is right, and where it is flipped.
    model : str
        The model these moments belong to.
    """

    x: np.ndarray
    signal: np.ndarray
    signal_var: np.ndarray
    bias: float
    crosstalk_var: float
    cov_correct: np.ndarray
    cov_flipped: np.ndarray
    model: str


def _log_binomial_weights(n: int) -> np.ndarray:
    """``log P(Bin(n, 1/2) = h)`` for ``h = 0..n``."""
    lf = log_factorials(n)
    h = np.arange(n + 1)
    return log_comb(lf, n, h) - n * LOG2


@lru_cache(maxsize=16)
def _log_agreeing_overlap(n: int, d: int) -> np.ndarray:
    """``log J(x)``, ``x = 0..n``: Σ z̃_j q̃_j over z in both balls, j a bit where they agree.

    Let q and ξ differ in x bits and agree on bit j. Sorting the points z of
    O(q, d) ∩ O(ξ, d) by i (bits of the x where z differs from q) and k (other
    agreeing bits where z differs from both), the ones with z_j = q_j and those
    with z_j ≠ q_j cancel except where max(i, x − i) + k = d exactly, so

        J(x) = Σ_i C(x, i) · C(n − x − 1, d − max(i, x − i)),

    a sum of positive terms. J(0) = C(n − 1, d). No agreeing bit when x = n (-inf).
    """
    lf = log_factorials(n)
    out = np.full(n + 1, -np.inf)
    for x in range(n):
        i = np.arange(x + 1)
        k = d - np.maximum(i, x - i)
        ok = (k >= 0) & (k <= n - x - 1)
        if ok.any():
            terms = log_comb(lf, x, i[ok]) + log_comb(lf, n - x - 1, k[ok])
            out[x] = logsumexp(terms)
    out.flags.writeable = False
    return out


def _read_moments(n: int, d: int, r: float, m: float, model: str) -> ReadStatistics:
    """All moments of :class:`ReadStatistics` for ``x = 0..n`` (see the docs' derivation)."""
    log_r = math.log(r)
    log_i = log_intersections(n, d)
    log_s = log_r - n * LOG2 + log_i
    s = np.exp(log_s)
    x = np.arange(n + 1, dtype=np.int64)
    zeros = np.zeros(n + 1)
    if model == "paper":
        # Kanerva's form as in Bricken & Pehlevan (2021, App. B): every other word
        # is treated as sharing S(⌊n/2⌋) locations with the cue.
        half = float(s[n // 2])
        crosstalk = max(m - 1.0, 0.0) * (half + half * half)
        return ReadStatistics(x, s, s.copy(), 0.0, crosstalk, zeros, zeros.copy(), model)
    signal_var = s - np.exp(2.0 * log_s - log_r)  # S (1 − I/2^n), binomial count
    # Crosstalk of one other word μ at the binomial distance h from the cue:
    # E[c_μ²] = S(h) + S(h)²(1 − 1/N), averaged over h ~ Bin(n, 1/2).
    log_w = _log_binomial_weights(n)
    others = max(m - 1.0, 0.0)
    log_mean_s2 = logsumexp(log_w + 2.0 * log_s) if others > 0.0 else -math.inf  # no crosstalk
    _check_moments_fit(log_mean_s2 + math.log(max(others, 1.0)), r, m, model)
    mean_s = math.exp(logsumexp(log_w + log_s))  # = N p(d)² exactly
    mean_s2 = math.exp(log_mean_s2)
    per_word = mean_s + mean_s2 * (1.0 - 1.0 / r)
    if model == "heteroassociative":
        return ReadStatistics(x, s, signal_var, 0.0, others * per_word, zeros, zeros.copy(),
                              model)
    # Autoassociative: word μ was written at its own address, so its bits lean
    # towards the cue's where the two are close. With κ = C(n−1, d)/2^n every
    # location's counter j carries E[C_ij | a_i] = m κ ã_ij, and
    # E[c_μ y^μ_j q̃_j] = E_h[S(h)(1 − 2h/n)] = N κ² (exact identity).
    lf = log_factorials(n)
    log_kappa = (log_comb(lf, n - 1, d) - n * LOG2) if d < n else -math.inf
    kappa = math.exp(log_kappa)
    word_bias = math.exp(log_r + 2.0 * log_kappa)
    bias = others * word_bias
    p = math.exp(log_ball_size(n, d) - n * LOG2)
    # The words share the locations: Cov(c_μ y^μ, c_ν y^ν) = Var_L(κ Σ_{i∈A(q)} ã_ij q̃_j).
    shared = others * max(m - 2.0, 0.0) * math.exp(log_r + 2.0 * log_kappa) * (p - kappa**2)
    # (word_bias² <= per_word, a mean square: it fits whenever the crosstalk does.)
    crosstalk = others * (per_word - word_bias**2) + shared if others > 0.0 else 0.0
    # Cov(c, Z_j) = (m − 1) κ N (J(x)/2^n − κ I(x)/2^n) on a right bit, −(m − 1) κ² S on a
    # flipped one (J = 0 there: the intersection is symmetric in the two centres).
    log_j = _log_agreeing_overlap(n, d)
    cov_correct = others * kappa * (np.exp(log_r - n * LOG2 + log_j) - kappa * s)
    cov_flipped = -others * kappa**2 * s
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked here
        # _bit_errors adds the variances and covariances, and divides Cov² by Var c.
        sums = signal_var + crosstalk + 2.0 * np.abs(cov_correct) + abs(bias)
        regression = cov_correct * (cov_correct / np.where(signal_var > 0.0, signal_var, 1.0))
    if not (np.isfinite(sums).all() and np.isfinite(regression).all()):
        # E[S²] fits (checked above), so the patterns' count made the moments overflow.
        raise ValueError(
            f"n_patterns={m:g} is too large for model={model!r} with n_locations={r:g}: the "
            "moments of one read (crosstalk and self-bias, which grow like n_patterns²) "
            "overflow float64; pass fewer patterns, or use model='paper', which is computed "
            "in log space"
        )
    return ReadStatistics(x, s, signal_var, bias, crosstalk, cov_correct, cov_flipped, model)


#: The moments of one read must stay this far below the float64 maximum, so that
#: the sums of a few of them in _bit_errors cannot overflow either.
_LOG_MOMENT_LIMIT = math.log(np.finfo(np.float64).max) - math.log(64.0)


def _check_moments_fit(log_moment: float, r: float, m: float, model: str) -> None:
    """Refuse a read whose crosstalk variance (``log_moment``) overflows float64."""
    if log_moment <= _LOG_MOMENT_LIMIT:
        return
    # The crosstalk variance (m − 1)·E[S(h)²] grows like n_locations².
    r_max = r * math.exp(0.5 * (_LOG_MOMENT_LIMIT - log_moment))
    raise ValueError(
        f"n_locations={r:g} with n_patterns={m:g} is too large for model={model!r}: "
        f"its crosstalk variance, about (n_patterns - 1)·E[S²] (S: locations shared by "
        f"two words, ~ n_locations·p), overflows float64; pass n_locations at most about "
        f"{r_max:.3g} for this n_patterns (fewer patterns also help), or use model='paper', "
        f"which is computed in log space"
    )


@jit
def _below_zero(mean, var):
    """P(N(mean, var) < 0) + P(= 0)/2 elementwise (var = 0: a step, ties count 1/2)."""
    out = np.empty(mean.size)
    for i in range(mean.size):
        if var[i] > 0.0:
            out[i] = 0.5 * math.erfc(mean[i] / math.sqrt(2.0 * var[i]))
        elif mean[i] > 0.0:
            out[i] = 0.0
        elif mean[i] < 0.0:
            out[i] = 1.0
        else:
            out[i] = 0.5
    return out


def _count_grid(signal: float, signal_var: float, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights for the number c of locations shared by cue and word.

    c ~ Binomial(N, I(x)/2^n): summed exactly over integers (truncated at 12
    standard deviations) while S <= _MIXTURE_MAX_SIGNAL, else Gauss-Hermite
    nodes of the normal limit.
    """
    if signal <= 0.0:
        return np.zeros(1), np.ones(1)
    if signal >= r:  # every location is shared (d = n)
        return np.array([r]), np.ones(1)
    if signal > _MIXTURE_MAX_SIGNAL:
        nodes, weights = _HERMITE
        return signal + math.sqrt(2.0 * signal_var) * nodes, weights / math.sqrt(math.pi)
    spread = 12.0 * math.sqrt(signal) + 12.0
    lo = max(0, int(signal - spread))
    hi = int(min(math.floor(r), math.ceil(signal + spread)))
    c = np.arange(lo, hi + 1, dtype=np.float64)
    # log Binomial(N, S/N) = log Poisson(S) + Σ_{k<c} log(1 − k/N) + (N − c) log(1 − S/N) + S
    steps = np.concatenate(([0.0], np.cumsum(np.log1p(-np.arange(hi) / r))))
    log_pmf = (c * math.log(signal) - signal - _LOG_COUNT_FACTORIALS[lo : hi + 1]
               + steps[lo:] + (r - c) * math.log1p(-signal / r) + signal)
    weights = np.exp(log_pmf - log_pmf.max())
    return c, weights / weights.sum()


def _conditional_errors(c, stats: ReadStatistics, x: int, sign: int) -> np.ndarray:
    """P(bit wrong | c) on a right (sign=+1) or flipped (sign=−1) cue bit.

    Given c, Z_j is taken normal with the regression mean b + γ (c − S) and
    variance Var Z − Cov²/Var c, which keeps every first and second moment exact.
    """
    cov = float((stats.cov_correct if sign > 0 else stats.cov_flipped)[x])
    s, var_c = float(stats.signal[x]), float(stats.signal_var[x])
    gamma = cov / var_c if var_c > 0.0 else 0.0
    var = max(stats.crosstalk_var - (cov * gamma), 0.0)
    mean = c + sign * (stats.bias + gamma * (c - s))
    return _below_zero(np.ascontiguousarray(mean, dtype=np.float64), np.full(c.size, var))


def _bit_errors(stats: ReadStatistics, r: float, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bit error on right and on flipped cue bits after one read, at each x of ``xs``."""
    right, flipped = np.empty(xs.size), np.empty(xs.size)
    for k, x in enumerate(xs):
        s, var_c = float(stats.signal[x]), float(stats.signal_var[x])
        if s > _MIXTURE_MAX_SIGNAL:  # normal count: the jointly normal closed form
            means = np.array([s + stats.bias, s - stats.bias])
            variances = np.array([var_c + stats.crosstalk_var + 2.0 * stats.cov_correct[x],
                                  var_c + stats.crosstalk_var - 2.0 * stats.cov_flipped[x]])
            right[k], flipped[k] = _below_zero(means, np.maximum(variances, 0.0))
            continue
        c, w = _count_grid(s, var_c, r)
        right[k] = float(w @ _conditional_errors(c, stats, int(x), +1))
        flipped[k] = float(w @ _conditional_errors(c, stats, int(x), -1))
    return right, flipped


def _validate_read(n, d, n_locations, n_patterns, model, what):
    n = check_n(n)
    d = check_radius(d, n)
    r = check_positive(n_locations, "n_locations")
    m = check_positive(n_patterns, "n_patterns", minimum=1, why=f" for {what}",
                       hint="store at least one pattern")
    return n, d, r, m, check_choice(model, "model", READ_MODELS)


def read_statistics(
    n: int, d: int, n_locations: float, n_patterns: float, *, model: str = "autoassociative"
) -> ReadStatistics:
    """Mean, variance and covariances of the counter sums of one read (one-read model).

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    n_locations : float
        Number ``N`` of uniformly random hard locations (positive).
    n_patterns : float
        Number ``m`` of stored words (``>= 1``), uniformly random.
    model : {"autoassociative", "heteroassociative", "paper"}, default "autoassociative"
        How the words were stored: each at its own address (``SDM.write(words)``),
        at an independent random address (``SDM.write(addresses, words)``), or
        the simplified crosstalk of Bricken & Pehlevan (2021, App. B).

    Returns
    -------
    ReadStatistics
        Per cue distance ``x = 0..n``: the signal ``S(x)`` and its variance, the
        bias ``b`` and variance of the crosstalk, and their covariances.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range, ``n_patterns < 1`` or ``model`` is unknown.

    See Also
    --------
    bit_error_probability, exact_recall_probability, critical_distance

    Notes
    -----
    With ``S(h) = N·I(h)/2^n`` and ``h ~ Bin(n, 1/2)`` the distance from the cue
    to a random stored word, the crosstalk of each other word has second moment
    ``E_h[S(h) + S(h)²(1 − 1/N)]`` (heteroassociative: that is all). Stored
    autoassociatively, each word also leans towards the cue by
    ``E_h[S(h)(1 − 2h/n)] = N κ²``, ``κ = C(n−1, d)/2^n``, so that
    ``b = (m − 1) N κ²``, and the words' contributions are correlated through the
    shared locations, which adds ``(m − 1)(m − 2) κ² N (p − κ²)`` to the variance.
    These moments are exact over random locations and words (the derivation is
    in the documentation's theory page); only the shape of the distribution is
    approximated by :func:`bit_error_probability`.

    Examples
    --------
    >>> from fastsdm.theory import read_statistics
    >>> stats = read_statistics(1000, 451, 10**6, 10_000)
    >>> round(stats.bias, 2), round(float(stats.signal[200]), 2)
    (128.61, 103.46)
    >>> round(stats.crosstalk_var ** 0.5, 1)
    166.7
    """
    n, d, r, m, model = _validate_read(n, d, n_locations, n_patterns, model, "a read model")
    return _read_moments(n, d, r, m, model)


def bit_error_probability(
    n: int, d: int, n_locations: float, n_patterns: float, x: int | npt.ArrayLike,
    *, model: str = "autoassociative",
) -> float | np.ndarray:
    """Probability that a bit is wrong after one read from a cue ``x`` bits off.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    n_locations : float
        Number ``N`` of hard locations (positive).
    n_patterns : float
        Number ``m`` of stored random words (``>= 1``).
    x : int or array_like of int
        Distance(s) from the cue to the word's address, in ``[0, n]``.
    model : {"autoassociative", "heteroassociative", "paper"}, default "autoassociative"
        How the words were stored (see :func:`read_statistics`).

    Returns
    -------
    float or ndarray of float64
        The expected fraction of the ``n`` bits that differ from the stored word
        after one read, in ``[0, 1]``; autoassociatively ``x'(x)/n``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range, ``n_patterns < 1`` or ``model`` is unknown.

    See Also
    --------
    read_statistics, exact_recall_probability, critical_distance

    Notes
    -----
    A bit is wrong when its oriented counter sum ``ε c + Z`` is negative, ties
    broken at random (the memory's default ``ties="random"``). The number ``c``
    of shared locations is summed over its exact binomial distribution (normal
    limit once ``S(x) > 1024``); given ``c`` the crosstalk ``Z`` is taken normal
    with its exact conditional mean and variance. Autoassociatively

    .. math:: \\frac{x'(x)}{n} = \\frac{x}{n}\\, P_\\mathrm{flipped}(x)
              + \\frac{n - x}{n}\\, P_\\mathrm{right}(x),
              \\quad P_\\mathrm{right} \\approx \\Phi\\!\\left(-\\frac{S + b}{\\sigma_+}\\right),
              \\ P_\\mathrm{flipped} \\approx \\Phi\\!\\left(-\\frac{S - b}{\\sigma_-}\\right).

    ``model="paper"`` is ``Φ(−S/√(S + (m − 1)(S½ + S½²)))`` with ``S½ = S(⌊n/2⌋)``.

    Examples
    --------
    >>> from fastsdm.theory import bit_error_probability
    >>> round(float(bit_error_probability(1000, 451, 10**6, 10_000, 200)) * 1000, 1)
    177.9
    >>> [round(float(p), 4) for p in bit_error_probability(256, 103, 10**5, 2000, [32, 32],
    ...                                                       model="heteroassociative")]
    [0.0961, 0.0961]
    """
    n, d, r, m, model = _validate_read(n, d, n_locations, n_patterns, model,
                                       "a bit-error probability")
    xs, scalar = check_distances(x, n)
    flat = xs.ravel()
    if model == "paper":
        errors = _paper_curve(n, d, math.log(r), m)[flat] / n
    else:
        right, flipped = _bit_errors(_read_moments(n, d, r, m, model), r, flat)
        errors = (flat * flipped + (n - flat) * right) / n
    errors = np.clip(errors, 0.0, 1.0).reshape(xs.shape)
    return float(errors) if scalar else errors


def exact_recall_probability(
    n: int, d: int, n_locations: float, n_patterns: float, x: int | npt.ArrayLike,
    *, model: str = "autoassociative",
) -> float | np.ndarray:
    """Probability that one read from a cue ``x`` bits off returns the stored word exactly.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    n_locations : float
        Number ``N`` of hard locations (positive).
    n_patterns : float
        Number ``m`` of stored random words (``>= 1``).
    x : int or array_like of int
        Distance(s) from the cue to the word's address, in ``[0, n]``.
    model : {"autoassociative", "heteroassociative", "paper"}, default "autoassociative"
        How the words were stored (see :func:`read_statistics`).

    Returns
    -------
    float or ndarray of float64
        The probability that all ``n`` bits are right, in ``[0, 1]``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range, ``n_patterns < 1`` or ``model`` is unknown.

    See Also
    --------
    bit_error_probability

    Notes
    -----
    The bits of one read do not err independently: they share ``c``, the number
    of locations the cue shares with the word. Given ``c`` they are taken as
    independent, so

    .. math:: P_\\mathrm{exact}(x) = \\sum_c P(c)\\,
              \\bigl(1 - P_\\mathrm{right}(c)\\bigr)^{n - x}
              \\bigl(1 - P_\\mathrm{flipped}(c)\\bigr)^{x}

    over the binomial (or, for ``S > 1024``, normal) distribution of ``c``. The
    ``"paper"`` model mixes ``Φ(−c/√V)``, ``V = (m − 1)(S½ + S½²)``, over
    ``c ~ Poisson(S)`` (a read with ``c = 0`` is coin flips). The crosstalk also
    fluctuates from read to read, which this ignores: the prediction is an upper
    bound in spirit, good where the crosstalk is a sum of many words.

    Examples
    --------
    >>> from fastsdm.theory import exact_recall_probability
    >>> round(float(exact_recall_probability(1000, 451, 10**6, 10_000, 0)), 4)
    1.0
    >>> round(float(exact_recall_probability(64, 20, 1000, 1, 41)), 6)  # no shared location
    0.0
    """
    n, d, r, m, model = _validate_read(n, d, n_locations, n_patterns, model,
                                       "an exact-recall probability")
    xs, scalar = check_distances(x, n)
    stats = _read_moments(n, d, r, m, model)
    out = np.empty(xs.size)
    for k, cue in enumerate(xs.ravel()):
        out[k] = _exact_recall(stats, r, n, int(cue))
    out = np.clip(out, 0.0, 1.0).reshape(xs.shape)
    return float(out) if scalar else out


def _exact_recall(stats: ReadStatistics, r: float, n: int, x: int) -> float:
    s = float(stats.signal[x])
    if stats.model == "paper":
        if s == 0.0:
            return 0.5**n
        # Poisson number of shared locations c; given c, bits err independently.
        if s > _MIXTURE_MAX_SIGNAL:  # normal limit, Gauss-Hermite nodes
            nodes, weights = _HERMITE
            c, w = s + math.sqrt(2.0 * s) * nodes, weights / math.sqrt(math.pi)
        else:
            c = np.arange(max(0, int(s - 12 * math.sqrt(s) - 20)),
                          int(s + 12 * math.sqrt(s) + 20)).astype(np.float64)
            w = np.exp(c * math.log(s) - s - _LOG_COUNT_FACTORIALS[c.astype(np.intp)])
        var = np.full(c.size, stats.crosstalk_var)
        p_bit = np.where(c > 0, _below_zero(c, var), 0.5)
        return float(w @ np.exp(n * np.log1p(-p_bit)))
    c, w = _count_grid(s, float(stats.signal_var[x]), r)
    right = _conditional_errors(c, stats, x, +1)
    flipped = _conditional_errors(c, stats, x, -1)
    with np.errstate(divide="ignore"):  # log(0) = -inf: a certain error, probability 0
        # A term with no bits is 0, not 0 * log(0) = nan (x = 0 with certain
        # flips of the flipped bits, where there are none).
        log_ok = ((n - x) * np.log1p(-right) if n - x else 0.0) + (
            x * np.log1p(-flipped) if x else 0.0)
    return float(w @ np.exp(log_ok))


class CriticalDistance(NamedTuple):
    """Result of :func:`critical_distance`.

    Attributes
    ----------
    distance : int
        The critical distance: the largest ``x`` with ``x'(y) < y`` for all
        ``1 <= y <= x`` (0 if ``x'(1) >= 1``).
    curve : tuple of numpy.ndarray
        ``(x, x_new)``: cue distances ``0..n`` (int64) and the predicted distances
        after one read (float64).
    """

    distance: int
    curve: tuple[np.ndarray, np.ndarray]


@jit
def _one_step_distances(n, log_s, log_noise):
    # x'(x) = n Φ(−S/√(S + noise)) = (n/2) erfc(ratio/√2); erfc keeps the tail accurate.
    x_new = np.empty(log_s.size)
    for x in range(log_s.size):
        ratio = 0.0  # no signal (S = 0): every bit is a coin flip
        if log_s[x] > -math.inf:
            ratio = math.exp(log_s[x] - 0.5 * logaddexp(log_s[x], log_noise))
        x_new[x] = 0.5 * n * math.erfc(ratio / math.sqrt(2.0))
    return x_new


def _paper_curve(n: int, d: int, log_r: float, m: float) -> np.ndarray:
    log_s = log_r - n * LOG2 + log_intersections(n, d)  # S(x) = r I(x) / 2^n
    log_half = log_s[n // 2]
    # Crosstalk variance (m − 1)(S½ + S½²) with S½ = S(⌊n/2⌋), a sum of positive terms.
    if m > 1.0 and log_half > -math.inf:
        log_noise = math.log(m - 1.0) + log_half + float(np.logaddexp(0.0, log_half))
    else:
        log_noise = -math.inf
    return _one_step_distances(n, log_s, log_noise)


def one_step_curve(n: int, d: int, r: float, m: float, model: str) -> np.ndarray:
    """x'(x) for x = 0..n."""
    if model == "paper":
        return _paper_curve(n, d, math.log(r), m)
    xs = np.arange(n + 1)
    right, flipped = _bit_errors(_read_moments(n, d, r, m, model), r, xs)
    return np.clip(xs * flipped + (n - xs) * right, 0.0, float(n))


def crossing(x_new: np.ndarray) -> int:
    """The critical distance of a one-step curve: the last ``x`` before ``x'(y) >= y``."""
    n = x_new.size - 1
    converging = x_new[1:] < np.arange(1, n + 1)
    return n if converging.all() else int(np.argmin(converging))


def critical_distance(
    n: int, d: int, n_locations: float, n_patterns: float, *, model: str = "autoassociative"
) -> CriticalDistance:
    """Critical distance of an SDM under a one-read model.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    n_locations : float
        Number of hard locations ``r`` (positive).
    n_patterns : float
        Number of stored patterns ``m`` (``>= 1``).
    model : {"autoassociative", "heteroassociative", "paper"}, default "autoassociative"
        The one-read model (:func:`read_statistics`). The default predicts
        fastsdm's simulated memory with words stored at their own addresses,
        the setting in which Kanerva (1988) defines the critical distance;
        ``"paper"`` is the model of Bricken & Pehlevan (2021, App. B), which
        reproduces their figures and ``d*_CD = 15`` (it was the only model, and
        so the default, before fastsdm 0.1.0).

    Returns
    -------
    CriticalDistance
        ``.distance`` (int) and ``.curve = (x, x_new)``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range, ``n_patterns < 1`` or ``model`` is unknown.

    See Also
    --------
    optimal_radius : ``criterion="critical_distance"``.
    bit_error_probability : ``x_new / n``.

    Notes
    -----
    A cue ``x`` bits from a stored word is read once and the expected distance
    ``x'(x)`` of the result from the word is predicted; the critical distance is
    the largest ``x`` such that reading reduces the distance for every
    ``1 <= y <= x`` (Kanerva 1988, ch. 7). ``model="paper"`` is

    .. math:: x'(x) = n\\,\\Phi\\!\\left(-\\frac{S(x)}
              {\\sqrt{S(x) + (m-1)(S_{1/2} + S_{1/2}^2)}}\\right),
              \\qquad S(x) = r\\,I(x)/2^n,\\ S_{1/2} = S(\\lfloor n/2 \\rfloor),

    whose crosstalk vanishes when ``2d < ⌊n/2⌋``. ``"autoassociative"`` adds the
    self-bias ``b`` towards the cue and the crosstalk of all distances,

    .. math:: x'(x) \\approx x\\,\\Phi\\!\\left(-\\frac{S - b}{\\sigma_-}\\right)
              + (n - x)\\,\\Phi\\!\\left(-\\frac{S + b}{\\sigma_+}\\right)

    (:func:`bit_error_probability` for the exact form). For the canonical memory
    with ``m = 10,000`` it gives 228 bits where fastsdm's simulation crosses the
    diagonal after one read at about 230 (the paper model: 164). Iterated reads
    converge from 200 bits and diverge from 220 (on a 20-bit grid; Kanerva reports
    about 209): a one-read model is an upper bound of the iterated critical distance.

    Examples
    --------
    >>> from fastsdm.theory import critical_distance
    >>> critical_distance(1000, 451, 10**6, 10_000).distance
    228
    >>> critical_distance(1000, 451, 10**6, 10_000, model="paper").distance
    164
    >>> result = critical_distance(64, 15, 2**64, 1024, model="paper")
    >>> result.distance  # 2d: no crosstalk in this model while 2d < n/2
    30
    >>> [round(float(v), 3) for v in result.curve[1][29:33]]
    [0.0, 0.0, 32.0, 32.0]
    """
    n, d, r, m, model = _validate_read(n, d, n_locations, n_patterns, model,
                                       "the critical distance")
    x_new = one_step_curve(n, d, r, m, model)
    return CriticalDistance(crossing(x_new), (np.arange(n + 1, dtype=np.int64), x_new))

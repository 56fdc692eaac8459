"""Softmax attention, Hamming <-> cosine, and the SDM weights it approximates.

The pattern-view SDM weights (ball intersections for bit vectors, cap
intersections for unit vectors), softmax weights and attention, and their
comparison as curves over the Hamming distance.  Re-exported by
:mod:`fastsdm.attention`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from fastsdm._validation import (
    as_array,
    check_beta,
    check_choice,
    check_cosine_rows,
    check_distance_rows,
    check_flag,
    check_int,
    check_radius,
    check_rows,
    check_width,
    describe,
    real_array,
    renamed_keywords,
    unit_rows,
)
from fastsdm.theory import fit_beta, log_cap_intersection, log_intersection

__all__ = [
    "WeightComparison",
    "softmax_weights",
    "softmax_attention",
    "hamming_to_cosine",
    "cosine_to_hamming",
    "sdm_weights",
    "cap_weights",
    "compare_weights",
    "normalise_log_weights",
    "softmax_rows",
    "BETA_HINT",
    "N_HINT",
]

#: What messages about β add, and about the dimension ``n`` (format with its minimum).
BETA_HINT = "the inverse temperature of the softmax (beta=1/np.sqrt(d) in unnormalised attention)"
N_HINT = "pass the dimension of the vectors as a whole number >= {}"
#: Widest vectors the cosine <-> Hamming conversions take: float64 holds every
#: distance up to 2**53 exactly (wider ones rounded, and wrapped past 2**63).
MAX_CONVERSION_BITS = 2**53


class WeightComparison(NamedTuple):
    """Result of :func:`compare_weights`.

    Attributes
    ----------
    h : ndarray of int64
        The Hamming distances compared.
    sdm : ndarray of float64
        ``I(h) / Σ_h I(h)``.
    softmax : ndarray of float64
        ``exp(β cos(h)) / Σ_h exp(β cos(h))`` with ``cos(h) = 1 − 2h/n``.
    beta : float
        The β used.
    max_abs_diff : float
        ``max_h |sdm − softmax|``.
    total_variation : float
        ``½ Σ_h |sdm − softmax|``.
    kl : float
        ``KL(sdm ‖ softmax) = Σ_h sdm · log(sdm / softmax)`` (natural log,
        ``0 · log 0 = 0``).
    """

    h: np.ndarray
    sdm: np.ndarray
    softmax: np.ndarray
    beta: float
    max_abs_diff: float
    total_variation: float
    kl: float


# ---------------------------------------------------------------------------
# Softmax attention
# ---------------------------------------------------------------------------


def normalise_log_weights(log_w: np.ndarray) -> np.ndarray:
    """``exp(log_w)`` normalised along the last axis; all-``-inf`` rows give zeros."""
    top = log_w.max(axis=-1, keepdims=True)
    # Shift by the row maximum (log-sum-exp); a row with no weight at all is
    # shifted by 0, not by -inf, so that it stays -inf (weight 0) instead of NaN.
    with np.errstate(over="ignore"):  # huge log-weight gaps round to -inf: weight 0, rightly
        weights = np.exp(log_w - np.where(top == -np.inf, 0.0, top))
    total = weights.sum(axis=-1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0.0)


def softmax_rows(scores: np.ndarray, beta: float) -> np.ndarray:
    """``softmax(β · scores)`` along the last axis, stable for any finite β."""
    # Subtract the maximum before multiplying by β: β·(s − max s) <= 0 never
    # overflows to +inf, so any finite β (1e300 included) is stable.
    with np.errstate(over="ignore"):
        shifted = beta * (scores - scores.max(axis=-1, keepdims=True))
    return normalise_log_weights(shifted)


def _prepare_attention(q, K, beta, normalize: bool):
    normalize = check_flag(normalize, "normalize")
    K = real_array(K, "K", (2,), "(N, d)",
                   allow_bool=False, nonempty=True, contiguous=False)
    Q = real_array(q, "q", (1, 2), "(d,) or (m, d)",
                   allow_bool=False, nonempty=True, contiguous=False)
    check_width(Q, "q", K, "K")
    beta = 1.0 / math.sqrt(K.shape[1]) if beta is None else check_beta(beta, hint=BETA_HINT)
    single = Q.ndim == 1
    Q = np.atleast_2d(Q)
    if normalize:
        Q, K = unit_rows(Q, "q"), unit_rows(K, "K")
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, with a fix
        scores = Q @ K.T
    if not np.isfinite(scores).all():
        raise ValueError("the dot products q·k overflowed float64; rescale q and K or pass "
                         "normalize=True")
    return softmax_rows(scores, beta), single


def softmax_weights(q: npt.ArrayLike, K: npt.ArrayLike, beta: float | None = None, *,
                    normalize: bool = False) -> np.ndarray:
    """Attention weights ``softmax(β K q)``.

    Parameters
    ----------
    q : array_like, shape (d,) or (m, d)
        One query or a batch of queries (real numbers).
    K : array_like, shape (N, d)
        Keys, one per row (``N >= 1``).
    beta : float, optional
        Inverse temperature (positive, finite). Default ``1/sqrt(d)``, the
        scaled dot product of Transformers (and torchhd's default); see the
        Notes of :func:`softmax_attention` for how it compares with the β of
        an SDM.
    normalize : bool, default False
        L2-normalise the query and every key first (Query-Key Normalization),
        so that the scores are cosines in ``[-1, 1]``.

    Returns
    -------
    ndarray of float64, shape (N,) or (m, N)
        Non-negative weights summing to 1 over the keys.

    Raises
    ------
    TypeError
        If an array is not real-valued or ``beta`` is not a real number.
    ValueError
        If a shape is wrong, the widths differ, an array holds NaN/inf, ``beta``
        is not positive and finite, a vector to normalise is zero, or the dot
        products overflow.

    See Also
    --------
    softmax_attention : The weighted sum of the values.
    sdm_weights : The SDM weights they approximate.

    Notes
    -----
    .. math:: w_\\mu = \\frac{\\exp(\\beta\\, k_\\mu \\cdot q)}
              {\\sum_\\nu \\exp(\\beta\\, k_\\nu \\cdot q)}
              = \\frac{\\exp(\\beta (k_\\mu \\cdot q - s^*))}
              {\\sum_\\nu \\exp(\\beta (k_\\nu \\cdot q - s^*))},
              \\qquad s^* = \\max_\\nu k_\\nu \\cdot q.

    The maximum is subtracted before multiplying by β, so no exponent is
    positive and no β overflows; as ``β → ∞`` the weights tend to a uniform
    distribution over the best-matching keys: over the keys whose *computed*
    scores are equal. A score is exact to a few rounding errors (about
    ``1e-16`` relative), and β multiplies that too: with ``normalize=True``,
    parallel keys of different lengths can have cosines one rounding error
    apart, and their weights then differ by a factor of about
    ``1 + β · 1e-16`` (two parallel keys of 64 dimensions, 2,000 random
    pairs: weights of at most 0.5004 instead of 0.5 at ``β = 1e13``, 0.54 at
    ``1e15``, 1.0 at ``1e17``). The scores ``K q`` are one NumPy (BLAS)
    matrix product. Query-Key Normalization is due to Henry et al. (2020);
    Bricken & Pehlevan (2021) relate its learned β to SDM radii.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsdm.attention import softmax_weights
    >>> K = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> softmax_weights([1.0, 0.0], K, beta=2.0).round(3)
    array([0.867, 0.117, 0.016])
    >>> softmax_weights([3.0, 0.0], K, beta=2.0, normalize=True).round(3)  # length ignored
    array([0.867, 0.117, 0.016])
    >>> softmax_weights([1.0, 0.0], K).round(3)  # beta = 1/sqrt(2)
    array([0.576, 0.284, 0.14 ])
    """
    weights, single = _prepare_attention(q, K, beta, normalize)
    return weights[0] if single else weights


def softmax_attention(q: npt.ArrayLike, K: npt.ArrayLike, V: npt.ArrayLike,
                      beta: float | None = None, *, normalize: bool = False) -> np.ndarray:
    """Softmax attention ``Σ_μ softmax_μ(β K q) V_μ``.

    Parameters
    ----------
    q : array_like, shape (d,) or (m, d)
        One query or a batch of queries.
    K : array_like, shape (N, d)
        Keys, one per row.
    V : array_like, shape (N, dv)
        Values, one row per key.
    beta : float, optional
        Inverse temperature (positive, finite). Default ``1/sqrt(d)`` with
        ``d`` the key width: the scaled dot product of Transformers (GPT-2 uses
        ``1/sqrt(64)`` on unnormalised vectors) and torchhd's default.
        Query-Key Normalization learns it instead.
    normalize : bool, default False
        L2-normalise the query and the keys first (Query-Key Normalization).

    Returns
    -------
    ndarray of float64, shape (dv,) or (m, dv)
        The weighted sums of the value rows.

    Raises
    ------
    TypeError
        If an array is not real-valued or ``beta`` is not a real number.
    ValueError
        If a shape is wrong, ``q``/``K`` widths or ``K``/``V`` row counts differ,
        an array holds NaN/inf, ``beta`` is not positive and finite, a vector to
        normalise is zero, or the dot products overflow.

    See Also
    --------
    softmax_weights : The weights alone.
    sdm_pattern_read : The SDM read this approximates.

    Notes
    -----
    .. math:: \\operatorname{Attention}(q, K, V) = V^\\top
              \\operatorname{softmax}(\\beta K q)

    computed stably (see :func:`softmax_weights`); both products are NumPy
    (BLAS) matrix products. With ``normalize=True`` and ``β`` fitted to a radius
    (:func:`fastsdm.theory.fit_beta`) this is the attention side of the SDM
    correspondence of Bricken & Pehlevan (2021); the normalisation is that of
    Henry et al. (2020).

    **The default β against the SDM's.** ``1/sqrt(d)`` suits unnormalised
    vectors, whose dot products grow like ``d``.  On bipolar (±1) vectors of
    ``d = n`` bits, ``q·k = n cos``, so the default weighs keys by
    ``exp(sqrt(n) cos)``: a β of ``sqrt(n)`` on cosines, 8 for ``n = 64``.
    An SDM of radius ``d`` corresponds to ``β = fit_beta(n, d)`` on cosines
    (``normalize=True``): 35.5, 15.9 and 10.1 for ``n = 64`` and the
    memory-, SNR- and critical-distance-optimal radii 5, 11 and 15, i.e. a
    sharper softmax than the default.  With ``normalize=True`` the default
    stays ``1/sqrt(d)`` (0.125 for ``d = 64``), nearly uniform weights on
    cosines: pass the fitted β there.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsdm.attention import softmax_attention
    >>> K = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> V = np.array([[10.0, 0.0], [0.0, 10.0]])
    >>> softmax_attention([1.0, 0.0], K, V, beta=1.0).round(3)
    array([7.311, 2.689])
    >>> softmax_attention([[1.0, 0.0], [0.0, 1.0]], K, V, beta=1e6).round(3)
    array([[10.,  0.],
           [ 0., 10.]])
    >>> softmax_attention([1.0, 0.0], K, V).round(3)  # beta = 1/sqrt(2)
    array([6.698, 3.302])
    """
    weights, single = _prepare_attention(q, K, beta, normalize)
    V = real_array(V, "V", (2,), "(N, dv)",
                   allow_bool=False, nonempty=True, contiguous=False)
    check_rows(V, weights.shape[1], "V")
    with np.errstate(over="ignore", invalid="ignore"):
        out = weights @ V
    if not np.isfinite(out).all():
        # Each output is an average of V's rows (the weights sum to 1), so it
        # lies within ±max|V|; near float64's limit the sum can round past it.
        scale = np.abs(V).max()
        with np.errstate(over="ignore"):
            out = np.clip((weights @ (V / scale)) * scale, -scale, scale)
    return out[0] if single else out


# ---------------------------------------------------------------------------
# Hamming distance <-> cosine
# ---------------------------------------------------------------------------


def hamming_to_cosine(h: float | npt.ArrayLike, n: int) -> float | np.ndarray:
    """Cosine similarity of two bipolar vectors ``h`` bits apart.

    Parameters
    ----------
    h : int, float or array_like
        Hamming distance(s), in ``[0, n]``.
    n : int
        Number of bits (``n >= 1``).

    Returns
    -------
    float or ndarray of float64
        ``1 − 2h/n`` (same shape as ``h``).

    Raises
    ------
    TypeError
        If ``n`` is not an integer or ``h`` is not numeric.
    ValueError
        If ``n < 1`` or ``h`` is outside ``[0, n]``.

    See Also
    --------
    cosine_to_hamming : The inverse, rounded to whole bits.

    Notes
    -----
    The bipolar vectors ``2x − 1`` of ``x, y ∈ {0,1}^n`` have norm ``√n`` and
    dot product ``n − 2h``, hence ``cos = 1 − 2h/n`` (Bricken & Pehlevan 2021, §3).

    Examples
    --------
    >>> from fastsdm.attention import hamming_to_cosine
    >>> hamming_to_cosine(16, 64)
    0.5
    >>> hamming_to_cosine([0, 32, 64], 64)
    array([ 1.,  0., -1.])
    """
    n = check_int(n, "n", 1, MAX_CONVERSION_BITS,
                  hint=N_HINT.format(1) + " and at most 2**53 (exact in float64)")
    array = as_array(h, "h")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"h must be a number or an array of numbers, got {describe(array)}; "
                        "pass Hamming distances as integers")
    if not ((array >= 0) & (array <= n)).all():
        raise ValueError(f"h must lie in [0, n] = [0, {n}] (NaN is refused); distances between "
                         f"{n}-bit vectors lie between 0 and {n}")
    # (n − 2h) / n: n − 2h is exact in float64 for integer h <= n <= 2**53, so
    # the one division rounds correctly (1 − 2h/n lost 0.08 % of 1/n at n = 1e15).
    cos = (n - 2.0 * array.astype(np.float64)) / n
    return float(cos) if cos.ndim == 0 else cos


def cosine_to_hamming(cos: float | npt.ArrayLike, n: int) -> int | np.ndarray:
    """Hamming distance, in whole bits, of bipolar vectors with cosine ``cos``.

    Parameters
    ----------
    cos : float or array_like
        Cosine similarity (or similarities), in ``[-1, 1]``.
    n : int
        Number of bits (``n >= 1``).

    Returns
    -------
    int or ndarray of int64
        ``round(n (1 − cos) / 2)`` (same shape as ``cos``).

    Raises
    ------
    TypeError
        If ``n`` is not an integer or ``cos`` is not numeric.
    ValueError
        If ``n < 1`` or ``cos`` is outside ``[-1, 1]``.

    See Also
    --------
    hamming_to_cosine : The inverse.

    Notes
    -----
    ``h = n (1 − cos) / 2`` rounded to the nearest integer (halves to even, like
    :func:`round` and :func:`numpy.rint`), never floored: the product is often a
    hair below a whole number in floating point, and flooring would then lose a
    bit. So ``cosine_to_hamming(hamming_to_cosine(h, n), n) == h`` for every ``h``.

    Examples
    --------
    >>> from fastsdm.attention import cosine_to_hamming
    >>> cosine_to_hamming(0.5, 64)
    16
    >>> cosine_to_hamming([1.0, 0.9, -1.0], 1000)
    array([   0,   50, 1000])
    """
    n = check_int(n, "n", 1, MAX_CONVERSION_BITS,
                  hint=N_HINT.format(1) + " and at most 2**53 (exact in float64)")
    array = as_array(cos, "cos")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"cos must be a number or an array of numbers, got {describe(array)}; "
                        "pass cosine similarities as floats")
    if not ((array >= -1.0) & (array <= 1.0)).all():
        raise ValueError("cos must lie in [-1, 1] (NaN is refused); clip rounding errors with "
                         "np.clip(cos, -1, 1)")
    cosines = array.astype(np.float64).reshape(-1)
    half = n * (1.0 - cosines) / 2.0
    h = np.rint(half)
    # The float64 half is within n 2**-52 of the exact n (1 − cos) / 2: where that
    # could straddle a rounding boundary (near halves, or anywhere for n near
    # 2**53, where floats near h are 1/16 apart), round the exact rational.
    for i in np.flatnonzero(np.abs(np.abs(half - h) - 0.5) <= n * 2.0**-51):
        h[i] = round(Fraction(n) * (1 - Fraction(float(cosines[i]))) / 2)
    h = h.astype(np.int64).reshape(array.shape)
    return int(h) if h.ndim == 0 else h


# ---------------------------------------------------------------------------
# SDM weights (pattern view: infinitely many neurons)
# ---------------------------------------------------------------------------


@renamed_keywords(distances="h")
def sdm_weights(n: int, d: int, h: npt.ArrayLike) -> np.ndarray:
    """Read weights of the pattern-view SDM: ``I(h_μ) / Σ_ν I(h_ν)``.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    h : array_like of int, shape (..., N)
        Hamming distances from a query to each of ``N`` patterns, in ``[0, n]``
        (``distances=``, the older keyword, is accepted too).

    Returns
    -------
    ndarray of float64, shape (..., N)
        Weights proportional to the ball intersections, summing to 1 along the
        last axis. A row whose patterns are all farther than ``2d`` (so every
        ``I(h) = 0``: no neuron is shared) is all zeros.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer or ``h`` is not integer.
    ValueError
        If ``n < 1``, ``d`` is outside ``[0, n]``, ``h`` is empty along the
        last axis or a distance is outside ``[0, n]``.

    See Also
    --------
    fastsdm.theory.intersection : The exact ``I(h)``.
    sdm_pattern_read : The read that uses these weights.
    softmax_weights : The attention approximation.

    Notes
    -----
    With infinitely many uniformly random neurons, a pattern written at key
    ``k_μ`` reaches a query ``h_μ`` bits away through the ``∝ I(h_μ)`` neurons
    in both balls (Bricken & Pehlevan 2021, eq. 2; Kanerva 1988), so

    .. math:: w_\\mu = \\frac{I(h_\\mu)}{\\sum_\\nu I(h_\\nu)}.

    The number of neurons cancels. The weights are computed from
    :func:`fastsdm.theory.log_intersection` with a log-sum-exp, so they are
    accurate for any ``n``.

    Examples
    --------
    >>> from fastsdm.attention import sdm_weights
    >>> sdm_weights(8, 2, [0, 2, 4, 6]).round(4)  # I = 37, 16, 6, 0 (sum 59)
    array([0.6271, 0.2712, 0.1017, 0.    ])
    >>> sdm_weights(8, 2, [5, 7])
    array([0., 0.])
    """
    n = check_int(n, "n", 1, hint=N_HINT.format(1))
    d = check_int(d, "radius d", 0, n, hint="choose a radius between 0 and n")
    h = check_distance_rows(h, n)
    # Each distinct distance once: a table of all n + 1 took O(n) memory (2.4 GB
    # at n = 10**8, a MemoryError at 10**10) for a handful of distances.
    distinct, where = np.unique(h, return_inverse=True)
    log_i = np.asarray(log_intersection(n, d, distinct), dtype=np.float64)
    return normalise_log_weights(log_i[where.reshape(h.shape)])


@renamed_keywords(cosines="cos")
def cap_weights(n: int, d: float, cos: npt.ArrayLike) -> np.ndarray:
    """Read weights of the continuous pattern-view SDM (hyperspherical caps).

    Parameters
    ----------
    n : int
        Dimension of the vectors (``n >= 2``; the sphere is ``S^{n−1}``).
    d : float
        Radius in bit units, in ``[0, n]``: a neuron is activated by ``x`` when
        ``cos(x, a) >= 1 − 2d/n``.
    cos : array_like of float, shape (..., N)
        Cosine similarities between a query and each of ``N`` keys, in ``[-1, 1]``
        (``cosines=``, the older keyword, is accepted too).

    Returns
    -------
    ndarray of float64, shape (..., N)
        Weights proportional to the cap intersections, summing to 1 along the
        last axis; all zeros where no key's cap meets the query's.

    Raises
    ------
    TypeError
        If ``n`` is not an integer, ``d`` not a real number or ``cos`` not numeric.
    ValueError
        If ``n < 2``, ``d`` is outside ``[0, n]``, ``cos`` is empty along the
        last axis or outside ``[-1, 1]``.

    See Also
    --------
    fastsdm.theory.log_cap_intersection : The cap intersection areas.
    sdm_weights : The binary version.

    Notes
    -----
    .. math:: w_\\mu = \\frac{A(\\cos_\\mu)}{\\sum_\\nu A(\\cos_\\nu)},

    ``A`` being the area of the intersection of the two caps of angular radius
    ``arccos(1 − 2d/n)`` around query and key (Bricken & Pehlevan 2021, App. A;
    Lee & Kim 2014), from :func:`fastsdm.theory.log_cap_intersection` with a
    log-sum-exp. Each cosine costs one adaptive quadrature (about 0.1 ms when
    the caps meet), so large problems are better served by the softmax
    approximation (``beta=`` in :func:`continuous_pattern_read`).

    Examples
    --------
    >>> from fastsdm.attention import cap_weights
    >>> cap_weights(64, 11, [1.0, 0.8, -0.5]).round(3)
    array([0.984, 0.016, 0.   ])
    """
    n = check_int(n, "n", 2, hint=N_HINT.format(2))
    d = check_radius(d, n, real=True)
    cos = check_cosine_rows(cos)
    log_areas = log_cap_intersection(n, d, cos.ravel()).reshape(cos.shape)
    return normalise_log_weights(log_areas)


# ---------------------------------------------------------------------------
# SDM versus softmax, as curves over h
# ---------------------------------------------------------------------------


def compare_weights(n: int, d: int, *, beta: float | None = None, method: str = "paper",
                    h: npt.ArrayLike | None = None) -> WeightComparison:
    """Compare the normalised SDM weight curve ``I(h)`` with the fitted softmax.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 2``).
    d : int
        Activation radius, in ``[0, n]`` (``[2, n]`` when β is fitted).
    beta : float, optional
        Softmax inverse temperature; default ``theory.fit_beta(n, d, method)``.
    method : {"paper", "ols"}, default "paper"
        β estimator used when ``beta`` is None (see :func:`fastsdm.theory.fit_beta`).
    h : array_like of int, optional
        Hamming distances to compare, in ``[0, n]`` (default ``0..n``).

    Returns
    -------
    WeightComparison
        ``h``, the two normalised curves ``sdm`` and ``softmax``, ``beta``, and the
        metrics ``max_abs_diff``, ``total_variation`` and ``kl``.

    Raises
    ------
    TypeError
        If ``n``, ``d`` or ``h`` is not integer, or ``beta`` is not a real number.
    ValueError
        If an argument is out of range, ``method`` is unknown, ``h`` is empty, or
        every ``h`` exceeds ``2d`` (the SDM curve would be all zeros).

    See Also
    --------
    fastsdm.theory.fit_beta, sdm_weights, softmax_weights

    Notes
    -----
    The two curves are compared as distributions over the distances ``h``,
    one pattern per distance:

    .. math:: p(h) = \\frac{I(h)}{\\sum_{h'} I(h')}, \\qquad
              q(h) = \\frac{e^{\\beta (1 - 2h/n)}}{\\sum_{h'} e^{\\beta (1 - 2h'/n)}},

    and ``max|p − q|``, ``TV = ½ Σ|p − q|`` and ``KL(p ‖ q) = Σ p log(p/q)`` are
    reported. They are *not* weighted by how many patterns sit at each
    distance (``C(n, h)`` for random patterns): this is the Figure-style
    comparison of the weight curves of Bricken & Pehlevan (2021), not the
    error of a read over random memories. ``q`` never vanishes, so ``KL`` is
    finite, unless ``β`` is so large that ``q`` underflows to 0 in float64 where
    ``p > 0`` (``KL = inf`` then); ``p(h) = 0`` for ``h > 2d`` contributes 0.

    Examples
    --------
    >>> from fastsdm.attention import compare_weights
    >>> result = compare_weights(64, 11)
    >>> round(result.beta, 1), round(result.total_variation, 3), round(result.kl, 3)
    (15.9, 0.111, 0.031)
    >>> result.sdm[:4].round(3)  # I(2k - 1) = I(2k): a staircase
    array([0.464, 0.156, 0.156, 0.066])
    >>> result.softmax[:4].round(3)
    array([0.391, 0.238, 0.145, 0.088])
    """
    n = check_int(n, "n", 2, hint=N_HINT.format(2))
    method = check_choice(method, "method", ("paper", "ols"))
    if beta is None:
        d = check_int(d, "radius d", 2, n, hint="fitting beta needs h = 0..d-1, at least "
                                               "two points; choose a radius between 2 and n "
                                               "or pass beta")
        beta = fit_beta(n, d, method)
    else:
        d = check_int(d, "radius d", 0, n, hint="choose a radius between 0 and n")
        beta = check_beta(beta, hint=BETA_HINT)
    h = np.arange(n + 1) if h is None else check_distance_rows(h, n, "h")
    if h.ndim != 1:
        raise ValueError(f"h must be a 1-D array of distances, got {describe(h)}; "
                         "flatten it with np.ravel(h)")
    h = h.astype(np.int64)
    log_p = log_intersection(n, d, h)  # O(d + len(h)) memory, not a table of all n + 1
    if np.all(log_p == -np.inf):
        raise ValueError(f"every distance in h exceeds 2d = {2 * d}, so I(h) = 0 and the SDM "
                         "curve is all zeros; include distances <= 2d")
    cos = hamming_to_cosine(h, n)
    with np.errstate(over="ignore"):  # shifted to <= 0: any finite β, -inf at worst
        log_q = beta * (cos - cos.max())
    log_p = log_p - np.logaddexp.reduce(log_p)
    log_q = log_q - np.logaddexp.reduce(log_q)
    p, q = np.exp(log_p), np.exp(log_q)
    support = p > 0.0
    diff = np.abs(p - q)
    # KL >= 0; rounding can give a tiny negative (or -0.0) for identical curves
    kl = max(0.0, float(np.sum(p[support] * (log_p[support] - log_q[support]))))
    return WeightComparison(h, p, q, float(beta), float(diff.max()), float(0.5 * diff.sum()), kl)

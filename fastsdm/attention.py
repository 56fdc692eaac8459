"""Softmax attention and its Sparse Distributed Memory approximation.

Bricken & Pehlevan (2021) show that the read of an SDM with infinitely many
hard locations (the *pattern view*),

.. math:: \\hat v = \\frac{\\sum_\\mu I(h_\\mu)\\, v_\\mu}{\\sum_\\mu I(h_\\mu)},

where ``I(h)`` is the number of points in the intersection of two Hamming
balls of radius ``d`` whose centres (query and key ``μ``) are ``h`` bits apart,
is close to softmax attention

.. math:: \\hat v = \\sum_\\mu \\operatorname{softmax}_\\mu(\\beta \\cos_\\mu)\\, v_\\mu,
          \\qquad \\cos_\\mu = 1 - 2 h_\\mu / n,

because ``I(h) ≈ c_1 e^{-c_2 h}`` and then ``β = c_2 n / 2``
(:func:`fastsdm.theory.fit_beta`). This module provides both sides of that
correspondence:

* softmax attention with optional Query-Key Normalization (Henry et al. 2020),
* Hamming distance ↔ cosine conversions,
* pattern-view SDM reads, binary (ball intersections) and continuous
  (hyperspherical cap intersections), with the softmax approximation as an
  option and iteration to a fixed point,
* a curve-level comparison of the SDM weights and the fitted softmax,
* the β learned by Query-Key Normalization Transformers, placed against the
  β of the optimal SDM radii, and the effective β of a softmax over raw
  query-key dot products (Bricken & Pehlevan's reading of GPT-2).

References
----------
.. [1] T. Bricken and C. Pehlevan, "Attention approximates sparse distributed
   memory", NeurIPS 2021, arXiv:2111.05498.
.. [2] A. Henry, P. R. Dachapally, S. Pawar and Y. Chen, "Query-Key
   Normalization for Transformers", Findings of EMNLP 2020, arXiv:2010.04245.
.. [3] P. Kanerva, *Sparse Distributed Memory*, MIT Press, 1988.
"""

from __future__ import annotations

import csv
import math
import numbers
from importlib import resources
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from . import theory
from ._validation import _describe, check_choice, check_int, check_words
from .bits import pack_bits, unpack_bits
from .memory import ReadInfo
from .search import hamming_distances

__all__ = [
    "LearnedBetaSummary",
    "WeightComparison",
    "cap_weights",
    "EffectiveBeta",
    "compare_weights",
    "continuous_pattern_read",
    "cosine_to_hamming",
    "effective_beta",
    "hamming_to_cosine",
    "learned_beta_summary",
    "load_learned_betas",
    "sdm_pattern_read",
    "sdm_weights",
    "softmax_attention",
    "softmax_weights",
]

#: Bytes of each (queries x patterns) or (patterns x bits) float64 temporary of a
#: pattern-view read: queries and patterns are processed in blocks of this size.
BLOCK_BYTES = 32 << 20

_EPS = np.finfo(np.float64).eps
_BETA_FILE = "qknorm_learned_betas.csv"
_BETA_HEADER = ["task", "module", "beta"]


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


class EffectiveBeta(NamedTuple):
    """Result of :func:`effective_beta`.

    Attributes
    ----------
    beta : float
        The effective β of all the queries together.
    per_query : ndarray of float64, shape (m,)
        One estimate per query.
    method : str
        ``"max"`` or ``"fit"``.
    scale : float
        The factor that multiplied the dot products (``1/sqrt(d)`` by default).
    """

    beta: float
    per_query: np.ndarray
    method: str
    scale: float


class LearnedBetaSummary(NamedTuple):
    """Result of :func:`learned_beta_summary`.

    Attributes
    ----------
    betas : ndarray of float64
        The learned β (all tasks and modules, file order).
    mean, min, max : float
        Their mean, minimum and maximum.
    radius_cd, radius_snr, radius_mem : int
        Optimal SDM radii for critical distance, signal-to-noise ratio and
        memory capacity (:func:`fastsdm.theory.optimal_radius`).
    beta_cd, beta_snr, beta_mem : float
        ``fit_beta(n, radius)`` for those radii (``β_CD < β_SNR < β_Mem``).
    fraction_between : float
        Fraction of the learned β in ``[β_CD, β_Mem]`` (inclusive).
    """

    betas: np.ndarray
    mean: float
    min: float
    max: float
    radius_cd: int
    radius_snr: int
    radius_mem: int
    beta_cd: float
    beta_snr: float
    beta_mem: float
    fraction_between: float


# ---------------------------------------------------------------------------
# Input checks: one message each, saying what was expected, what was received
# and how to fix it.
# ---------------------------------------------------------------------------


def _check_beta(beta) -> float:
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(f"beta must be a positive real number, got {beta!r} of type "
                        f"{type(beta).__name__}; pass e.g. beta=15.6 (or beta=1/np.sqrt(d) as "
                        "in unnormalised attention)")
    if not 0.0 < float(beta) < math.inf:
        raise ValueError(f"beta must be a positive finite number, got {beta!r}; pass the "
                         "inverse temperature of the softmax, e.g. beta=15.6")
    return float(beta)


def _real_array(x, name: str, ndims: tuple[int, ...], shape: str) -> np.ndarray:
    """``x`` as a finite, non-empty float64 array with one of ``ndims`` dimensions."""
    array = np.asarray(x)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real-valued (float or integer) array, got "
                        f"{_describe(array)}; convert it with np.asarray({name}, dtype=float)")
    if array.ndim not in ndims or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty array of shape {shape}, got "
                         f"{_describe(array)}; reshape it (one vector per row)")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values ({_describe(array)}); "
                         f"remove or replace them, e.g. with np.nan_to_num({name})")
    return array


def _unit_rows(x: np.ndarray, name: str, fix: str = "drop it or use normalize=False") -> np.ndarray:
    peak = np.abs(x).max(axis=-1, keepdims=True)
    if not (peak > 0.0).all():
        raise ValueError(f"{name} has a zero vector (row {int(np.argmin(peak.ravel()))}), which "
                         f"has no direction and cannot be L2-normalised; {fix}")
    # Divide by the largest entry first: squaring 1e200 (or 1e-200) would overflow
    # (underflow) inside the norm.
    x = x / peak
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _check_width(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"{a_name} and {b_name} must have the same number of features, got "
                         f"{a.shape[-1]} ({_describe(a)}) and {b.shape[-1]} ({_describe(b)}); "
                         "project them to a common width first")


def _check_rows(values: np.ndarray, n_keys: int, v_name: str, k_name: str) -> None:
    if values.shape[0] != n_keys:
        raise ValueError(f"{v_name} must have one row per key, got {values.shape[0]} rows for "
                         f"{n_keys} {k_name}; pass {v_name} with shape ({n_keys}, ...)")


def _check_n(n, name: str = "n", minimum: int = 1) -> int:
    return check_int(n, name, minimum,
                     hint=f"pass the dimension of the vectors as a whole number >= {minimum}")


def _check_distances(distances, n: int) -> np.ndarray:
    array = np.asarray(distances)
    if array.dtype.kind not in "iu":
        raise TypeError(f"distances must be integer Hamming distances, got {_describe(array)}; "
                        "convert cosines with cosine_to_hamming() or use np.rint(h).astype(int)")
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"distances must have at least one pattern along the last axis, got "
                         f"{_describe(array)}; pass e.g. an array of shape (N,) or (m, N)")
    if array.min() < 0 or array.max() > n:
        raise ValueError(f"distances must lie in [0, n] = [0, {n}], got values in "
                         f"[{array.min()}, {array.max()}]; check that n matches the vectors")
    return array.astype(np.intp, copy=False)


def _check_cap_radius(d, n: int) -> float:
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Real):
        raise TypeError(f"radius d must be a real number, got {d!r} of type {type(d).__name__}; "
                        "pass it in bit units, d = n (1 - cos_threshold) / 2")
    if not 0.0 <= float(d) <= n:
        raise ValueError(f"radius d must be in [0, n] = [0, {n}], got {d!r}; choose a radius "
                         "between 0 and n")
    return float(d)


def _check_cosines(cosines) -> np.ndarray:
    array = np.asarray(cosines)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"cosines must be real numbers, got {_describe(array)}; "
                        "pass cosine similarities as floats")
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"cosines must have at least one pattern along the last axis, got "
                         f"{_describe(array)}; pass e.g. an array of shape (N,) or (m, N)")
    array = array.astype(np.float64, copy=False)
    if not ((array >= -1.0) & (array <= 1.0)).all():
        raise ValueError("cosines must lie in [-1, 1] (NaN is refused); clip rounding errors "
                         "with np.clip(cosines, -1, 1)")
    return array


# ---------------------------------------------------------------------------
# Softmax attention
# ---------------------------------------------------------------------------


def _normalise_log_weights(log_w: np.ndarray) -> np.ndarray:
    """``exp(log_w)`` normalised along the last axis; all-``-inf`` rows give zeros."""
    top = log_w.max(axis=-1, keepdims=True)
    # Shift by the row maximum (log-sum-exp); a row with no weight at all is
    # shifted by 0, not by -inf, so that it stays -inf (weight 0) instead of NaN.
    with np.errstate(over="ignore"):  # huge log-weight gaps round to -inf: weight 0, rightly
        weights = np.exp(log_w - np.where(top == -np.inf, 0.0, top))
    total = weights.sum(axis=-1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0.0)


def _softmax_rows(scores: np.ndarray, beta: float) -> np.ndarray:
    # Subtract the maximum before multiplying by β: β·(s − max s) <= 0 never
    # overflows to +inf, so any finite β (1e300 included) is stable.
    with np.errstate(over="ignore"):
        shifted = beta * (scores - scores.max(axis=-1, keepdims=True))
    return _normalise_log_weights(shifted)


def _prepare_attention(q, K, beta, normalize: bool):
    K = _real_array(K, "K", (2,), "(N, d)")
    Q = _real_array(q, "q", (1, 2), "(d,) or (m, d)")
    _check_width(Q, "q", K, "K")
    beta = 1.0 / math.sqrt(K.shape[1]) if beta is None else _check_beta(beta)
    single = Q.ndim == 1
    Q = np.atleast_2d(Q)
    if normalize:
        Q, K = _unit_rows(Q, "q"), _unit_rows(K, "K")
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, with a fix
        scores = Q @ K.T
    if not np.isfinite(scores).all():
        raise ValueError("the dot products q·k overflowed float64; rescale q and K or pass "
                         "normalize=True")
    return _softmax_rows(scores, beta), single


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
    distribution over the best-matching keys. The scores ``K q`` are one NumPy
    (BLAS) matrix product. Query-Key Normalization is due to Henry et al.
    (2020); Bricken & Pehlevan (2021) relate its learned β to SDM radii.

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
    V = _real_array(V, "V", (2,), "(N, dv)")
    _check_rows(V, weights.shape[1], "V", "keys")
    out = weights @ V
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
    n = _check_n(n)
    array = np.asarray(h)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"h must be a number or an array of numbers, got {_describe(array)}; "
                        "pass Hamming distances as integers")
    if not ((array >= 0) & (array <= n)).all():
        raise ValueError(f"h must lie in [0, n] = [0, {n}] (NaN is refused); distances between "
                         f"{n}-bit vectors lie between 0 and {n}")
    cos = 1.0 - 2.0 * array.astype(np.float64) / n
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
    n = _check_n(n)
    array = np.asarray(cos)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"cos must be a number or an array of numbers, got {_describe(array)}; "
                        "pass cosine similarities as floats")
    if not ((array >= -1.0) & (array <= 1.0)).all():
        raise ValueError("cos must lie in [-1, 1] (NaN is refused); clip rounding errors with "
                         "np.clip(cos, -1, 1)")
    h = np.rint(n * (1.0 - array.astype(np.float64)) / 2.0).astype(np.int64)
    return int(h) if h.ndim == 0 else h


# ---------------------------------------------------------------------------
# SDM weights (pattern view: infinitely many neurons)
# ---------------------------------------------------------------------------


def sdm_weights(n: int, d: int, distances: npt.ArrayLike) -> np.ndarray:
    """Read weights of the pattern-view SDM: ``I(h_μ) / Σ_ν I(h_ν)``.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    distances : array_like of int, shape (..., N)
        Hamming distances from a query to each of ``N`` patterns, in ``[0, n]``.

    Returns
    -------
    ndarray of float64, shape (..., N)
        Weights proportional to the ball intersections, summing to 1 along the
        last axis. A row whose patterns are all farther than ``2d`` (so every
        ``I(h) = 0``: no neuron is shared) is all zeros.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer or ``distances`` is not integer.
    ValueError
        If ``n < 1``, ``d`` is outside ``[0, n]``, ``distances`` is empty along the
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
    n = _check_n(n)
    d = check_int(d, "radius d", 0, n, hint="choose a radius between 0 and n")
    distances = _check_distances(distances, n)
    return _normalise_log_weights(theory.log_intersection(n, d, np.arange(n + 1))[distances])


def cap_weights(n: int, d: float, cosines: npt.ArrayLike) -> np.ndarray:
    """Read weights of the continuous pattern-view SDM (hyperspherical caps).

    Parameters
    ----------
    n : int
        Dimension of the vectors (``n >= 2``; the sphere is ``S^{n−1}``).
    d : float
        Radius in bit units, in ``[0, n]``: a neuron is activated by ``x`` when
        ``cos(x, a) >= 1 − 2d/n``.
    cosines : array_like of float, shape (..., N)
        Cosine similarities between a query and each of ``N`` keys, in ``[-1, 1]``.

    Returns
    -------
    ndarray of float64, shape (..., N)
        Weights proportional to the cap intersections, summing to 1 along the
        last axis; all zeros where no key's cap meets the query's.

    Raises
    ------
    TypeError
        If ``n`` is not an integer, ``d`` not a real number or ``cosines`` not numeric.
    ValueError
        If ``n < 2``, ``d`` is outside ``[0, n]``, ``cosines`` is empty along the
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
    n = _check_n(n, minimum=2)
    d = _check_cap_radius(d, n)
    cosines = _check_cosines(cosines)
    log_areas = theory.log_cap_intersection(n, d, cosines.ravel()).reshape(cosines.shape)
    return _normalise_log_weights(log_areas)


def _log_weight_table(n: int, radius, beta) -> np.ndarray:
    """``log w(h)`` for ``h = 0..n``, up to a constant: log I(h) or β cos(h)."""
    if beta is None or (isinstance(beta, str) and beta == "fit"):
        if radius is None:
            raise ValueError("radius is required for SDM weights (beta=None) and for "
                             "beta='fit', got None; pass radius=<activation radius>, or give "
                             "a numeric beta for plain softmax weights")
        minimum = 0 if beta is None else 2  # a β fit needs the points h = 0, 1
        d = check_int(radius, "radius", minimum, n,
                      hint=f"choose a radius between {minimum} and n_bits"
                           + (" (fit_beta needs h = 0..d-1, at least two points)"
                              if minimum else ""))
        if beta is None:
            return theory.log_intersection(n, d, np.arange(n + 1))
        beta = theory.fit_beta(n, d)
    elif radius is not None:
        check_int(radius, "radius", 0, n, hint="choose a radius between 0 and n_bits")
    if isinstance(beta, str):
        raise ValueError(f"beta must be a positive number, 'fit' or None, got {beta!r}; "
                         "use beta='fit' for theory.fit_beta(n_bits, radius)")
    return _check_beta(beta) * hamming_to_cosine(np.arange(n + 1), n)


def _bipolar_sums(weights: np.ndarray, values: np.ndarray, n_value_bits: int) -> np.ndarray:
    """``Σ_μ w_μ (2 v_μ − 1)`` with ``values`` unpacked in blocks of patterns."""
    step = max(1, BLOCK_BYTES // (8 * n_value_bits))
    sums = np.zeros((weights.shape[0], n_value_bits))
    for start in range(0, values.shape[0], step):
        bits = unpack_bits(values[start : start + step], n_value_bits).astype(np.float64)
        sums += weights[:, start : start + step] @ (2.0 * bits - 1.0)
    return sums


def _pattern_read_once(Q, keys, values, n_value_bits, table, keep_ties):
    """One pattern-view read of packed queries ``Q`` (2-D), in blocks of queries."""
    n_keys = keys.shape[0]
    out = np.empty((Q.shape[0], values.shape[1]), dtype=np.uint64)
    step = max(1, BLOCK_BYTES // (8 * n_keys))
    for start in range(0, Q.shape[0], step):
        block = Q[start : start + step]
        weights = _normalise_log_weights(table[hamming_distances(block, keys)])
        sums = _bipolar_sums(weights, values, n_value_bits)
        # A vote counts as a tie when it is within the rounding error of a sum of
        # n_keys weights totalling 1 (or exactly 0 when no pattern has weight):
        # exactly balanced votes must not be decided by rounding noise.
        tol = 2.0 * n_keys * _EPS * weights.sum(axis=1, keepdims=True)
        bits = (sums > tol).astype(np.uint8)
        if keep_ties:
            tie = np.abs(sums) <= tol
            bits[tie] = unpack_bits(block, n_value_bits)[tie]
        out[start : start + step] = pack_bits(bits)
    return out


def sdm_pattern_read(queries: np.ndarray, keys: np.ndarray, values: np.ndarray | None = None,
                     *, n_bits: int, radius: int | None = None, iterations: int = 1,
                     beta: float | str | None = None, return_info: bool = False,
                     n_value_bits: int | None = None) -> np.ndarray | tuple[np.ndarray, ReadInfo]:
    """Read an SDM with infinitely many neurons, given its stored patterns.

    Parameters
    ----------
    queries : ndarray of uint64, shape (W,) or (q, W)
        Packed queries (:func:`fastsdm.pack_bits`), ``W = ceil(n_bits / 64)``.
    keys : ndarray of uint64, shape (N, W)
        Packed addresses at which the ``N >= 1`` patterns were written.
    values : ndarray of uint64, shape (N, Wv), optional
        Packed data written at each key. ``None`` (default) is autoassociative:
        ``values = keys``.
    n_bits : int
        Bits per query and key.
    radius : int, optional
        Activation radius ``d`` in ``[0, n_bits]``. Required for SDM weights
        (``beta=None``) and for ``beta="fit"`` (then in ``[2, n_bits]``); only
        validated when ``beta`` is a number.
    iterations : int, default 1
        Maximum number of reads. With ``iterations > 1`` each result is read
        again, and each query stops as soon as a read returns its input (a
        fixed point), as in :meth:`fastsdm.SDM.read`. Needs values as wide as
        the keys.
    beta : float, "fit" or None, default None
        ``None``: weights ``∝ I(h_μ)`` (the SDM). A number: the attention
        approximation, weights ``softmax(β cos_μ)`` with ``cos_μ = 1 − 2h_μ/n``.
        ``"fit"``: that with ``β = theory.fit_beta(n_bits, radius)`` (paper method).
    return_info : bool, default False
        Also return a :class:`fastsdm.ReadInfo` (steps taken, converged).
    n_value_bits : int, optional
        Bits per value (default ``n_bits``).

    Returns
    -------
    result : ndarray of uint64, shape (Wv,) or (q, Wv)
        The packed read.
    info : fastsdm.ReadInfo
        Only with ``return_info=True``. ``converged`` is the fixed-point test
        (for ``iterations=1``: the read equals the query; always False when the
        values are not as wide as the keys).

    Raises
    ------
    TypeError
        If an array is not ``uint64`` words, an integer argument is not an
        integer or ``beta`` has the wrong type.
    ValueError
        If word counts, pad bits, row counts or dimensions are wrong, ``radius``
        is missing or out of range, ``beta`` is not positive, or
        ``iterations > 1`` with values narrower or wider than the keys.

    See Also
    --------
    sdm_weights : The weights.
    softmax_attention : Attention on real vectors.
    fastsdm.SDM.read : A finite SDM with real hard locations.

    Notes
    -----
    For each query ``q`` with distances ``h_μ`` to the keys,

    .. math:: s = \\sum_\\mu w_\\mu (2 v_\\mu - 1), \\qquad
              \\hat v_j = [s_j > 0],

    with ``w_μ = I(h_μ)/Σ_ν I(h_ν)`` (:func:`sdm_weights`) or, with ``beta``,
    ``w_μ = softmax_μ(β cos_μ)``: the SDM read with infinitely many neurons
    and its attention approximation (Bricken & Pehlevan 2021, §3). Ties
    ``s_j = 0`` keep the query's bit in autoassociative reads (``values=None``)
    and read 0 otherwise; sums within the rounding error of zero (``2Nε``
    relative to the total weight) count as ties. When every key is farther than
    ``2d`` from the query, every ``I(h_μ) = 0`` and every bit is a tie: an
    autoassociative read returns the query itself (a fixed point), a
    heteroassociative read returns zeros.

    Queries are processed in blocks, and the values unpacked in blocks of
    patterns, so that no temporary exceeds :data:`BLOCK_BYTES` whatever the
    number of patterns; distances come from :func:`fastsdm.hamming_distances`.

    Examples
    --------
    >>> import fastsdm
    >>> from fastsdm.attention import sdm_pattern_read
    >>> patterns = fastsdm.random_addresses(100, 64, seed=0)
    >>> cues = fastsdm.flip_bits(patterns[:5], 64, 8, seed=1)
    >>> out, info = sdm_pattern_read(cues, patterns, n_bits=64, radius=11, iterations=10,
    ...                              return_info=True)
    >>> fastsdm.hamming_distances(out, patterns[:5]).diagonal()
    array([0, 0, 0, 0, 0], dtype=int32)
    >>> bool(info.converged.all())
    True
    >>> out = sdm_pattern_read(cues, patterns, n_bits=64, radius=11, beta="fit")
    >>> fastsdm.hamming_distances(out, patterns[:5]).diagonal()
    array([0, 0, 0, 0, 0], dtype=int32)
    """
    n_bits = check_int(n_bits, "n_bits", 1, hint="pass the length of the binary vectors")
    keys = check_words(keys, "keys", n_bits, ndim=(2,))
    if keys.shape[0] == 0:
        raise ValueError(f"keys is empty ({_describe(keys)}); store at least one pattern")
    Q = check_words(queries, "queries", n_bits)
    single = Q.ndim == 1
    Q = np.atleast_2d(Q)
    if Q.shape[0] == 0:
        raise ValueError(f"queries is empty ({_describe(Q)}); pass at least one query")
    autoassociative = values is None
    if autoassociative:
        if n_value_bits is not None and n_value_bits != n_bits:
            raise ValueError(f"n_value_bits={n_value_bits!r} was given without values; an "
                             f"autoassociative read returns n_bits={n_bits} bits, so drop "
                             "n_value_bits or pass values")
        n_value_bits, values = n_bits, keys
    else:
        n_value_bits = n_bits if n_value_bits is None else check_int(
            n_value_bits, "n_value_bits", 1, hint="pass the length of the value vectors")
        values = check_words(values, "values", n_value_bits, ndim=(2,))
        _check_rows(values, keys.shape[0], "values", "keys")
    iterations = check_int(iterations, "iterations", 1,
                           hint="pass the maximum number of reads, e.g. iterations=10")
    if iterations > 1 and n_value_bits != n_bits:
        raise ValueError("iterated reads feed the result back as a query and need values as "
                         f"wide as the keys, got n_value_bits={n_value_bits} != "
                         f"n_bits={n_bits}; use iterations=1")
    table = _log_weight_table(n_bits, radius, beta)

    def read(words):
        return _pattern_read_once(words, keys, values, n_value_bits, table, autoassociative)

    steps = np.zeros(Q.shape[0], dtype=np.int64)
    converged = np.zeros(Q.shape[0], dtype=bool)
    if iterations == 1:
        current = read(Q)
        steps[:] = 1
        if n_value_bits == n_bits:
            converged[:] = (current == Q).all(axis=1)
    else:
        current = Q.copy()
        active = np.arange(Q.shape[0])
        for _ in range(iterations):
            nxt = read(current[active])
            steps[active] += 1
            fixed = (nxt == current[active]).all(axis=1)
            current[active] = nxt
            converged[active[fixed]] = True
            active = active[~fixed]
            if active.size == 0:
                break
    result = current[0] if single else current
    return (result, ReadInfo(steps, converged)) if return_info else result


def _cosine_weigher(n: int, radius, beta):
    """A function cosines (b, N) -> weights (b, N), for cap or softmax weights."""
    if beta is None or (isinstance(beta, str) and beta == "fit"):
        if radius is None:
            raise ValueError("radius is required for cap weights (beta=None) and for "
                             "beta='fit', got None; pass radius=<radius in bit units>, or "
                             "give a numeric beta for plain softmax weights")
        radius = _check_cap_radius(radius, n)
        if beta is None:
            return lambda cos: cap_weights(n, radius, cos)
        beta = theory.fit_cap_beta(n, round(radius))
    elif radius is not None:
        _check_cap_radius(radius, n)
    if isinstance(beta, str):
        raise ValueError(f"beta must be a positive number, 'fit' or None, got {beta!r}; "
                         "use beta='fit' for theory.fit_cap_beta(n, round(radius))")
    beta = _check_beta(beta)
    return lambda cos: _softmax_rows(cos, beta)


def continuous_pattern_read(queries: npt.ArrayLike, keys: npt.ArrayLike,
                            values: npt.ArrayLike | None = None, *, radius: float | None = None,
                            n: int | None = None, beta: float | str | None = None,
                            iterations: int = 1) -> np.ndarray:
    """Read a continuous SDM with infinitely many neurons, given its stored patterns.

    Parameters
    ----------
    queries : array_like, shape (d,) or (m, d)
        Real query vectors; each is L2-normalised (zero, NaN or inf refused).
    keys : array_like, shape (N, d)
        Real key vectors; each is L2-normalised (zero, NaN or inf refused).
    values : array_like, shape (N, dv), optional
        Real values, used as given. ``None`` (default) is autoassociative:
        ``values`` are the normalised keys.
    radius : float, optional
        Radius in bit units, in ``[0, n]``: a neuron at ``a`` is activated by
        ``x`` when ``cos(x, a) >= 1 − 2·radius/n``. Required for cap weights
        (``beta=None``) and ``beta="fit"``; only validated when ``beta`` is a number.
    n : int, optional
        Dimension used for the cap geometry (default: the vectors' width ``d``).
    beta : float, "fit" or None, default None
        ``None``: weights ``∝`` cap intersection. A number: ``softmax(β cos_μ)``.
        ``"fit"``: ``β = theory.fit_cap_beta(n, round(radius))``, the β fitted to
        the cap intersections themselves (the authors' "CFit"; until fastsdm
        0.1.0 this was the binary ``fit_beta``, 15.85 instead of 21.54 at
        ``n = 64``, ``radius = 11``).
    iterations : int, default 1
        Number of reads; ``> 1`` only for autoassociative reads. Iteration stops
        early once no query moves by more than ``1e-12``.

    Returns
    -------
    ndarray of float64, shape (dv,) or (m, dv)
        ``Σ_μ w_μ v_μ``. Autoassociative reads are normalised to unit length
        (each read is a point on the sphere, the next query); a query that no
        key's cap meets (all weights 0) is returned unchanged.

    Raises
    ------
    TypeError
        If an array is not real-valued or an argument has the wrong type.
    ValueError
        If a shape is wrong, widths or row counts differ, a vector is zero or
        not finite, ``radius``/``beta`` is missing or out of range, or
        ``iterations > 1`` with explicit values.

    See Also
    --------
    cap_weights : The weights.
    softmax_attention : With ``normalize=True``, the same read for a given β.
    sdm_pattern_read : The binary version.

    Notes
    -----
    .. math:: \\hat v = \\sum_\\mu w_\\mu v_\\mu, \\qquad
              w_\\mu = \\frac{A(\\cos_\\mu)}{\\sum_\\nu A(\\cos_\\nu)}
              \\;\\text{or}\\; \\operatorname{softmax}_\\mu(\\beta \\cos_\\mu),

    with ``A`` the area of two intersecting caps (:func:`cap_weights`;
    Bricken & Pehlevan 2021, App. A). The softmax form equals
    :func:`softmax_attention` with Query-Key Normalization (Henry et al. 2020).
    Cap weights cost one quadrature per query-key pair whose caps meet.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsdm.attention import continuous_pattern_read
    >>> rng = np.random.default_rng(0)
    >>> keys = rng.standard_normal((50, 64))
    >>> cue = keys[3] + 0.5 * rng.standard_normal(64)
    >>> out = continuous_pattern_read(cue, keys, radius=11, iterations=3)
    >>> int(np.argmax(keys @ out)), bool(np.linalg.norm(out).round(12) == 1)
    (3, True)
    >>> out = continuous_pattern_read(cue, keys, beta=30.0, iterations=5)
    >>> round(float(out @ keys[3] / np.linalg.norm(keys[3])), 3)
    1.0
    """
    fix = "drop it: continuous SDM vectors live on the unit sphere"
    keys = _unit_rows(_real_array(keys, "keys", (2,), "(N, d)"), "keys", fix)
    Q = _real_array(queries, "queries", (1, 2), "(d,) or (m, d)")
    _check_width(Q, "queries", keys, "keys")
    single = Q.ndim == 1
    Q = _unit_rows(np.atleast_2d(Q), "queries", fix)
    n = keys.shape[1] if n is None else _check_n(n, minimum=2)
    autoassociative = values is None
    if autoassociative:
        values = keys
    else:
        values = _real_array(values, "values", (2,), "(N, dv)")
        _check_rows(values, keys.shape[0], "values", "keys")
    iterations = check_int(iterations, "iterations", 1,
                           hint="pass the number of reads, e.g. iterations=5")
    if iterations > 1 and not autoassociative:
        raise ValueError(f"iterations={iterations} needs an autoassociative read (values=None): "
                         "the read is fed back as a query; use iterations=1 with values")
    weigh = _cosine_weigher(n, radius, beta)
    step = max(1, BLOCK_BYTES // (8 * keys.shape[0]))
    current = Q
    for _ in range(iterations):
        out = np.empty((Q.shape[0], values.shape[1]))
        for start in range(0, Q.shape[0], step):
            block = current[start : start + step]
            # Rounding can push |cos| a hair past 1 for (nearly) parallel vectors.
            cos = np.clip(block @ keys.T, -1.0, 1.0)
            out[start : start + step] = weigh(cos) @ values
        if not autoassociative:
            return out[0] if single else out
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = np.where(norms > 0.0, out / np.where(norms > 0.0, norms, 1.0), current)
        moved = np.abs(out - current).max()
        current = out
        if moved <= 1e-12:
            break
    return current[0] if single else current


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
    finite; ``p(h) = 0`` for ``h > 2d`` contributes 0.

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
    n = _check_n(n, minimum=2)
    method = check_choice(method, "method", ("paper", "ols"))
    if beta is None:
        d = check_int(d, "radius d", 2, n, hint="fitting beta needs h = 0..d-1, at least "
                                               "two points; choose a radius between 2 and n "
                                               "or pass beta")
        beta = theory.fit_beta(n, d, method)
    else:
        d = check_int(d, "radius d", 0, n, hint="choose a radius between 0 and n")
        beta = _check_beta(beta)
    h = np.arange(n + 1) if h is None else _check_distances(h, n)
    if h.ndim != 1:
        raise ValueError(f"h must be a 1-D array of distances, got {_describe(h)}; "
                         "flatten it with np.ravel(h)")
    h = h.astype(np.int64)
    log_p = theory.log_intersection(n, d, np.arange(n + 1))[h]
    if np.all(log_p == -np.inf):
        raise ValueError(f"every distance in h exceeds 2d = {2 * d}, so I(h) = 0 and the SDM "
                         "curve is all zeros; include distances <= 2d")
    log_q = beta * hamming_to_cosine(h, n)
    log_p = log_p - np.logaddexp.reduce(log_p)
    log_q = log_q - np.logaddexp.reduce(log_q)
    p, q = np.exp(log_p), np.exp(log_q)
    support = p > 0.0
    diff = np.abs(p - q)
    kl = float(np.sum(p[support] * (log_p[support] - log_q[support])))
    return WeightComparison(h, p, q, float(beta), float(diff.max()), float(0.5 * diff.sum()), kl)


# ---------------------------------------------------------------------------
# β learned by Query-Key Normalization Transformers
# ---------------------------------------------------------------------------


def _parse_betas(lines) -> np.ndarray:
    """Rows of the β table (comment lines start with '#') as a structured array."""
    rows = list(csv.reader(line for line in lines if not line.startswith("#")))
    if not rows or rows[0] != _BETA_HEADER:
        raise ValueError(f"the learned-beta table must start with the header "
                         f"{','.join(_BETA_HEADER)}, got {rows[0] if rows else 'no rows'}; "
                         "the installed data file is damaged, reinstall fastsdm")
    body = rows[1:]
    if any(len(row) != 3 for row in body):
        raise ValueError("every row of the learned-beta table must have 3 fields "
                         "(task, module, beta); the installed data file is damaged, "
                         "reinstall fastsdm")
    tasks = np.array([row[0] for row in body])
    modules = np.array([row[1] for row in body])
    table = np.empty(len(body), dtype=[("task", tasks.dtype), ("module", modules.dtype),
                                       ("beta", np.float64)])
    table["task"], table["module"] = tasks, modules
    table["beta"] = [float(row[2]) for row in body]
    return table


def load_learned_betas() -> np.ndarray:
    """The β learned by Query-Key Normalization Transformers.

    Returns
    -------
    ndarray, structured, fields ``task`` (str), ``module`` (str), ``beta`` (float64)
        One row per attention module of the published models (90 rows).

    Raises
    ------
    ValueError
        If the packaged data file is damaged.

    See Also
    --------
    learned_beta_summary : Compared with the optimal SDM β.

    Notes
    -----
    Henry et al. (2020) L2-normalise queries and keys and learn the softmax
    inverse temperature β of every attention module. The values are those
    published with the code of Bricken & Pehlevan (2021, MIT licence), for
    translation models on ar-en, en-he, gl-en and sk-en, plus an unlabelled
    first block (``task = "unnamed"``). The file ships as
    ``fastsdm/data/qknorm_learned_betas.csv`` and is read with
    :mod:`importlib.resources` and :mod:`csv`.

    Examples
    --------
    >>> from fastsdm.attention import load_learned_betas
    >>> betas = load_learned_betas()
    >>> betas.size, sorted(set(betas["task"].tolist()))
    (90, ['ar-en', 'en-he', 'gl-en', 'sk-en', 'unnamed'])
    >>> round(float(betas["beta"].mean()), 1)
    15.6
    """
    source = resources.files("fastsdm").joinpath("data", _BETA_FILE)
    with source.open("r", encoding="utf-8", newline="") as lines:
        return _parse_betas(lines)


def learned_beta_summary(n: int = 64, n_locations: float = 2**64,
                         n_patterns: float = 1024) -> LearnedBetaSummary:
    """Place the learned Query-Key Normalization β against the optimal SDM β.

    Parameters
    ----------
    n : int, default 64
        Number of bits (the attention head dimension of the models).
    n_locations : float, default 2**64
        Number of SDM neurons ``r``.
    n_patterns : float, default 1024
        Number of stored patterns ``m`` (the context length).

    Returns
    -------
    LearnedBetaSummary
        The learned β with their mean, min and max; the radii and β of the
        critical-distance, SNR and memory optima; and the fraction of learned β
        between ``β_CD`` and ``β_Mem``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range, or an optimal radius is below 2 (no β fit).

    See Also
    --------
    load_learned_betas, fastsdm.theory.optimal_radius, fastsdm.theory.fit_beta

    Notes
    -----
    ``β_X = fit_beta(n, optimal_radius(n, r, m, X))`` for ``X`` in critical
    distance, SNR and memory. For the defaults (``n = 64``, ``r = 2^64``,
    ``m = 1024``) the radii are 15, 11 and 5 and ``β_CD ≈ 10.1``,
    ``β_SNR ≈ 15.9``, ``β_Mem ≈ 35.5``; the learned β (mean ≈ 15.6) all lie
    between the two extremes, Bricken & Pehlevan's (2021) observation that
    Transformers learn SDM-optimal temperatures.

    Examples
    --------
    >>> from fastsdm.attention import learned_beta_summary
    >>> s = learned_beta_summary()
    >>> round(s.mean, 2), round(s.beta_cd, 1), round(s.beta_snr, 1), round(s.beta_mem, 1)
    (15.65, 10.1, 15.9, 35.5)
    >>> s.fraction_between
    1.0
    """
    radii = {c: theory.optimal_radius(n, n_locations, n_patterns, c)
             for c in ("critical_distance", "snr", "memory")}
    beta = {c: theory.fit_beta(n, d) for c, d in radii.items()}
    betas = load_learned_betas()["beta"].copy()
    low, high = sorted((beta["critical_distance"], beta["memory"]))
    return LearnedBetaSummary(
        betas=betas,
        mean=float(betas.mean()),
        min=float(betas.min()),
        max=float(betas.max()),
        radius_cd=radii["critical_distance"],
        radius_snr=radii["snr"],
        radius_mem=radii["memory"],
        beta_cd=beta["critical_distance"],
        beta_snr=beta["snr"],
        beta_mem=beta["memory"],
        fraction_between=float(np.mean((betas >= low) & (betas <= high))),
    )


# ---------------------------------------------------------------------------
# The effective β of a softmax over raw dot products
# ---------------------------------------------------------------------------

_EFFECTIVE_METHODS = ("max", "fit")


def effective_beta(queries: npt.ArrayLike, keys: npt.ArrayLike, *, scale: float | None = None,
                   method: str = "max") -> EffectiveBeta:
    """The β of ``softmax(scale · K q)`` read as a softmax over cosine similarities.

    Attention without Query-Key Normalization (GPT-2) scores key ``j`` by
    ``s_j = scale · q·k_j = (scale ‖q‖ ‖k_j‖) · cos(q, k_j)``. Bricken &
    Pehlevan (2021, §3) ask which β the same softmax has when written as
    ``softmax(β cos)`` over L2-normalised vectors, to compare it with the β of
    the optimal SDM radii. This function answers for arrays you bring (one
    attention head: its queries and the keys they attend over); it downloads
    nothing.

    Parameters
    ----------
    queries : array_like, shape (d,) or (m, d)
        Query vectors, as they enter the dot product (real, finite).
    keys : array_like, shape (N, d)
        Key vectors (real, finite). For causal attention pass, for each query,
        the keys it may see (e.g. the last token's query against all keys, as
        the paper does).
    scale : float, optional
        The factor multiplying ``q·k`` inside the softmax; default
        ``1/sqrt(d)``, that of scaled dot-product attention (GPT-2's head
        dimension 64 gives 1/8). Pass the learned gain for a QK-normalised model.
    method : {"max", "fit"}, default "max"
        ``"max"``, the paper's: ``per_query = max_j s_j`` and ``beta`` its
        maximum over queries. ``"fit"``: ``per_query`` is the least-squares
        slope of ``s_j`` on ``cos(q, k_j)`` with an intercept, and ``beta`` the
        slope pooled over all queries (each with its own intercept).

    Returns
    -------
    EffectiveBeta
        ``beta``, ``per_query``, ``method`` and ``scale``.

    Raises
    ------
    TypeError
        If an array is not real-valued or ``scale`` is not a real number.
    ValueError
        If a shape is wrong, the widths differ, an array holds NaN or infinities,
        ``scale`` is not positive, ``method`` is unknown, the dot products
        overflow, or (``"fit"``) a vector is zero or no query sees two keys at
        different cosines.

    See Also
    --------
    learned_beta_summary : The β learned by QK-normalised Transformers.
    fastsdm.theory.fit_beta : The β of an SDM radius.
    softmax_weights : ``softmax_weights(q, K, eff.beta, normalize=True)``.

    Notes
    -----
    **"max"** (Bricken & Pehlevan 2021, §3 and their GPT-2 analysis). Since
    ``cos <= 1``, scores ``s_j = β_j cos_j`` can only be written with one β
    if ``β >= max_j s_j``; taking ``β = max_j s_j`` assumes the best-matching
    key is nearly parallel to the query, and the paper reports, per head, the
    maximum over its inputs. It is a lower bound on the β the scores need, and
    an estimate of it when some key aligns with the query.

    **"fit"**. A softmax ignores a constant added to all the scores of one
    query, so ``softmax(s) = softmax(β cos)`` exactly when
    ``s_j = β cos_j + c`` for all ``j``. The least-squares β of
    ``s_j ≈ β cos_j + c_q`` minimises the squared error of the log-weights
    (up to their per-query constants). When every query and every key has the
    same norm it is exact, ``β = scale ‖q‖ ‖k‖``, and the two softmaxes are
    identical; with varying norms it is the best single β in that sense.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsdm.attention import effective_beta
    >>> rng = np.random.default_rng(0)
    >>> directions = rng.standard_normal((20, 64))
    >>> directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    >>> keys = 12.0 * directions                       # ‖k‖ = 12
    >>> queries = 10.0 * directions[:5]                # ‖q‖ = 10, parallel to keys 0..4
    >>> round(effective_beta(queries, keys).beta, 6)   # (1/8)·10·12, the paper's max
    15.0
    >>> round(effective_beta(queries, keys, method="fit").beta, 6)
    15.0
    """
    K = _real_array(keys, "keys", (2,), "(N, d)")
    Q = _real_array(queries, "queries", (1, 2), "(d,) or (m, d)")
    _check_width(Q, "queries", K, "keys")
    Q = np.atleast_2d(Q)
    method = check_choice(method, "method", _EFFECTIVE_METHODS)
    scale = 1.0 / math.sqrt(K.shape[1]) if scale is None else _check_scale(scale)
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, with a fix
        scores = scale * (Q @ K.T)
    if not np.isfinite(scores).all():
        raise ValueError("the scores scale·q·k overflowed float64; rescale the queries and "
                         "keys (the estimate scales with their norms)")
    if method == "max":
        per_query = scores.max(axis=1)
        return EffectiveBeta(float(per_query.max()), per_query, method, float(scale))
    fix = "drop it: its cosine with the keys is undefined (or use method='max')"
    cos = np.clip(_unit_rows(Q, "queries", fix) @ _unit_rows(K, "keys", fix).T, -1.0, 1.0)
    cos_c = cos - cos.mean(axis=1, keepdims=True)
    scores_c = scores - scores.mean(axis=1, keepdims=True)
    spread = np.einsum("ij,ij->i", cos_c, cos_c)
    covariance = np.einsum("ij,ij->i", cos_c, scores_c)
    resolved = spread > 1e-12 * K.shape[0]
    if not resolved.any():
        raise ValueError(f"method='fit' needs, for some query, two keys at different cosines, "
                         f"got {K.shape[0]} key(s) all at the same cosine from every query; "
                         "pass more keys or use method='max'")
    per_query = np.full(Q.shape[0], np.nan)
    per_query[resolved] = covariance[resolved] / spread[resolved]
    beta = float(covariance[resolved].sum() / spread[resolved].sum())
    return EffectiveBeta(beta, per_query, method, float(scale))


def _check_scale(scale) -> float:
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a positive real number, got {scale!r} of type "
                        f"{type(scale).__name__}; pass e.g. scale=1/np.sqrt(64) (GPT-2)")
    if not 0.0 < float(scale) < math.inf:
        raise ValueError(f"scale must be a positive finite number, got {scale!r}; pass the "
                         "factor that multiplies q·k inside the softmax, e.g. 1/np.sqrt(64)")
    return float(scale)

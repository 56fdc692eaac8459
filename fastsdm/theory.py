"""Theory of Sparse Distributed Memory: exact counts, probabilities, radii and β.

Everything here is a closed form or a one-dimensional sum/integral from the
literature, implemented so that it stays exact (Python integers) or accurate
(log space, sums of positive terms only) for any dimension:

* ball sizes and ball intersections in ``{0,1}^n`` (Kanerva 1988),
* activation probabilities and the radius ↔ probability conversion,
* the exponential fit ``I(h) ≈ c1·exp(−c2·h)`` that links the SDM read to
  softmax attention with ``β = c2·n/2`` (Bricken & Pehlevan 2021),
* the optimal radii for signal-to-noise ratio (Kanerva 1993), memory capacity
  and critical distance,
* one read of a finite memory: the exact moments of the signal, the self-bias
  of autoassociative storage and the crosstalk over the binomial distribution
  of distances, and the bit-error, exact-recall and critical-distance
  predictions built on them (three models: autoassociative,
  heteroassociative, and Bricken & Pehlevan's),
* hyperspherical caps and their intersections for the continuous SDM
  (Lee & Kim 2014), and the β fitted to them.

References
----------
.. [1] P. Kanerva, *Sparse Distributed Memory*, MIT Press, 1988.
.. [2] P. Kanerva, "Sparse distributed memory and related models", in
   *Associative Neural Memories*, M. H. Hassoun (ed.), Oxford University
   Press, 1993, pp. 50–76.
.. [3] T. Bricken and C. Pehlevan, "Attention approximates sparse distributed
   memory", NeurIPS 2021, arXiv:2111.05498.
.. [4] Y. Lee and W. C. Kim, "Concise formulas for the surface area of the
   intersection of two hyperspherical caps", KAIST technical report, 2014.
"""

from __future__ import annotations

import math
import numbers
import statistics
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from fastsdm._jit import jit

__all__ = [
    "READ_MODELS",
    "CriticalDistance",
    "ReadStatistics",
    "activated_std",
    "activation_probability",
    "ball_size",
    "bit_error_probability",
    "cap_fraction",
    "cap_intersection",
    "capacity",
    "critical_distance",
    "exact_recall_probability",
    "expected_activated",
    "expected_cap_neurons",
    "expected_intersection",
    "fit_beta",
    "fit_cap_beta",
    "intersection",
    "intersection_fraction",
    "log_ball_size",
    "log_cap_fraction",
    "log_cap_intersection",
    "log_intersection",
    "optimal_probability",
    "optimal_radius",
    "radius_for_beta",
    "radius_for_probability",
    "read_statistics",
    "snr",
]

_LOG2 = math.log(2.0)
_BETA_METHODS = ("paper", "ols")
_CRITERIA = ("snr", "memory", "critical_distance")
_ROUNDINGS = ("paper", "argmax")


# ---------------------------------------------------------------------------
# Input checks: one message each, saying what was expected, what was received
# and how to fix it.
# ---------------------------------------------------------------------------


def _is_int(value) -> bool:
    # bool is an Integral, but True as a dimension is always a mistake.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_n(n, *, minimum: int = 1, why: str = "") -> int:
    if not _is_int(n):
        raise TypeError(
            f"n (the number of bits) must be an integer, got {n!r} of type "
            f"{type(n).__name__}; pass a whole number such as n=1000"
        )
    n = int(n)
    if n < minimum:
        raise ValueError(
            f"n (the number of bits) must be an integer >= {minimum}{why}, got {n}; "
            f"pass the dimension of the space, e.g. n=1000"
        )
    return n


def _check_int(value, name: str) -> int:
    if not _is_int(value):
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}; "
            f"round it with int(round({name.split()[-1]}))"
        )
    return int(value)


def _check_radius(d, n: int, *, minimum: int = 0) -> int:
    d = _check_int(d, "radius d")
    if not minimum <= d <= n:
        raise ValueError(
            f"radius d must be an integer in [{minimum}, n] = [{minimum}, {n}], got {d}; "
            f"choose a radius between {minimum} and n_bits"
        )
    return d


def _check_real_radius(d, n: int) -> float:
    if isinstance(d, bool) or not isinstance(d, numbers.Real):
        raise TypeError(
            f"radius d must be a real number, got {d!r} of type {type(d).__name__}; "
            f"pass the cosine threshold as d = n * (1 - cos) / 2"
        )
    d = float(d)
    if not 0.0 <= d <= n:
        raise ValueError(
            f"radius d must be in [0, n] = [0, {n}], got {d}; "
            f"choose a radius between 0 and n_bits (cosine threshold 1 - 2d/n in [-1, 1])"
        )
    return d


def _check_distances(h, n: int) -> tuple[np.ndarray, bool]:
    """Hamming distances as an int64 array, and whether ``h`` was a scalar."""
    arr = np.asarray(h)
    if arr.size == 0:
        arr = arr.astype(np.int64)  # [] arrives as float64
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"Hamming distance h must be an integer or an array of integers, got dtype "
            f"{arr.dtype}; convert with np.rint(h).astype(int) (h = n(1 - cos)/2, rounded)"
        )
    # Checked in the given dtype: uint64 values past the int64 range must not wrap.
    bad = arr[(arr < 0) | (arr > n)]
    if bad.size:
        raise ValueError(
            f"Hamming distance h must be in [0, n] = [0, {n}], got {bad.flat[0]}; "
            f"distances between {n}-bit vectors lie between 0 and {n}"
        )
    return arr.astype(np.int64), arr.ndim == 0


def _check_positive(value, name: str, example: str = "1_000_000") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a positive number, got {value!r} of type "
            f"{type(value).__name__}; pass a value such as {name}={example}"
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not (0.0 < number < math.inf):
        raise ValueError(
            f"{name} must be a positive finite number, got {value!r}; "
            f"pass a value such as {name}={example}"
        )
    return number


def _check_probability(p, name: str, *, allow_one: bool = True) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(
            f"{name} must be a probability (a real number), got {p!r} of type "
            f"{type(p).__name__}; pass a float such as {name}=0.001"
        )
    upper_ok = float(p) <= 1.0 if allow_one else float(p) < 1.0
    if not (float(p) > 0.0 and upper_ok):
        interval = "(0, 1]" if allow_one else "(0, 1)"
        raise ValueError(
            f"{name} must be a probability in {interval}, got {p!r}; "
            f"pass a value such as {name}=0.001"
        )
    return float(p)


def _check_choice(value, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}; "
            f"pick one of these spellings"
        )
    return value


# ---------------------------------------------------------------------------
# Exact integers
# ---------------------------------------------------------------------------


def ball_size(n: int, d: int) -> int:
    """Number of points of ``{0,1}^n`` within Hamming distance ``d`` of a point.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Radius (inclusive). Any integer: ``d < 0`` gives 0 and ``d >= n`` gives ``2**n``.

    Returns
    -------
    int
        ``|O_n(d)| = sum_{k <= d} C(n, k)``, an exact Python integer.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer.
    ValueError
        If ``n < 1``.

    See Also
    --------
    log_ball_size : The natural logarithm, for very large ``n``.
    activation_probability : ``|O_n(d)| / 2**n``.

    Notes
    -----
    :math:`|O_n(d)| = \\sum_{k=0}^{d} \\binom{n}{k}` (Kanerva 1988, ch. 3). The
    binomials are built with the exact recurrence ``C(n,k+1) = C(n,k)(n-k)/(k+1)``.

    Examples
    --------
    >>> from fastsdm.theory import ball_size
    >>> ball_size(1000, 451) * 10**6 // 2**1000
    1071
    >>> ball_size(5, 2), ball_size(5, -1), ball_size(5, 9)
    (16, 0, 32)
    """
    n = _check_n(n)
    d = _check_int(d, "radius d")
    if d < 0:
        return 0
    if d >= n:
        return 1 << n
    total = term = 1
    for k in range(d):
        term = term * (n - k) // (k + 1)
        total += term
    return total


def _ball_sizes(n: int) -> list[int]:
    """``[|O_n(0)|, |O_n(1)|, ..., |O_n(n)|]`` exactly."""
    sizes, total, term = [], 0, 1
    for k in range(n + 1):
        total += term
        sizes.append(total)
        term = term * (n - k) // (k + 1)
    return sizes


def _exact_intersections(n: int, d: int, h_max: int) -> list[int]:
    """Exact ``I(h)`` for ``h = 0..h_max`` by Kanerva's lune form.

    I(h) = |O_n(d)| − Σ_{odd j ≤ h} C(j−1, (j−1)/2)·C(n−j, d−(j−1)/2): one pair of
    binomials per odd h, so all h cost O(n) big-integer operations.  Integers only:
    in floating point the subtraction cancels catastrophically near h = 2d.
    """
    size = ball_size(n, d)
    values, lune = [size], 0
    for h in range(1, h_max + 1):
        if h > 2 * d:  # the balls no longer meet
            values.extend([0] * (h_max + 1 - h))
            break
        if h % 2:
            k = (h - 1) // 2
            lune += math.comb(2 * k, k) * math.comb(n - h, d - k)
        values.append(size - lune)
    return values


def intersection(n: int, d: int, h: int | npt.ArrayLike) -> int | np.ndarray:
    """Exact size of the intersection of two Hamming balls of radius ``d``.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Radius of both balls, in ``[0, n]``.
    h : int or array_like of int
        Hamming distance(s) between the two centres, in ``[0, n]``.

    Returns
    -------
    int or numpy.ndarray
        ``I(h) = |O(p, d) ∩ O(q, d)|`` as an exact Python int for a scalar ``h``;
        for an array, an ``object`` array of Python ints with the shape of ``h``.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer, or ``h`` is not of integer dtype.
    ValueError
        If ``n < 1``, ``d`` is outside ``[0, n]`` or ``h`` outside ``[0, n]``.

    See Also
    --------
    log_intersection : Natural logarithm, float64, fast for any ``n``.
    intersection_fraction : ``I(h) / |O_n(d)|``.
    expected_intersection : Expected number of hard locations in the intersection.

    Notes
    -----
    The direct count is a double sum over ``i`` (coordinates where the centres
    differ and ``z`` differs from ``p``) and ``j`` (coordinates where they agree and
    ``z`` differs from both):

    .. math:: I(h) = \\sum_{i=0}^{h} \\binom{h}{i}
              \\sum_{j=0}^{\\min(d-i,\\, d-h+i,\\, n-h)} \\binom{n-h}{j}.

    This function evaluates Kanerva's equivalent "lune" form (Kanerva 1988, App. B)

    .. math:: I(h) = |O_n(d)| - \\sum_{\\text{odd } j \\le h}
              \\binom{j-1}{(j-1)/2} \\binom{n-j}{d-(j-1)/2}

    in exact integers (never in floating point: the difference cancels
    catastrophically as ``h → 2d``). Properties: ``I(0) = |O_n(d)|``,
    ``I(2k−1) = I(2k)``, ``I(2d) = C(2d, d)``, ``I(h) = 0`` for ``h > 2d``, and ``I``
    is non-increasing. All ``h = 0..n`` cost O(n) big-integer operations.

    Examples
    --------
    >>> from fastsdm.theory import ball_size, intersection
    >>> intersection(1000, 451, 0) == ball_size(1000, 451)
    True
    >>> [round(1000 * i / ball_size(1000, 451)) for i in intersection(1000, 451, [1, 100, 500])]
    [894, 267, 1]
    >>> intersection(8, 2, [3, 4, 5])
    array([6, 6, 0], dtype=object)
    """
    n = _check_n(n)
    d = _check_radius(d, n)
    hs, scalar = _check_distances(h, n)
    h_max = int(hs.max()) if hs.size else 0
    values = _exact_intersections(n, d, h_max)
    if scalar:
        return values[int(hs)]
    out = np.empty(hs.shape, dtype=object)
    for index, distance in np.ndenumerate(hs):
        out[index] = values[distance]
    return out


def intersection_fraction(n: int, d: int, h: int | npt.ArrayLike) -> float | np.ndarray:
    """Fraction of a ball of radius ``d`` shared with a ball at distance ``h``.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Radius of both balls, in ``[0, n]``.
    h : int or array_like of int
        Hamming distance(s) between the centres, in ``[0, n]``.

    Returns
    -------
    float or numpy.ndarray
        ``I(h) / |O_n(d)|`` (float64 array with the shape of ``h`` for array input).

    Raises
    ------
    TypeError
        If ``n``, ``d`` or ``h`` is not integer.
    ValueError
        If ``n < 1`` or ``d``, ``h`` are outside ``[0, n]``.

    See Also
    --------
    intersection : The exact counts.

    Notes
    -----
    Computed as a correctly rounded quotient of the exact integers (Kanerva 1988,
    Table 7.1 lists ``round(1000 · I(h)/|O(451)|)`` for the canonical memory).

    Examples
    --------
    >>> from fastsdm.theory import intersection_fraction
    >>> [round(1000 * f) for f in intersection_fraction(1000, 451, [0, 10, 50, 200])]
    [1000, 743, 445, 97]
    """
    counts = intersection(n, d, h)
    size = ball_size(n, d)
    if isinstance(counts, np.ndarray):
        return np.array([c / size for c in counts.flat], dtype=np.float64).reshape(counts.shape)
    return counts / size


def expected_intersection(
    n: int, d: int, h: int | npt.ArrayLike, n_locations: float
) -> float | np.ndarray:
    """Expected number of hard locations activated by two addresses ``h`` bits apart.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    h : int or array_like of int
        Hamming distance(s) between the two addresses, in ``[0, n]``.
    n_locations : float
        Number ``N`` of uniformly random hard locations (positive).

    Returns
    -------
    float or numpy.ndarray
        ``N · I(h) / 2**n``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range.

    See Also
    --------
    intersection, expected_activated

    Notes
    -----
    Each location lies in the intersection with probability ``I(h)/2^n``
    (Kanerva 1988; Bricken & Pehlevan 2021, eq. 2). ``N`` scales the count but
    never changes the shape of ``h ↦ I(h)`` (hence not β).

    Examples
    --------
    >>> from fastsdm.theory import expected_intersection
    >>> round(expected_intersection(1000, 451, 0, 10**6), 2)
    1071.85
    """
    n_locations = _check_positive(n_locations, "n_locations")
    counts = intersection(n, d, h)
    space = 1 << n
    if isinstance(counts, np.ndarray):
        fractions = [c / space for c in counts.flat]
        return n_locations * np.array(fractions, dtype=np.float64).reshape(counts.shape)
    return n_locations * (counts / space)


# ---------------------------------------------------------------------------
# Log space: sums of positive terms only
# ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _log_factorials(n: int) -> np.ndarray:
    """``log k!`` for ``k = 0..n`` (read-only, cached: built once per dimension)."""
    table = np.array([math.lgamma(k + 1.0) for k in range(n + 1)])
    table.flags.writeable = False
    return table


def _log_comb(lf: np.ndarray, a, b):
    return lf[a] - lf[b] - lf[a - b]


def _logsumexp(values: np.ndarray) -> float:
    top = float(np.max(values))
    if top == -math.inf:
        return top
    return top + math.log(float(np.sum(np.exp(values - top))))


@jit
def _logaddexp(a, b):
    # Scalar log(e^a + e^b) for kernels; -inf is the log of an empty sum.
    top = max(a, b)
    if top == -math.inf:
        return top
    return top + math.log1p(math.exp(min(a, b) - top))


def _log_lune_tail(lf: np.ndarray, n: int, d: int) -> np.ndarray:
    """``log I(h)`` for ``h = 0..n`` when ``2d + 1 <= n``.

    The lune terms of all odd j up to 2d+1 add up to the whole ball (the balls
    are disjoint at h = 2d+1 <= n), so I(h) is the *tail* of the lune sum,

        I(h) = Σ_{k = ceil(h/2)}^{d} C(2k, k) · C(n − 2k − 1, d − k),

    a sum of positive terms: a reverse cumulative log-sum-exp gives every h.
    """
    k = np.arange(d + 1)
    terms = _log_comb(lf, 2 * k, k) + _log_comb(lf, n - 2 * k - 1, d - k)
    tail = np.logaddexp.accumulate(terms[::-1])[::-1]
    first = (np.arange(n + 1) + 1) // 2
    out = np.full(n + 1, -np.inf)
    met = first <= d
    out[met] = tail[first[met]]
    return out


def _log_intersections(n: int, d: int) -> np.ndarray:
    """``log I(h)`` for all ``h = 0..n`` (float64, ``-inf`` where I = 0)."""
    lf = _log_factorials(n)
    if 2 * d + 1 <= n:
        return _log_lune_tail(lf, n, d)
    # Large radius: by inclusion-exclusion with the complementary balls (radius
    # n-d-1 around the complemented centres, still h apart),
    #   I_d(h) = (2|O_n(d)| - 2^n) + I_{n-d-1}(h) = Σ_{k=n-d}^{d} C(n,k) + I_{n-d-1}(h),
    # again positive terms only.
    k = np.arange(n - d, d + 1)
    base = _logsumexp(_log_comb(lf, n, k))
    small = n - d - 1
    if small < 0:
        return np.full(n + 1, base)
    return np.logaddexp(base, _log_lune_tail(lf, n, small))


def log_ball_size(n: int, d: int) -> float:
    """Natural logarithm of the Hamming-ball size ``|O_n(d)|``.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Radius; any integer (``d < 0`` gives ``-inf``, ``d >= n`` gives ``n·log 2``).

    Returns
    -------
    float
        ``log |O_n(d)|``.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer.
    ValueError
        If ``n < 1``.

    See Also
    --------
    ball_size : The exact integer.

    Notes
    -----
    ``log Σ_{k≤d} C(n,k)`` as a log-sum-exp of ``log C(n,k) = lgamma(n+1) −
    lgamma(k+1) − lgamma(n−k+1)``: positive terms only, relative error ~1e-15
    of the logarithm for any ``n``.

    Examples
    --------
    >>> import math
    >>> from fastsdm.theory import log_ball_size
    >>> round(math.exp(log_ball_size(1000, 451) - 1000 * math.log(2)), 9)
    0.001071850
    """
    n = _check_n(n)
    d = _check_int(d, "radius d")
    if d < 0:
        return -math.inf
    if d >= n:
        return n * _LOG2
    lf = _log_factorials(n)
    return _logsumexp(_log_comb(lf, n, np.arange(d + 1)))


def log_intersection(n: int, d: int, h: int | npt.ArrayLike) -> float | np.ndarray:
    """Natural logarithm of the ball intersection ``I(h)``, in floating point.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Radius of both balls, in ``[0, n]``.
    h : int or array_like of int
        Hamming distance(s) between the centres, in ``[0, n]``.

    Returns
    -------
    float or numpy.ndarray
        ``log I(h)`` (float64, same shape as ``h``); ``-inf`` where ``I(h) = 0``
        (``h > 2d``).

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer, or ``h`` is not of integer dtype.
    ValueError
        If ``n < 1``, or ``d`` or ``h`` is outside ``[0, n]``.

    See Also
    --------
    intersection : Exact integers (slower for large ``n``).

    Notes
    -----
    Sums of positive terms only, in log space (no difference of nearly equal
    floats). For ``2d + 1 <= n`` the lune terms of Kanerva's formula add up to
    ``|O_n(d)|``, so

    .. math:: I(h) = \\sum_{k=\\lceil h/2 \\rceil}^{d}
              \\binom{2k}{k}\\binom{n-2k-1}{d-k},

    and one reverse cumulative log-sum-exp gives every ``h`` in O(n). For
    ``2d + 1 > n``, inclusion-exclusion with the complementary balls gives
    ``I_d(h) = Σ_{k=n−d}^{d} C(n,k) + I_{n−d−1}(h)``. Log-binomials come from a
    cached ``math.lgamma`` table. Agrees with ``log(intersection(...))`` to
    ~1e-14 relative; a full sweep over ``d = 0..n`` at ``n = 4096`` (all ``h``) takes
    about half a second.

    Examples
    --------
    >>> import math
    >>> from fastsdm.theory import intersection, log_intersection
    >>> math.isclose(log_intersection(1000, 451, 300), math.log(intersection(1000, 451, 300)),
    ...              rel_tol=1e-12)
    True
    >>> log_intersection(8, 2, [4, 5]).tolist()[1]
    -inf
    """
    n = _check_n(n)
    d = _check_radius(d, n)
    hs, scalar = _check_distances(h, n)
    values = _log_intersections(n, d)[hs]
    return float(values) if scalar else values


def activation_probability(n: int, d: int) -> float:
    """Probability that a uniformly random location lies within ``d`` of an address.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.

    Returns
    -------
    float
        ``p(d) = |O_n(d)| / 2**n = P(Bin(n, 1/2) <= d)`` (correctly rounded; may
        underflow to a subnormal or 0 for tiny balls in huge spaces).

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer.
    ValueError
        If ``n < 1`` or ``d`` is outside ``[0, n]``.

    See Also
    --------
    radius_for_probability : The inverse (paper convention).

    Notes
    -----
    Exact integer quotient (Kanerva 1988, ch. 3). For the canonical memory
    ``n = 1000, d = 451``: ``p ≈ 0.001071850048923666`` (the correctly rounded double
    is ``0.0010718500489236657``, one ulp from that 16-digit decimal).

    Examples
    --------
    >>> from fastsdm.theory import activation_probability
    >>> activation_probability(1000, 451)
    0.0010718500489236657
    """
    n = _check_n(n)
    d = _check_radius(d, n)
    return ball_size(n, d) / (1 << n)


def _log_activation_probabilities(n: int) -> np.ndarray:
    """``log p(d)`` for ``d = 0..n`` (exact integers, then correctly rounded logs)."""
    return np.array([math.log(size) - n * _LOG2 for size in _ball_sizes(n)])


def radius_for_probability(n: int, p: float) -> int:
    """Smallest radius whose activation probability reaches ``p`` (paper convention).

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    p : float
        Target activation probability, in ``(0, 1]``.

    Returns
    -------
    int
        The smallest ``d`` with ``P(Bin(n, 1/2) <= d) >= p``; this equals
        ``scipy.stats.binom.ppf(p, n, 0.5)``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer or ``p`` is not a real number.
    ValueError
        If ``n < 1`` or ``p`` is outside ``(0, 1]``.

    See Also
    --------
    activation_probability : The forward map.
    optimal_radius : ``rounding="argmax"`` instead maximises the objective over integer d.

    Notes
    -----
    The comparison ``|O_n(d)| >= p · 2^n`` is decided exactly (``p`` is converted to
    the rational number it represents), so there are no rounding surprises at the
    boundaries. This is the convention of Bricken & Pehlevan (2021) for turning an
    optimal probability into a radius; the integer maximiser of an objective can
    differ by one.

    Up to ``n = 1500`` the binomials are summed as exact integers.  Beyond, a
    floating-point estimate is confirmed at ``d - 1`` and ``d`` by an enclosure of
    ``log P(Bin(n, 1/2) <= d)`` with a proven error bound (60-digit decimals), and
    only a tie within that bound falls back to the exact sum: ``n = 10**6`` takes
    milliseconds instead of minutes, with the same answers.

    Examples
    --------
    >>> from fastsdm.theory import radius_for_probability
    >>> radius_for_probability(256, 1 / 1000)
    103
    >>> radius_for_probability(64, 2.0**-25)
    11
    >>> radius_for_probability(10**6, 0.001)
    498455
    """
    from fastsdm import _binomial

    n = _check_n(n)
    if isinstance(p, numbers.Rational) and not _is_int(p):
        target = Fraction(p)
        if not 0 < target <= 1:  # exactly: float(p) may underflow to 0
            _check_probability(p, "p")
    else:
        target = Fraction(_check_probability(p, "p"))
    return _binomial.quantile(n, target)


def expected_activated(n: int, d: int, n_locations: float) -> float:
    """Mean number of hard locations activated by an address.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    n_locations : float
        Number ``N`` of uniformly random hard locations (positive).

    Returns
    -------
    float
        ``N · p(d)``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range.

    See Also
    --------
    activated_std, activation_probability

    Notes
    -----
    The count is ``Bin(N, p(d))`` (Kanerva 1988): 1071.85 for the canonical memory.

    Examples
    --------
    >>> from fastsdm.theory import expected_activated
    >>> round(expected_activated(1000, 451, 10**6), 2)
    1071.85
    """
    n_locations = _check_positive(n_locations, "n_locations")
    return n_locations * activation_probability(n, d)


def activated_std(n: int, d: int, n_locations: float) -> float:
    """Standard deviation of the number of activated hard locations.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    n_locations : float
        Number ``N`` of uniformly random hard locations (positive).

    Returns
    -------
    float
        ``sqrt(N · p · (1 − p))`` with ``p = p(d)``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range.

    See Also
    --------
    expected_activated

    Notes
    -----
    Binomial standard deviation; ``1 − p`` is taken from the exact complement
    ``(2^n − |O_n(d)|)/2^n``, not by subtraction in floating point.

    Examples
    --------
    >>> from fastsdm.theory import activated_std
    >>> round(activated_std(1000, 451, 10**6), 2)
    32.72
    """
    n_locations = _check_positive(n_locations, "n_locations")
    n = _check_n(n)
    d = _check_radius(d, n)
    size, space = ball_size(n, d), 1 << n
    return math.sqrt(n_locations * (size / space) * ((space - size) / space))


# ---------------------------------------------------------------------------
# β: the exponential fit I(h) ≈ c1 exp(−c2 h), β = c2 n / 2
# ---------------------------------------------------------------------------


def _fit_line(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float]:
    xc = x - x.mean()
    slope = float(xc @ (y - y.mean()) / (xc @ xc))
    if method == "paper":
        slope *= x.size / (x.size - 1)  # cov (ddof=1) over var (ddof=0)
    return slope, float(y.mean() - slope * x.mean())


def _fit_beta(n: int, d: int, method: str) -> tuple[float, float]:
    h = np.arange(d)
    return _fit_line(1.0 - 2.0 * h / n, _log_intersections(n, d)[:d], method)


def fit_beta(
    n: int, d: int, method: str = "paper", return_intercept: bool = False
) -> float | tuple[float, float]:
    """Softmax inverse temperature β that best mimics the SDM intersection weights.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 2``).
    d : int
        Radius, in ``[2, n]`` (the fit needs at least two points).
    method : {"paper", "ols"}, default "paper"
        ``"paper"``: ``β = cov(x, y; ddof=1) / var(x; ddof=0)``, the convention that
        reproduces the published β values. ``"ols"``: the ordinary least-squares slope.
    return_intercept : bool, default False
        Also return the intercept ``mean(y) − β·mean(x)``.

    Returns
    -------
    float or tuple of float
        β, or ``(β, intercept)`` when ``return_intercept`` is true.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer.
    ValueError
        If ``n < 2``, ``d`` is outside ``[2, n]`` or ``method`` is unknown.

    See Also
    --------
    radius_for_beta : The inverse map.
    log_intersection : The fitted values ``y``.

    Notes
    -----
    Points ``h = 0..d−1``, ``x = 1 − 2h/n`` (the cosine of two bipolar vectors ``h``
    bits apart), ``y = log I(h)``. If ``I(h) ≈ c1 exp(−c2 h)`` then
    ``y ≈ (log c1 − β) + β·x`` with ``β = c2·n/2``, i.e. ``I ∝ exp(β·cos)``, so the SDM
    read weights ``I(h_μ)/Σ I`` become ``softmax(β cos_μ)`` (Bricken & Pehlevan 2021,
    §3). The number of locations only moves the intercept.

    The paper's estimator divides a ``ddof=1`` covariance by a ``ddof=0`` variance,
    i.e. it is the OLS slope inflated by ``N/(N−1)`` with ``N = d`` points (25 %
    larger at ``d = 5``). ``method="paper"`` reproduces β = 35.5, 15.9, 10.1 for
    ``n = 64``, ``d = 5, 11, 15`` (β_Mem, β_SNR, β_CD); ``method="ols"`` is the
    unbiased least-squares fit of the same line.

    Examples
    --------
    >>> from fastsdm.theory import fit_beta
    >>> [round(fit_beta(64, d), 1) for d in (5, 11, 15)]
    [35.5, 15.9, 10.1]
    >>> round(fit_beta(64, 5, method="ols"), 2)
    28.39
    """
    n = _check_n(n, minimum=2, why=" for a β fit")
    d = _check_int(d, "radius d")
    if d < 2:
        raise ValueError(
            f"fit_beta needs at least two points (h = 0..d-1), so d must be >= 2, got {d}; "
            f"use a radius of 2 or more"
        )
    d = _check_radius(d, n, minimum=2)
    method = _check_choice(method, "method", _BETA_METHODS)
    slope, intercept = _fit_beta(n, d, method)
    return (slope, intercept) if return_intercept else slope


def radius_for_beta(n: int, beta: float, method: str = "paper") -> int:
    """Radius whose fitted β is closest to a target β.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 4``, so that ``[2, n//2]`` is not empty).
    beta : float
        Target inverse temperature (positive).
    method : {"paper", "ols"}, default "paper"
        β estimator, as in :func:`fit_beta`.

    Returns
    -------
    int
        The ``d`` in ``[2, n//2]`` minimising ``|fit_beta(n, d, method) − beta|``
        (smallest ``d`` on ties).

    Raises
    ------
    TypeError
        If ``n`` is not an integer or ``beta`` is not a real number.
    ValueError
        If ``n < 4``, ``beta`` is not positive and finite, or ``method`` is unknown.

    See Also
    --------
    fit_beta

    Notes
    -----
    β decreases with ``d`` (larger balls overlap more slowly); every candidate is
    evaluated, which costs O(n²) floating-point operations.

    Examples
    --------
    >>> from fastsdm.theory import radius_for_beta
    >>> radius_for_beta(64, 15.6)
    11
    """
    n = _check_n(n, minimum=4, why=" so that the radii [2, n//2] are not empty")
    beta = _check_positive(beta, "beta", "15.6")
    method = _check_choice(method, "method", _BETA_METHODS)
    radii = range(2, n // 2 + 1)
    gaps = [abs(_fit_beta(n, d, method)[0] - beta) for d in radii]
    return radii[int(np.argmin(gaps))]


# ---------------------------------------------------------------------------
# Optimal radii: SNR, memory capacity, critical distance
# ---------------------------------------------------------------------------


def _log_snr(log_p: float, log_r: float, log_m: float) -> float:
    # SNR² = p r / (1 + p m + p³ m r): every term of the denominator is positive.
    log_den = float(np.logaddexp.reduce([0.0, log_p + log_m, 3.0 * log_p + log_m + log_r]))
    return 0.5 * (log_p + log_r - log_den)


def snr(n: int, d: int, n_locations: float, n_patterns: float) -> float:
    """Signal-to-noise ratio of a read at the stored address (Kanerva 1993).

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    n_locations : float
        Number of hard locations ``r`` (positive; may exceed 2**63).
    n_patterns : float
        Number of stored patterns ``m`` (positive).

    Returns
    -------
    float
        ``sqrt(p r / (1 + p m + p³ m r))`` with ``p = activation_probability(n, d)``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range.

    See Also
    --------
    optimal_probability, optimal_radius

    Notes
    -----
    Kanerva (1993): :math:`\\mathrm{SNR}^2 = pr/(1 + pm + p^3 mr)`, maximal at
    :math:`p^* = (2mr)^{-1/3}`. Evaluated in log space, so ``r = 2**64`` and
    ``p = 2**-n`` are fine.

    Examples
    --------
    >>> from fastsdm.theory import snr
    >>> round(snr(64, 11, 2**64, 1024))
    522136
    """
    n = _check_n(n)
    d = _check_radius(d, n)
    log_r = math.log(_check_positive(n_locations, "n_locations"))
    log_m = math.log(_check_positive(n_patterns, "n_patterns"))
    log_p = log_ball_size(n, d) - n * _LOG2
    return math.exp(_log_snr(log_p, log_r, log_m))


def _default_z(n: int, z, p_whole) -> float:
    if z is not None:
        return _check_positive(z, "z", "3.0")
    p_whole = _check_probability(p_whole, "p_whole", allow_one=False)
    return statistics.NormalDist().inv_cdf(p_whole ** (1.0 / n))


def _capacity(log_p: float, r: float, z: float) -> float:
    if log_p < -700.0:  # p r / z² ≪ 1: m(p) ≈ −1/p, beyond float range
        return -math.inf
    p = math.exp(log_p)
    return (p * r / (z * z) - 1.0) / (p * (1.0 + p * p * r))


def capacity(
    n: int, d: int, n_locations: float, z: float | None = None, p_whole: float = 0.5
) -> float:
    """Number of patterns storable with per-bit reliability ``z`` (memory criterion).

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    d : int
        Activation radius, in ``[0, n]``.
    n_locations : float
        Number of hard locations ``r`` (positive).
    z : float, optional
        Required per-bit z-score. Default ``Φ^{-1}(p_whole^(1/n))``.
    p_whole : float, default 0.5
        Probability that a whole ``n``-bit pattern is read back exactly, in ``(0, 1)``;
        used only when ``z`` is None.

    Returns
    -------
    float
        ``m(p) = (p r / z² − 1) / (p (1 + p² r))`` with ``p = p(d)``. Zero or negative
        means not even one pattern reaches the reliability; ``-inf`` when ``p`` is below
        ``e^-700`` (``m ≈ −1/p`` is then out of float range).

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range.

    See Also
    --------
    optimal_radius : ``criterion="memory"``.

    Notes
    -----
    From the SNR requirement ``SNR ≥ z`` (Kanerva 1993; Bricken & Pehlevan 2021,
    App. B) with ``z = Φ^{-1}(P_whole^{1/n})`` so that all ``n`` bits are right with
    probability ``P_whole``. ``dm/dp = 0`` reduces to ``−2r²p³ + 3r p² z² + z² = 0``,
    which has exactly one positive root (see :func:`optimal_probability`).

    Examples
    --------
    >>> from fastsdm.theory import capacity
    >>> f"{capacity(64, 5, 2**64):.3e}"
    '3.492e+18'
    """
    n = _check_n(n)
    d = _check_radius(d, n)
    r = _check_positive(n_locations, "n_locations")
    z = _default_z(n, z, p_whole)
    return _capacity(log_ball_size(n, d) - n * _LOG2, r, z)


def _memory_optimal_probability(r: float, z: float) -> float:
    """The positive root of −2r²p³ + 3rp²z² + z² = 0, clipped to 1.

    With q = r p this is g(q) = 2q³ − 3z²q² − z²r = 0: g < 0 on (0, 1.5 z²] and g is
    increasing beyond z², so the root is unique; bisect on log q, testing the sign
    of g(q)/q³ = 2 − 3z²/q − z² r/q³ (no overflow for any r).
    """
    z2, log_r = z * z, math.log(r)

    def positive(log_q: float) -> bool:
        return 2.0 - 3.0 * z2 * math.exp(-log_q) - z2 * math.exp(log_r - 3.0 * log_q) > 0.0

    lo = math.log(1.5 * z2)
    hi = max(lo, (math.log(z2) + log_r) / 3.0) + 1.0
    while not positive(hi):
        hi += 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if positive(mid) else (mid, hi)
    return min(1.0, math.exp(0.5 * (lo + hi) - log_r))


def optimal_probability(
    n_locations: float,
    n_patterns: float | None = None,
    criterion: str = "snr",
    *,
    n: int | None = None,
    z: float | None = None,
    p_whole: float = 0.5,
) -> float:
    """Activation probability that maximises SNR or memory capacity.

    Parameters
    ----------
    n_locations : float
        Number of hard locations ``r`` (positive).
    n_patterns : float, optional
        Number of stored patterns ``m`` (positive); required for ``"snr"``, unused
        for ``"memory"``.
    criterion : {"snr", "memory"}, default "snr"
        Objective. (The critical distance has no closed form: use
        :func:`optimal_radius`.)
    n : int, optional
        Number of bits, needed by ``"memory"`` for the default ``z``.
    z : float, optional
        Per-bit z-score for ``"memory"``; default ``Φ^{-1}(p_whole^(1/n))``.
    p_whole : float, default 0.5
        Whole-pattern reliability for the default ``z``, in ``(0, 1)``.

    Returns
    -------
    float
        ``p* = (2 m r)^(-1/3)`` for ``"snr"``; for ``"memory"`` the positive root of
        ``−2r²p³ + 3r p² z² + z² = 0``, clipped to 1.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range, ``criterion`` is unknown or
        ``"critical_distance"``, or a required argument is missing.

    See Also
    --------
    optimal_radius, radius_for_probability, snr, capacity

    Notes
    -----
    Kanerva (1993) for the SNR optimum; Bricken & Pehlevan (2021, App. B) for the
    memory optimum. The root of the cubic is found by bisection on ``log(r p)``.

    Examples
    --------
    >>> import math
    >>> from fastsdm.theory import optimal_probability
    >>> round(optimal_probability(10**6, 10**4), 7)
    0.0003684
    >>> round(math.log2(optimal_probability(2**64, 1024)), 9)
    -25.0
    """
    criterion = _check_choice(criterion, "criterion", _CRITERIA)
    r = _check_positive(n_locations, "n_locations")
    if criterion == "critical_distance":
        raise ValueError(
            "criterion must be 'snr' or 'memory' for optimal_probability, got "
            "'critical_distance'; it has no closed form, use "
            "optimal_radius(n, n_locations, n_patterns, criterion='critical_distance')"
        )
    if criterion == "snr":
        if n_patterns is None:
            raise ValueError(
                "n_patterns is required for criterion='snr', got None; "
                "pass the number of stored patterns, e.g. n_patterns=10_000"
            )
        m = _check_positive(n_patterns, "n_patterns")
        return math.exp(-(math.log(2.0) + math.log(m) + math.log(r)) / 3.0)
    if z is None and n is None:
        raise ValueError(
            "criterion='memory' needs n (to derive z from p_whole) or z, got neither; "
            "pass n=<number of bits> or z=<per-bit z-score>"
        )
    z = _check_positive(z, "z", "3.0") if z is not None else _default_z(_check_n(n), None, p_whole)
    return _memory_optimal_probability(r, z)


# ---------------------------------------------------------------------------
# One read of a finite memory: signal, self-bias and crosstalk
# ---------------------------------------------------------------------------

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


def _check_model(model) -> str:
    return _check_choice(model, "model", READ_MODELS)


def _check_patterns(n_patterns, what: str = "the critical distance") -> float:
    m = _check_positive(n_patterns, "n_patterns")
    if m < 1.0:
        raise ValueError(
            f"n_patterns must be >= 1 for {what}, got {n_patterns!r}; "
            f"store at least one pattern"
        )
    return m


def _log_binomial_weights(n: int) -> np.ndarray:
    """``log P(Bin(n, 1/2) = h)`` for ``h = 0..n``."""
    lf = _log_factorials(n)
    h = np.arange(n + 1)
    return _log_comb(lf, n, h) - n * _LOG2


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
    lf = _log_factorials(n)
    out = np.full(n + 1, -np.inf)
    for x in range(n):
        i = np.arange(x + 1)
        k = d - np.maximum(i, x - i)
        ok = (k >= 0) & (k <= n - x - 1)
        if ok.any():
            terms = _log_comb(lf, x, i[ok]) + _log_comb(lf, n - x - 1, k[ok])
            out[x] = _logsumexp(terms)
    out.flags.writeable = False
    return out


def _read_moments(n: int, d: int, r: float, m: float, model: str) -> ReadStatistics:
    """All moments of :class:`ReadStatistics` for ``x = 0..n`` (see the docs' derivation)."""
    log_r = math.log(r)
    log_i = _log_intersections(n, d)
    log_s = log_r - n * _LOG2 + log_i
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
    mean_s = math.exp(_logsumexp(log_w + log_s))  # = N p(d)² exactly
    mean_s2 = math.exp(_logsumexp(log_w + 2.0 * log_s))
    per_word = mean_s + mean_s2 * (1.0 - 1.0 / r)
    others = max(m - 1.0, 0.0)
    if model == "heteroassociative":
        return ReadStatistics(x, s, signal_var, 0.0, others * per_word, zeros, zeros.copy(),
                              model)
    # Autoassociative: word μ was written at its own address, so its bits lean
    # towards the cue's where the two are close. With κ = C(n−1, d)/2^n every
    # location's counter j carries E[C_ij | a_i] = m κ ã_ij, and
    # E[c_μ y^μ_j q̃_j] = E_h[S(h)(1 − 2h/n)] = N κ² (exact identity).
    lf = _log_factorials(n)
    log_kappa = (_log_comb(lf, n - 1, d) - n * _LOG2) if d < n else -math.inf
    kappa = math.exp(log_kappa)
    word_bias = math.exp(log_r + 2.0 * log_kappa)
    bias = others * word_bias
    p = math.exp(log_ball_size(n, d) - n * _LOG2)
    # The words share the locations: Cov(c_μ y^μ, c_ν y^ν) = Var_L(κ Σ_{i∈A(q)} ã_ij q̃_j).
    shared = others * max(m - 2.0, 0.0) * math.exp(log_r + 2.0 * log_kappa) * (p - kappa**2)
    crosstalk = others * (per_word - word_bias**2) + shared
    # Cov(c, Z_j) = (m − 1) κ N (J(x)/2^n − κ I(x)/2^n) on a right bit, −(m − 1) κ² S on a
    # flipped one (J = 0 there: the intersection is symmetric in the two centres).
    log_j = _log_agreeing_overlap(n, d)
    cov_correct = others * kappa * (np.exp(log_r - n * _LOG2 + log_j) - kappa * s)
    cov_flipped = -others * kappa**2 * s
    return ReadStatistics(x, s, signal_var, bias, crosstalk, cov_correct, cov_flipped, model)


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
    n = _check_n(n)
    d = _check_radius(d, n)
    r = _check_positive(n_locations, "n_locations")
    m = _check_patterns(n_patterns, what)
    return n, d, r, m, _check_model(model)


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
    xs, scalar = _check_distances(x, n)
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
    xs, scalar = _check_distances(x, n)
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
        log_ok = (n - x) * np.log1p(-right) + x * np.log1p(-flipped)
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
            ratio = math.exp(log_s[x] - 0.5 * _logaddexp(log_s[x], log_noise))
        x_new[x] = 0.5 * n * math.erfc(ratio / math.sqrt(2.0))
    return x_new


def _paper_curve(n: int, d: int, log_r: float, m: float) -> np.ndarray:
    log_s = log_r - n * _LOG2 + _log_intersections(n, d)  # S(x) = r I(x) / 2^n
    log_half = log_s[n // 2]
    # Crosstalk variance (m − 1)(S½ + S½²) with S½ = S(⌊n/2⌋), a sum of positive terms.
    if m > 1.0 and log_half > -math.inf:
        log_noise = math.log(m - 1.0) + log_half + float(np.logaddexp(0.0, log_half))
    else:
        log_noise = -math.inf
    return _one_step_distances(n, log_s, log_noise)


def _one_step_curve(n: int, d: int, r: float, m: float, model: str) -> np.ndarray:
    """x'(x) for x = 0..n."""
    if model == "paper":
        return _paper_curve(n, d, math.log(r), m)
    xs = np.arange(n + 1)
    right, flipped = _bit_errors(_read_moments(n, d, r, m, model), r, xs)
    return np.clip(xs * flipped + (n - xs) * right, 0.0, float(n))


def _crossing(x_new: np.ndarray) -> int:
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
    x_new = _one_step_curve(n, d, r, m, model)
    return CriticalDistance(_crossing(x_new), (np.arange(n + 1, dtype=np.int64), x_new))


def _ties(scores) -> tuple[int, ...]:
    scores = np.asarray(scores)
    return tuple(int(i) for i in np.flatnonzero(scores == scores.max()))


def optimal_radius(
    n: int,
    n_locations: float,
    n_patterns: float,
    criterion: str = "snr",
    rounding: str = "paper",
    *,
    z: float | None = None,
    p_whole: float = 0.5,
    model: str = "paper",
    return_all: bool = False,
) -> int | tuple[int, ...]:
    """Radius that maximises SNR, memory capacity or critical distance.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    n_locations : float
        Number of hard locations ``r`` (positive; may be huge, e.g. ``2**64``).
    n_patterns : float
        Number of stored patterns ``m`` (positive; ``>= 1`` for
        ``"critical_distance"``; unused by ``"memory"``).
    criterion : {"snr", "memory", "critical_distance"}, default "snr"
        Objective.
    rounding : {"paper", "argmax"}, default "paper"
        ``"paper"``: convert the optimal probability to a radius with
        :func:`radius_for_probability`. ``"argmax"``: the integer ``d`` in ``[0, n]``
        maximising the objective exactly. For ``"critical_distance"`` both mean
        ``argmax_d CD(d)`` over ``d`` in ``[0, n//2]``.
    z, p_whole : float, optional
        Reliability for ``"memory"``, as in :func:`capacity`.
    model : {"paper", "autoassociative", "heteroassociative"}, default "paper"
        The one-read model of ``"critical_distance"`` (:func:`critical_distance`).
        The default is the paper's, so that the three criteria are the published
        ones; the other criteria accept only ``"paper"``.
    return_all : bool, default False
        Return every radius that attains the maximum (ascending) instead of the
        smallest one.

    Returns
    -------
    int or tuple of int
        The optimal radius (the smallest on ties), or all tied radii.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range, ``criterion``/``rounding``/``model`` is
        unknown, or a model other than ``"paper"`` is given for ``"snr"`` or
        ``"memory"``.

    See Also
    --------
    optimal_probability, snr, capacity, critical_distance

    Notes
    -----
    For ``n = 64``, ``r = 2**64``, ``m = 1024`` this gives ``d*_SNR = 11``,
    ``d*_Mem = 5`` and ``d*_CD = 15``, the values of Bricken & Pehlevan (2021),
    stated in §1 and derived in App. B.5; their β are 15.9, 35.5 and 10.1.
    The two roundings can differ by one.

    The critical distance is an integer, so ties are common: in the paper model
    ``CD(15) = CD(16) = CD(17) = 30`` at ``n = 64`` (up to ``d = 15`` its crosstalk
    term vanishes and ``CD(d) = 2d``; from 16 on the crosstalk holds it at 30, then
    pulls it down). The smallest tied radius is returned, which is the paper's 15;
    ``return_all=True`` shows the tie.

    Examples
    --------
    >>> from fastsdm.theory import optimal_radius
    >>> [optimal_radius(64, 2**64, 1024, c) for c in ("snr", "memory", "critical_distance")]
    [11, 5, 15]
    >>> optimal_radius(64, 2**64, 1024, "critical_distance", return_all=True)
    (15, 16, 17)
    """
    n = _check_n(n)
    r = _check_positive(n_locations, "n_locations")
    m = _check_positive(n_patterns, "n_patterns")
    criterion = _check_choice(criterion, "criterion", _CRITERIA)
    rounding = _check_choice(rounding, "rounding", _ROUNDINGS)
    model = _check_model(model)
    if not isinstance(return_all, (bool, np.bool_)):
        raise TypeError(f"return_all must be True or False, got {return_all!r}")
    if criterion == "critical_distance":
        m = _check_patterns(n_patterns)
        ties = _ties([_crossing(_one_step_curve(n, d, r, m, model))
                      for d in range(n // 2 + 1)])
    else:
        if model != "paper":
            raise ValueError(
                f"model={model!r} applies to criterion='critical_distance' only; "
                f"'{criterion}' is the paper's closed form: drop model or pass model='paper'"
            )
        if criterion == "snr":
            if rounding == "paper":
                ties = (radius_for_probability(n, optimal_probability(r, m, "snr")),)
            else:
                log_r, log_m = math.log(r), math.log(m)
                ties = _ties([_log_snr(lp, log_r, log_m)
                              for lp in _log_activation_probabilities(n)])
        else:
            z = _default_z(n, z, p_whole)
            if rounding == "paper":
                ties = (radius_for_probability(n, _memory_optimal_probability(r, z)),)
            else:
                ties = _ties([_capacity(lp, r, z) for lp in _log_activation_probabilities(n)])
    return ties if return_all else ties[0]


# ---------------------------------------------------------------------------
# β of the continuous memory: the exponential fit to cap intersections
# ---------------------------------------------------------------------------


def fit_cap_beta(
    n: int, d: int, method: str = "paper", return_intercept: bool = False
) -> float | tuple[float, float]:
    """Softmax β that best mimics the continuous SDM's cap-intersection weights ("CFit").

    Parameters
    ----------
    n : int
        Dimension (``n >= 2``).
    d : int
        Radius in bit units, an integer in ``[2, n]`` (the cap is
        ``cos >= 1 − 2d/n``; the fit needs at least two points).
    method : {"paper", "ols"}, default "paper"
        The estimator, as in :func:`fit_beta`.
    return_intercept : bool, default False
        Also return the intercept ``mean(y) − β·mean(x)``.

    Returns
    -------
    float or tuple of float
        β, or ``(β, intercept)``.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer.
    ValueError
        If ``n < 2``, ``d`` is outside ``[2, n]`` or ``method`` is unknown.

    See Also
    --------
    fit_beta : The same fit to the binary ball intersections.
    cap_intersection : The fitted weights.

    Notes
    -----
    The points are those of :func:`fit_beta`, ``x = 1 − 2h/n`` for
    ``h = 0..d−1``, with ``y = log cap_intersection(n, d, x)``: the log of the
    fraction of the sphere in two caps whose centres have cosine ``x``. The
    authors of Bricken & Pehlevan (2021) fit this line in their code ("CFit",
    the β of their continuous SDM-attention reads); with their convention
    (``method="paper"``) it gives 71.70921, 29.76709 and 21.53975 for
    ``n = 64``, ``d = 5, 9, 11``. Caps shrink faster with the angle than balls
    (at ``n = 64``), so the cap β is larger than the binary one (35.5, 20.0 and
    15.9). The number of locations only moves the intercept.

    Examples
    --------
    >>> from fastsdm.theory import fit_cap_beta
    >>> [round(fit_cap_beta(64, d), 5) for d in (5, 9, 11)]
    [71.70921, 29.76709, 21.53975]
    >>> round(fit_cap_beta(64, 11, method="ols"), 2)
    19.58
    """
    n = _check_n(n, minimum=2, why=" for a β fit")
    d = _check_int(d, "radius d")
    if d < 2:
        raise ValueError(
            f"fit_cap_beta needs at least two points (h = 0..d-1), so d must be >= 2, got {d}; "
            f"use a radius of 2 or more"
        )
    d = _check_radius(d, n, minimum=2)
    method = _check_choice(method, "method", _BETA_METHODS)
    x = 1.0 - 2.0 * np.arange(d) / n
    y = log_cap_intersection(n, d, x)
    slope, intercept = _fit_line(x, y, method)
    return (slope, intercept) if return_intercept else slope


# ---------------------------------------------------------------------------
# Continuous SDM: hyperspherical caps (numba kernels, log space)
# ---------------------------------------------------------------------------

# Gauss–Kronrod 15-point rule on [-1, 1] (QUADPACK qk15): abscissae x_0 > ... > x_7 = 0,
# Kronrod weights, and the weights of the embedded 7-point Gauss rule (at x_1, x_3, x_5, x_7).
_GK_X = np.array([
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.0,
])
_GK_W = np.array([
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
])
_G_W = np.array([
    0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
    0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
])
_GRADED_PANELS = 32  # initial panels, halving in width towards the upper end
_MAX_PANELS = 1024
_QUAD_RTOL = 1e-13
_CF_EPS = 1e-16
_CF_MAXIT = 100_000
_CF_TINY = 1e-300


@jit
def _log_beta(a, b):
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


@jit
def _betacf(a, b, x):
    # Continued fraction for I_x(a, b), modified Lentz (Numerical Recipes §6.4).
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _CF_TINY:
        d = _CF_TINY
    d = 1.0 / d
    h = d
    for m in range(1, _CF_MAXIT + 1):
        m2 = 2.0 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _CF_TINY:
            d = _CF_TINY
        c = 1.0 + aa / c
        if abs(c) < _CF_TINY:
            c = _CF_TINY
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _CF_TINY:
            d = _CF_TINY
        c = 1.0 + aa / c
        if abs(c) < _CF_TINY:
            c = _CF_TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _CF_EPS:
            break
    return h


@jit
def _log_betainc(a, b, x, y):
    """log I_x(a, b), the regularised incomplete beta; ``y = 1 − x`` passed exactly.

    The continued fraction converges fast for x < (a+1)/(a+b+2); beyond, the
    symmetry I_x(a, b) = 1 − I_y(b, a) is used where the result is >~ 1/2, so the
    subtraction is harmless.  a = 0 is the limit I_x(0, b) = 1 (x > 0).
    """
    if x <= 0.0:
        return -math.inf
    if y <= 0.0 or a == 0.0:
        return 0.0
    log_front = a * math.log(x) + b * math.log(y) - _log_beta(a, b)
    if x * (a + b + 2.0) < a + 1.0:
        return log_front - math.log(a) + math.log(_betacf(a, b, x))
    other = math.exp(log_front - math.log(b)) * _betacf(b, a, y)
    return math.log1p(-min(other, 1.0))


@jit
def _log_lens_integrand(phi, n, tan_half):
    # sin^{n−2}φ · I_{1−t²}((n−2)/2, ½), t = tan(θ_v/2)/tan φ: φ is the angle from
    # one cap's axis and the incomplete beta is (twice) the part of the (n−2)-sphere
    # of such points lying beyond the bisecting hyperplane of the two caps.
    s = math.sin(phi)
    t = tan_half * math.cos(phi) / s
    if t >= 1.0:
        return -math.inf
    return (n - 2) * math.log(s) + _log_betainc(0.5 * (n - 2), 0.5, (1.0 - t) * (1.0 + t), t * t)


@jit
def _gk15(n, tan_half, log_scale, lo, hi):
    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    f = math.exp(_log_lens_integrand(centre, n, tan_half) - log_scale)
    kronrod, gauss = _GK_W[7] * f, _G_W[3] * f
    for j in range(7):
        dx = half * _GK_X[j]
        pair = (math.exp(_log_lens_integrand(centre - dx, n, tan_half) - log_scale)
                + math.exp(_log_lens_integrand(centre + dx, n, tan_half) - log_scale))
        kronrod += _GK_W[j] * pair
        if j % 2 == 1:
            gauss += _G_W[j // 2] * pair
    return kronrod * half, abs(kronrod - gauss) * half


@jit
def _log_lens_integral(n, tan_half, lo, hi):
    """log ∫_lo^hi sin^{n−2}φ · I_{1−t²}((n−2)/2, ½) dφ (globally adaptive GK15).

    The integrand increases with φ, so it is scaled by its value at ``hi`` (work in
    [0, 1], log of the scale added back).  For large n it is sharply peaked at
    ``hi``: the initial panels halve in width towards ``hi`` so that no narrow
    peak is missed, then the panel with the largest error estimate is bisected
    until the total error is below _QUAD_RTOL of the total.
    """
    log_scale = _log_lens_integrand(hi, n, tan_half)
    if log_scale == -math.inf:
        return -math.inf
    left = np.empty(_MAX_PANELS)
    right = np.empty(_MAX_PANELS)
    value = np.empty(_MAX_PANELS)
    error = np.empty(_MAX_PANELS)
    count = 0
    start = lo
    for k in range(1, _GRADED_PANELS + 1):
        stop = hi if k == _GRADED_PANELS else hi - (hi - lo) * 0.5**k
        left[count], right[count] = start, stop
        value[count], error[count] = _gk15(n, tan_half, log_scale, start, stop)
        count += 1
        start = stop
    while count < _MAX_PANELS:
        if error[:count].sum() <= _QUAD_RTOL * value[:count].sum():
            break
        i = np.argmax(error[:count])
        mid = 0.5 * (left[i] + right[i])
        if not left[i] < mid < right[i]:
            error[i] = 0.0  # cannot be split further in floating point
            continue
        left[count], right[count] = mid, right[i]
        value[count], error[count] = _gk15(n, tan_half, log_scale, mid, right[i])
        right[i] = mid
        value[i], error[i] = _gk15(n, tan_half, log_scale, left[i], mid)
        count += 1
    total = value[:count].sum()
    if total <= 0.0:
        return -math.inf
    return log_scale + math.log(total)


@jit
def _log_lens(n, c, sin2, v):
    """log fraction of S^{n−1} in {x·a ≥ c} ∩ {x·b ≥ c}, c ≥ 0, a·b = v.

    The bisecting hyperplane of a and b splits the intersection into two mirror
    halves; each is the part of one cap beyond a hyperplane at angle θ_v/2 from its
    axis, Lee & Kim's J_n(θ_v/2, θ).  Dividing 2·J_n by |S^{n−1}| leaves the
    normalisation 1/B((n−1)/2, ½).
    """
    theta = math.atan2(math.sqrt(sin2), c)
    if v <= -1.0:
        return -math.inf
    tan_half = math.sqrt((1.0 - v) / (1.0 + v))
    theta_half = math.atan(tan_half)
    if theta_half >= theta:  # θ_v >= 2θ: the caps do not meet
        return -math.inf
    return _log_lens_integral(n, tan_half, theta_half, theta) - _log_beta(0.5 * (n - 1), 0.5)


@jit
def _log_cap_intersections(n, d, cos_values):
    out = np.empty(cos_values.size)
    sin2 = 4.0 * d * (n - d) / (n * n)  # sin²θ without cancellation
    for i in range(cos_values.size):
        v = cos_values[i]
        if 2.0 * d <= n:
            out[i] = _log_lens(n, (n - 2.0 * d) / n, sin2, v)
        else:
            # θ > π/2: |A ∩ B| = (|A| + |B| − 1) + |Aᶜ ∩ Bᶜ|, where |A| + |B| − 1 is the
            # band |x·a| ≤ −cos θ, i.e. I_{cos²θ}(½, (n−1)/2), and the complements are
            # caps of angle π − θ < π/2 around −a, −b (same angle between them).
            c = (2.0 * d - n) / n
            band = _log_betainc(0.5, 0.5 * (n - 1), c * c, sin2)
            out[i] = _logaddexp(band, _log_lens(n, c, sin2, v))
    return out


def _check_n_sphere(n) -> int:
    return _check_n(n, minimum=2, why=" for caps on the sphere S^(n-1)")


def _check_cosines(cos) -> tuple[np.ndarray, bool]:
    arr = np.asarray(cos)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"cos must be a real number or an array of real numbers, got dtype {arr.dtype}; "
            f"pass cosine similarities as floats"
        )
    scalar = arr.ndim == 0
    arr = np.array(arr, dtype=np.float64, ndmin=1)
    bad = arr[~((arr >= -1.0) & (arr <= 1.0))]
    if bad.size:
        raise ValueError(
            f"cos must lie in [-1, 1], got {bad.flat[0]}; "
            f"clip rounding errors with np.clip(cos, -1, 1)"
        )
    return arr, scalar


def log_cap_fraction(n: int, d: float) -> float:
    """Natural logarithm of :func:`cap_fraction`.

    Parameters
    ----------
    n : int
        Dimension of the ambient space (``n >= 2``; the sphere is ``S^{n−1}``).
    d : float
        Radius in bit units, in ``[0, n]``: the cap is ``cos(x, a) >= 1 − 2d/n``.

    Returns
    -------
    float
        ``log`` of the fraction of the sphere in the cap (``-inf`` for ``d = 0``).

    Raises
    ------
    TypeError
        If ``n`` is not an integer or ``d`` is not a real number.
    ValueError
        If ``n < 2`` or ``d`` is outside ``[0, n]``.

    See Also
    --------
    cap_fraction

    Notes
    -----
    With ``θ = arccos(1 − 2d/n) <= π/2`` the fraction is
    ``½ I_{sin²θ}((n−1)/2, ½)`` (Lee & Kim 2014), where ``sin²θ = 4d(n−d)/n²``; for
    ``θ > π/2`` it is ``1 − cap(π − θ)``. ``I`` is the regularised incomplete beta
    function, evaluated in log space by its continued fraction.

    Examples
    --------
    >>> import math
    >>> from fastsdm.theory import log_cap_fraction
    >>> round(math.exp(log_cap_fraction(3, 1.2)), 12)  # n = 3: d/n (Archimedes)
    0.4
    """
    n = _check_n_sphere(n)
    d = _check_real_radius(d, n)
    sin2, c = 4.0 * d * (n - d) / (n * n), (n - 2.0 * d) / n
    log_small = math.log(0.5) + _log_betainc(0.5 * (n - 1), 0.5, sin2, c * c)
    if 2.0 * d <= n:
        return log_small
    return math.log1p(-math.exp(log_small))


def cap_fraction(n: int, d: float) -> float:
    """Fraction of the unit sphere ``S^{n−1}`` within a cosine threshold of a point.

    Parameters
    ----------
    n : int
        Dimension of the ambient space (``n >= 2``).
    d : float
        Radius in bit units, in ``[0, n]``; the cap is ``cos >= 1 − 2d/n``.

    Returns
    -------
    float
        The activation probability of a continuous SDM location.

    Raises
    ------
    TypeError
        If ``n`` is not an integer or ``d`` is not a real number.
    ValueError
        If ``n < 2`` or ``d`` is outside ``[0, n]``.

    See Also
    --------
    log_cap_fraction, cap_intersection, activation_probability

    Notes
    -----
    ``½ I_{sin²θ}((n−1)/2, ½)`` for ``θ = arccos(1 − 2d/n) <= π/2`` and
    ``1 − cap(π − θ)`` beyond (Lee & Kim 2014). For large ``n`` it approaches the
    binary activation probability ``p(d)`` (the cosine of random unit vectors is
    nearly ``N(0, 1/n)``).

    Examples
    --------
    >>> from fastsdm.theory import cap_fraction
    >>> round(cap_fraction(1000, 451), 5)  # binary SDM: 0.00107
    0.00095
    >>> cap_fraction(64, 32)
    0.5
    """
    return math.exp(log_cap_fraction(n, d))


def log_cap_intersection(n: int, d: float, cos: float | npt.ArrayLike) -> float | np.ndarray:
    """Natural logarithm of :func:`cap_intersection`.

    Parameters
    ----------
    n : int
        Dimension of the ambient space (``n >= 2``).
    d : float
        Radius in bit units, in ``[0, n]`` (cap threshold ``1 − 2d/n``).
    cos : float or array_like of float
        Cosine(s) between the two cap centres, in ``[-1, 1]``.

    Returns
    -------
    float or numpy.ndarray
        ``log`` of the fraction of the sphere in both caps; ``-inf`` where the
        caps do not meet (``θ_v >= 2θ``).

    Raises
    ------
    TypeError
        If ``n`` is not an integer, ``d`` not real or ``cos`` not numeric.
    ValueError
        If ``n < 2``, ``d`` is outside ``[0, n]`` or ``cos`` outside ``[-1, 1]``.

    See Also
    --------
    cap_intersection

    Notes
    -----
    For ``θ <= π/2`` and centres at angle ``θ_v < 2θ`` the intersection area is
    ``2·J_n(θ_v/2, θ)`` with (Lee & Kim 2014)

    .. math:: J_n(\\theta_1, \\theta) = \\frac{\\pi^{(n-1)/2}}{\\Gamma((n-1)/2)}
              \\int_{\\theta_1}^{\\theta} \\sin^{n-2}\\phi\\;
              I_{1-(\\tan\\theta_1/\\tan\\phi)^2}\\!\\left(\\tfrac{n-2}{2}, \\tfrac12\\right)
              d\\phi,

    divided by ``|S^{n−1}| = 2π^{n/2}/Γ(n/2)``. The integral is evaluated by
    adaptive Gauss–Kronrod quadrature with the integrand scaled by its maximum, in
    log space, so the result is accurate even when it is ``1e-300``. For
    ``θ > π/2``, inclusion–exclusion reduces to the complementary caps (angle
    ``π − θ``) plus the band ``|cos| <= −cos θ``. Unlike the reference code of
    Bricken & Pehlevan (2021), the factor 2 is added as ``log 2``, not as 2.

    Examples
    --------
    >>> import math
    >>> from fastsdm.theory import log_cap_intersection
    >>> round(math.exp(log_cap_intersection(3, 1.5, 0.0)), 10)  # hemispheres: 1/4
    0.25
    """
    n = _check_n_sphere(n)
    d = _check_real_radius(d, n)
    cosines, scalar = _check_cosines(cos)
    values = _log_cap_intersections(n, d, cosines.ravel()).reshape(cosines.shape)
    return float(values[0]) if scalar else values


def cap_intersection(n: int, d: float, cos: float | npt.ArrayLike) -> float | np.ndarray:
    """Fraction of the unit sphere in the intersection of two equal caps.

    Parameters
    ----------
    n : int
        Dimension of the ambient space (``n >= 2``).
    d : float
        Radius in bit units, in ``[0, n]`` (cap threshold ``cos >= 1 − 2d/n``).
    cos : float or array_like of float
        Cosine(s) between the two cap centres, in ``[-1, 1]``.

    Returns
    -------
    float or numpy.ndarray
        Fraction(s) of ``S^{n−1}`` lying in both caps.

    Raises
    ------
    TypeError
        If ``n`` is not an integer, ``d`` not real or ``cos`` not numeric.
    ValueError
        If ``n < 2``, ``d`` is outside ``[0, n]`` or ``cos`` outside ``[-1, 1]``.

    See Also
    --------
    log_cap_intersection, expected_cap_neurons, intersection_fraction

    Notes
    -----
    The continuous analogue of ``I(h)/2^n`` (Bricken & Pehlevan 2021, App. A), via
    Lee & Kim's (2014) ``J_n``; see :func:`log_cap_intersection`.

    Examples
    --------
    >>> from fastsdm.theory import cap_intersection
    >>> [round(float(f), 6) for f in cap_intersection(2, 0.5, [1.0, 0.9, -0.6])]  # arcs on S^1
    [0.333333, 0.26155, 0.0]
    """
    values = log_cap_intersection(n, d, cos)
    return math.exp(values) if isinstance(values, float) else np.exp(values)


def expected_cap_neurons(
    n: int, d: float, cos: float | npt.ArrayLike, n_locations: float
) -> float | np.ndarray:
    """Expected number of continuous SDM locations activated by two unit vectors.

    Parameters
    ----------
    n : int
        Dimension of the ambient space (``n >= 2``).
    d : float
        Radius in bit units, in ``[0, n]``.
    cos : float or array_like of float
        Cosine(s) between the two vectors, in ``[-1, 1]``.
    n_locations : float
        Number of uniformly random unit-vector locations (positive).

    Returns
    -------
    float or numpy.ndarray
        ``N ·`` :func:`cap_intersection`.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range.

    See Also
    --------
    cap_intersection, expected_intersection

    Notes
    -----
    ``N · 2J_n(θ_v/2, θ)/|S^{n−1}|`` (Bricken & Pehlevan 2021, App. A; Lee & Kim 2014).
    The authors' code adds 2 instead of ``log 2`` in log space, overstating this
    count by ``e²/2``; this implementation does not.

    Examples
    --------
    >>> from fastsdm.theory import expected_cap_neurons
    >>> round(expected_cap_neurons(3, 1.5, 1.0, 1000), 6)
    500.0
    """
    n_locations = _check_positive(n_locations, "n_locations")
    return n_locations * cap_intersection(n, d, cos)

"""Theory of Jaeckel's selected-coordinate design (re-exported by :mod:`fastsdm.theory`).

A hard location selects ``k`` of the ``n`` coordinates and requires a value on
each; an address activates it when it agrees on all ``k`` (Jaeckel 1989).  In
a random design the ``k``-subset is uniform and the values are fair coins, so
the location is one of ``C(n, k) · 2**k`` equally likely ones.  Everything
follows from counting them:

* an address activates a location with probability ``2**-k`` (its ``k``
  coordinates must match); a location is activated by ``2**(n - k)``
  addresses;
* two addresses ``h`` bits apart both activate it when none of its ``k``
  coordinates is among the ``h`` where they differ and the values match:
  ``C(n - h, k)`` of the locations, probability ``C(n - h, k) / C(n, k) · 2**-k``;
* given that one activates it, the other does with probability
  ``C(n - h, k) / C(n, k) = Π_{i<k} (n - h - i) / (n - i) ≈ (1 - h/n)**k``,
  the design's counterpart of the ball-intersection weights ``I(h)/|O(d)|``.
  For ``h ≪ n`` it is ``≈ exp(-k h / n) = exp(-k/2 · (1 - cos))`` with
  ``cos = 1 - 2h/n``: a softmax over cosines with ``β ≈ k/2``.  Unlike
  ``I(h)`` it never vanishes before ``h = n - k`` and its log is concave in
  ``h``, so the effective β grows with the distance.

Counts are exact Python integers; probabilities are correctly rounded
quotients of them.

References
----------
.. [1] L. A. Jaeckel, "An alternative design for a sparse distributed
   memory", RIACS Technical Report 89.28, NASA Ames Research Center, 1989.
.. [2] L. A. Jaeckel, "A class of designs for a sparse distributed memory",
   RIACS Technical Report 89.30, NASA Ames Research Center, 1989.
.. [3] L. A. Jaeckel, "Method and apparatus for a sparse distributed memory
   system", US patent 5,113,507 (1992).
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from fastsdm._validation import (
    check_choice,
    check_distances,
    check_int,
    check_n,
    check_positive,
    check_probability,
)

from ._beta import BETA_METHODS
from ._hamming import radius_for_probability

__all__ = [
    "hyperplane_activation_probability",
    "hyperplane_beta",
    "hyperplane_expected_activated",
    "hyperplane_expected_intersection",
    "hyperplane_fit_beta",
    "hyperplane_intersection",
    "hyperplane_intersection_fraction",
    "hyperplane_intersection_probability",
    "hyperplane_k_for_probability",
    "hyperplane_location_count",
]

_ROUNDINGS = ("nearest", "at_least")
#: How messages name ``k``, and what they suggest when it exceeds ``n``.
_K = "k (selected coordinates per location)"
_K_HINT = "a location cannot select more coordinates than there are"


def _map_exact(h, n: int, fn):
    """``fn(h)`` for a scalar, or an object array of ``fn`` values for an array."""
    hs, scalar = check_distances(h, n)
    if scalar:
        return fn(int(hs))
    out = np.empty(hs.shape, dtype=object)
    for index, distance in np.ndenumerate(hs):
        out[index] = fn(int(distance))
    return out


def _to_float(values):
    if isinstance(values, np.ndarray):
        return np.array([float(v) for v in values.flat], dtype=np.float64).reshape(values.shape)
    return float(values)


# ---------------------------------------------------------------------------
# Counts and probabilities
# ---------------------------------------------------------------------------


def hyperplane_location_count(n: int, k: int) -> int:
    """Number of distinct selected-coordinate locations, ``C(n, k) · 2**k`` (exact).

    A random design draws its locations uniformly from these.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    k : int
        Selected coordinates per location, in ``[0, n]``.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    See Also
    --------
    hyperplane_activation_probability : One of them is activated with probability ``2**-k``.

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_location_count
    >>> hyperplane_location_count(4, 2)
    24
    """
    n = check_n(n)
    k = check_int(k, _K, 0, n, expected=f"in [0, n] = [0, {n}]", hint=_K_HINT)
    return math.comb(n, k) << k


def hyperplane_activation_probability(n: int, k: int) -> float:
    """Probability ``2**-k`` that a random address activates a location.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    k : int
        Selected coordinates per location, in ``[0, n]``.

    Returns
    -------
    float
        ``2**-k``, exact (a power of two; it underflows to 0 only beyond
        ``k = 1074``).

    Raises
    ------
    TypeError, ValueError
        If ``n`` or ``k`` is not an integer or out of range.

    Notes
    -----
    A location is activated by the ``2**(n - k)`` addresses that agree with it
    on its ``k`` selected coordinates, and a random location by a given
    address with the same probability; the number of activated locations of
    a random design of ``N`` is ``Binomial(N, 2**-k)``.

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_activation_probability
    >>> hyperplane_activation_probability(1000, 10)
    0.0009765625
    """
    n = check_n(n)
    k = check_int(k, _K, 0, n, expected=f"in [0, n] = [0, {n}]", hint=_K_HINT)
    return math.ldexp(1.0, -k)


def hyperplane_expected_activated(n: int, k: int, n_locations: float) -> float:
    """Mean number of locations of a random design activated by an address, ``N · 2**-k``.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    k : int
        Selected coordinates per location, in ``[0, n]``.
    n_locations : float
        Number ``N`` of locations of the random design (positive).

    Returns
    -------
    float
        ``N · 2**-k``: the activated count is ``Binomial(N, 2**-k)``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    See Also
    --------
    fastsdm.theory.expected_activated : The same for the radius design.

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_expected_activated
    >>> hyperplane_expected_activated(1000, 10, 10**6)
    976.5625
    """
    n_locations = check_positive(n_locations, "n_locations")
    return n_locations * hyperplane_activation_probability(n, k)


def hyperplane_intersection(n: int, k: int, h: int | npt.ArrayLike) -> int | np.ndarray:
    """Number of locations activated by both of two addresses ``h`` bits apart (exact).

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    k : int
        Selected coordinates per location, in ``[0, n]``.
    h : int or array_like of int
        Hamming distance(s) between the two addresses, in ``[0, n]``.

    Returns
    -------
    int or numpy.ndarray
        ``C(n - h, k)`` (of the :func:`hyperplane_location_count` ``C(n, k) 2**k``
        locations) as a Python int, or an ``object`` array of them with the
        shape of ``h``.

    Raises
    ------
    TypeError, ValueError
        If an argument is not an integer or out of range.

    Notes
    -----
    Both addresses activate a location exactly when its ``k`` coordinates lie
    among the ``n - h`` where they agree, and its required values are theirs
    there: ``C(n - h, k)`` coordinate sets, one value assignment each.  The
    counterpart of the ball intersection :func:`fastsdm.theory.intersection`
    (which counts points of ``{0,1}^n``).

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_intersection
    >>> hyperplane_intersection(4, 2, [0, 1, 2, 3])
    array([6, 3, 1, 0], dtype=object)
    """
    n = check_n(n)
    k = check_int(k, _K, 0, n, expected=f"in [0, n] = [0, {n}]", hint=_K_HINT)
    return _map_exact(h, n, lambda d: math.comb(n - d, k))


def hyperplane_intersection_probability(n: int, k: int,
                                        h: int | npt.ArrayLike) -> float | np.ndarray:
    """Probability that two addresses ``h`` bits apart both activate a random location.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    k : int
        Selected coordinates per location, in ``[0, n]``.
    h : int or array_like of int
        Hamming distance(s) between the two addresses, in ``[0, n]``.

    Returns
    -------
    float or numpy.ndarray
        ``C(n - h, k) / C(n, k) · 2**-k``, the correctly rounded quotient of the
        exact integers (float64 array with the shape of ``h`` for arrays).

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    See Also
    --------
    hyperplane_intersection, hyperplane_intersection_fraction

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_intersection_probability
    >>> hyperplane_intersection_probability(4, 2, 1)
    0.125
    """
    n = check_n(n)
    k = check_int(k, _K, 0, n, expected=f"in [0, n] = [0, {n}]", hint=_K_HINT)
    total = math.comb(n, k) << k
    return _to_float(_map_exact(h, n, lambda d: Fraction(math.comb(n - d, k), total)))


def hyperplane_intersection_fraction(n: int, k: int, h: int | npt.ArrayLike) -> float | np.ndarray:
    """Fraction of an address's activated locations that an address ``h`` bits away shares.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    k : int
        Selected coordinates per location, in ``[0, n]``.
    h : int or array_like of int
        Hamming distance(s) between the two addresses, in ``[0, n]``.

    Returns
    -------
    float or numpy.ndarray
        ``C(n - h, k) / C(n, k) = Π_{i<k} (n - h - i) / (n - i)``, correctly
        rounded; the counterpart of :func:`fastsdm.theory.intersection_fraction`
        (the weight a pattern ``h`` bits from a query gets in a read).

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    See Also
    --------
    hyperplane_beta, hyperplane_fit_beta : β of these weights.

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_intersection_fraction
    >>> [round(1000 * f) for f in hyperplane_intersection_fraction(1000, 10, [0, 10, 50, 200])]
    [1000, 904, 597, 106]
    """
    n = check_n(n)
    k = check_int(k, _K, 0, n, expected=f"in [0, n] = [0, {n}]", hint=_K_HINT)
    total = math.comb(n, k)
    return _to_float(_map_exact(h, n, lambda d: Fraction(math.comb(n - d, k), total)))


def hyperplane_expected_intersection(n: int, k: int, h: int | npt.ArrayLike,
                                     n_locations: float) -> float | np.ndarray:
    """Expected number of locations of a random design activated by both addresses.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    k : int
        Selected coordinates per location, in ``[0, n]``.
    h : int or array_like of int
        Hamming distance(s) between the two addresses, in ``[0, n]``.
    n_locations : float
        Number ``N`` of locations of the random design (positive).

    Returns
    -------
    float or numpy.ndarray
        ``N · C(n - h, k) / C(n, k) · 2**-k``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    See Also
    --------
    hyperplane_intersection_probability, fastsdm.theory.expected_intersection

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_expected_intersection
    >>> round(hyperplane_expected_intersection(1000, 10, 100, 10**6), 2)
    338.8
    """
    n_locations = check_positive(n_locations, "n_locations")
    return n_locations * hyperplane_intersection_probability(n, k, h)


def hyperplane_k_for_probability(n: int, p: float, rounding: str = "nearest") -> int:
    """Selected coordinates ``k`` whose activation probability ``2**-k`` matches ``p``.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``); ``k`` is at most ``n``.
    p : float
        Target activation probability, in ``(0, 1]``.
    rounding : {"nearest", "at_least"}
        ``"nearest"``: ``2**-k`` nearest ``p`` on a log scale (ties to the
        smaller ``k``).  ``"at_least"``: the largest ``k`` with ``2**-k >= p``,
        the convention of :func:`fastsdm.theory.radius_for_probability`.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    Notes
    -----
    Exact: ``p`` is compared as the rational number it represents with
    ``2**-k`` and, for ``"nearest"``, with ``2**-(k + 1/2)`` through
    ``p**2`` against ``2**-(2k + 1)``.

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_k_for_probability
    >>> hyperplane_k_for_probability(1000, 0.001), hyperplane_k_for_probability(
    ...     1000, 0.001, rounding="at_least")
    (10, 9)
    """
    n = check_n(n)
    check_probability(p, "p")
    rounding = check_choice(rounding, "rounding", _ROUNDINGS)
    target = Fraction(p) if isinstance(p, numbers.Rational) else Fraction(float(p))
    k = 0  # the largest k with 2**-k >= p
    while k < n and Fraction(1, 1 << (k + 1)) >= target:
        k += 1
    if rounding == "nearest" and k < n and target * target < Fraction(1, 1 << (2 * k + 1)):
        k += 1  # p is below the geometric midpoint of 2**-k and 2**-(k+1)
    return k


# ---------------------------------------------------------------------------
# The β-like decay
# ---------------------------------------------------------------------------


def hyperplane_beta(n: int, k: int) -> float:
    """β of the design's weights at ``h = 0``: ``−(n/2) ln(1 − k/n)``.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 1``).
    k : int
        Selected coordinates per location, in ``[0, n − 1]``.

    Returns
    -------
    float
        The slope, per unit of cosine, of ``ln C(n − h, k)`` between ``h = 0``
        and ``h = 1``: one bit of distance multiplies the weight by
        ``C(n − 1, k)/C(n, k) = 1 − k/n``, and one bit is ``2/n`` of cosine.
        It tends to ``k/2`` as ``n → ∞``.

    Raises
    ------
    TypeError, ValueError
        If an argument is not an integer or out of range (``k = n`` leaves no
        bit to differ on).

    See Also
    --------
    hyperplane_fit_beta : The least-squares β over a range of distances.

    Notes
    -----
    The weights ``C(n − h, k)/C(n, k)`` are ``≈ exp(−k h / n)`` for ``h ≪ n``,
    i.e. ``softmax(β cos)`` with ``β ≈ k/2`` (``cos = 1 − 2h/n``).  Further
    out each extra bit multiplies the weight by ``(n − h − k)/(n − h)``, which
    shrinks with ``h``: the decay steepens, so a single β describes the
    weights only near ``h = 0``.

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_beta
    >>> round(hyperplane_beta(1000, 10), 4), round(hyperplane_beta(10**6, 10), 4)
    (5.0252, 5.0)
    """
    n = check_n(n)
    k = check_int(k, _K, 0, n, expected=f"in [0, n] = [0, {n}]", hint=_K_HINT)
    if k == n:
        raise ValueError(f"hyperplane_beta needs k < n (got k = n = {n}): with every "
                         "coordinate selected a single differing bit already removes every "
                         "shared location")
    return -0.5 * n * math.log1p(-k / n) + 0.0  # + 0.0: k = 0 gives 0.0, not -0.0


def hyperplane_fit_beta(n: int, k: int, h_max: int | None = None,
                        method: str = "paper") -> float:
    """Softmax β that best mimics the design's weights over ``h = 0..h_max − 1``.

    Parameters
    ----------
    n : int
        Number of bits (``n >= 2``).
    k : int
        Selected coordinates per location, in ``[1, n − 1]``.
    h_max : int, optional
        Fit the distances ``0..h_max − 1``, in ``[2, n − k + 1]`` (the weights are
        zero beyond ``n − k``).  Default: the radius with the same activation
        probability, ``radius_for_probability(n, 2**-k)``, capped at
        ``n − k + 1``, so the result compares with
        ``fastsdm.theory.fit_beta(n, that radius)``.
    method : {"paper", "ols"}
        The estimator of :func:`fastsdm.theory.fit_beta`: ``"paper"`` divides a
        ``ddof=1`` covariance by a ``ddof=0`` variance (the convention that
        reproduces Bricken & Pehlevan's β values), ``"ols"`` is least squares.

    Returns
    -------
    float
        The slope of ``ln C(n − h, k)`` against ``cos = 1 − 2h/n``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    See Also
    --------
    hyperplane_beta : The slope at ``h = 0``.

    Examples
    --------
    >>> from fastsdm.theory import hyperplane_fit_beta
    >>> from fastsdm.theory import fit_beta
    >>> round(hyperplane_fit_beta(64, 10), 2), round(fit_beta(64, 20), 2)  # same p
    (6.81, 5.6)
    """
    n = check_n(n)
    if n < 2:
        raise ValueError(f"hyperplane_fit_beta needs n >= 2 (two distances to fit), got {n}")
    k = check_int(k, _K, 0, n, expected=f"in [0, n] = [0, {n}]", hint=_K_HINT)
    if not 1 <= k <= n - 1:
        raise ValueError(f"hyperplane_fit_beta needs k in [1, n - 1] = [1, {n - 1}], got {k}; "
                         "k = 0 gives flat weights (no decay) and k = n none beyond h = 0")
    if h_max is None:
        # Fraction: 2**-k underflows to 0.0 as a float for k > 1074.
        h_max = min(max(2, radius_for_probability(n, Fraction(1, 1 << k))), n - k + 1)
    h_max = check_int(h_max, "h_max", 2, n - k + 1,
                      expected=f"in [2, n - k + 1] = [2, {n - k + 1}]",
                      hint="the weights vanish beyond h = n - k")
    method = check_choice(method, "method", BETA_METHODS)
    h = np.arange(int(h_max))
    lf = [math.lgamma(v + 1.0) for v in range(n + 1)]
    y = np.array([lf[n - d] - lf[k] - lf[n - d - k] for d in h])  # ln C(n - h, k)
    x = 1.0 - 2.0 * h / n
    xc = x - x.mean()
    slope = float(xc @ (y - y.mean()) / (xc @ xc))
    if method == "paper":
        slope *= x.size / (x.size - 1)
    return slope

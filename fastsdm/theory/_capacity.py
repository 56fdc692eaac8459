"""Optimal radii: signal-to-noise ratio, memory capacity and critical distance.

Kanerva's (1993) signal-to-noise ratio, the capacity it implies, the
activation probabilities that maximise them, and the radius that maximises
each criterion, the critical distance included (through the one-read models
of ``_reads``).  Re-exported by :mod:`fastsdm.theory`.
"""

from __future__ import annotations

import functools
import math
import numbers
import statistics

import numpy as np

from fastsdm._validation import (
    check_choice,
    check_flag,
    check_n,
    check_positive,
    check_probability,
    check_radius,
)

from ._hamming import log_activation_probabilities, log_ball_size, radius_for_probability
from ._logspace import LOG2
from ._reads import READ_MODELS, crossing, one_step_curve

__all__ = ["snr", "capacity", "optimal_probability", "optimal_radius"]

_CRITERIA = ("snr", "memory", "critical_distance")
_ROUNDINGS = ("paper", "argmax")


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
    n = check_n(n)
    d = check_radius(d, n)
    log_r = math.log(check_positive(n_locations, "n_locations"))
    log_m = math.log(check_positive(n_patterns, "n_patterns"))
    log_p = log_ball_size(n, d) - n * LOG2
    return math.exp(_log_snr(log_p, log_r, log_m))


def _default_z(n: int, z, p_whole) -> float:
    if z is not None:
        return check_positive(z, "z", "3.0")
    p_whole = check_probability(p_whole, "p_whole", allow_one=False)
    per_bit = p_whole ** (1.0 / n)
    if not 0.5 < per_bit < 1.0:
        # z <= 0 asks each bit to be right no more often than a coin flip (the formulas
        # would divide by z**2 = 0, or read a negative z as positive); 1.0 is rounding.
        raise ValueError(f"p_whole={p_whole!r} over n={n} bits asks each bit to be right with "
                         f"probability {per_bit!r}, which gives no positive z-score; pass "
                         f"p_whole in (0.5**n, 1) = ({0.5**n!r}, 1) with margin, or z=")
    return statistics.NormalDist().inv_cdf(per_bit)


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
    n = check_n(n)
    d = check_radius(d, n)
    r = check_positive(n_locations, "n_locations")
    z = _default_z(n, z, p_whole)
    return _capacity(log_ball_size(n, d) - n * LOG2, r, z)


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


def _n_first(fn):
    # optimal_probability(n, n_locations, n_patterns[, criterion]): the order of
    # every other theory function, recognised by a number where the older order
    # (n_locations, n_patterns, criterion) has the criterion's name.
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if len(args) < 3 or isinstance(args[2], (str, bool)) or not isinstance(
                args[2], numbers.Real):
            return fn(*args, **kwargs)
        if len(args) > 4:
            raise TypeError(f"optimal_probability() takes at most 4 positional arguments "
                            f"(n, n_locations, n_patterns, criterion), got {len(args)}")
        if "n" in kwargs:
            raise TypeError("optimal_probability() got n twice: first positionally "
                            "(n, n_locations, n_patterns) and as n=; pass it once")
        n, *rest = args
        return fn(*rest, n=n, **kwargs)

    return wrapper


@_n_first
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

    Also callable in the order of the other theory functions,
    ``optimal_probability(n, n_locations, n_patterns[, criterion])``: three
    numbers first mean ``n`` comes first (the older order has the criterion's
    name third, so the two cannot be confused).  With one or two positional
    numbers, they are ``n_locations`` and ``n_patterns``.

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
        ``−2r²p³ + 3r p² z² + z² = 0``.  Both are clipped to 1: for ``"snr"``
        with ``2 m r < 1`` the SNR increases with ``p`` on all of ``(0, 1]``, so
        ``p = 1`` (every location, radius ``n``) is the optimum.

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
    >>> optimal_probability(64, 2**64, 1024) == optimal_probability(2**64, 1024)  # n first
    True
    >>> optimal_probability(64, 2**64, 1024, "memory") == optimal_probability(
    ...     2**64, criterion="memory", n=64)
    True
    """
    criterion = check_choice(criterion, "criterion", _CRITERIA)
    r = check_positive(n_locations, "n_locations")
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
        m = check_positive(n_patterns, "n_patterns")
        # SNR² = p r / (1 + p m + p³ m r) increases while 2 m r p³ < 1: for
        # 2 m r < 1 it increases on all of (0, 1], so the optimum is p = 1.
        return min(1.0, math.exp(-(math.log(2.0) + math.log(m) + math.log(r)) / 3.0))
    if z is None and n is None:
        raise ValueError(
            "criterion='memory' needs n (to derive z from p_whole) or z, got neither; "
            "pass n=<number of bits> or z=<per-bit z-score>"
        )
    z = check_positive(z, "z", "3.0") if z is not None else _default_z(check_n(n), None, p_whole)
    return _memory_optimal_probability(r, z)


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

    ``criterion="critical_distance"`` evaluates the one-step read curve of every
    radius up to ``n/2``: O(n²) work, 2-3 s at ``n = 10**4`` and about 20 s at
    ``3·10**4`` on one core (hours at ``10**6``). The other criteria are O(n).

    Examples
    --------
    >>> from fastsdm.theory import optimal_radius
    >>> [optimal_radius(64, 2**64, 1024, c) for c in ("snr", "memory", "critical_distance")]
    [11, 5, 15]
    >>> optimal_radius(64, 2**64, 1024, "critical_distance", return_all=True)
    (15, 16, 17)
    """
    n = check_n(n)
    r = check_positive(n_locations, "n_locations")
    m = check_positive(n_patterns, "n_patterns")
    criterion = check_choice(criterion, "criterion", _CRITERIA)
    rounding = check_choice(rounding, "rounding", _ROUNDINGS)
    model = check_choice(model, "model", READ_MODELS)
    return_all = check_flag(return_all, "return_all")
    if criterion == "critical_distance":
        m = check_positive(n_patterns, "n_patterns", minimum=1, why=" for the critical distance",
                           hint="store at least one pattern")
        ties = _ties([crossing(one_step_curve(n, d, r, m, model))
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
                              for lp in log_activation_probabilities(n)])
        else:
            z = _default_z(n, z, p_whole)
            if rounding == "paper":
                ties = (radius_for_probability(n, _memory_optimal_probability(r, z)),)
            else:
                ties = _ties([_capacity(lp, r, z) for lp in log_activation_probabilities(n)])
    return ties if return_all else ties[0]

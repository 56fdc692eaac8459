"""β: the softmax inverse temperature that mimics the SDM read weights.

The exponential fit ``I(h) ≈ c1·exp(−c2·h)``, ``β = c2·n/2`` (Bricken &
Pehlevan 2021), to the ball intersections of the binary memory and to the
cap intersections of the continuous one.  Re-exported by
:mod:`fastsdm.theory`.
"""

from __future__ import annotations

import numpy as np

from fastsdm._validation import check_choice, check_int, check_n, check_positive, check_radius

from ._caps import log_cap_intersection
from ._hamming import log_intersections_at

__all__ = ["BETA_METHODS", "fit_beta", "radius_for_beta", "fit_cap_beta"]

#: The β estimators of :func:`fit_beta` (and of the hyperplane design's fit).
BETA_METHODS = ("paper", "ols")
#: Widest n of :func:`fit_cap_beta`: β / n² stays within 4e-5 of its value at
#: n = 1e6 up to 1e9; at 1e10 the log cap intersections of cosines 2e-10 apart
#: lost their accuracy (β off 14×), and at 1e13 the quadrature did not finish in 30 s.
CAP_FIT_MAX_N = 10**9


def _fit_line(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float]:
    xc = x - x.mean()
    slope = float(xc @ (y - y.mean()) / (xc @ xc))
    if method == "paper":
        slope *= x.size / (x.size - 1)  # cov (ddof=1) over var (ddof=0)
    return slope, float(y.mean() - slope * x.mean())


def _fit_cosines(n: int, y: np.ndarray, method: str) -> tuple[float, float]:
    """The line ``y = intercept + β cos`` through ``y`` at the cosines ``1 − 2h/n``,
    ``h = 0, 1, ...``, fitted against the integers ``h`` and converted exactly:
    centring the cosines themselves in float64 lost their 2/n spacing (a 27 %
    error at n = 2**53, 1e-5 already at n = 1e12)."""
    slope_h, intercept_h = _fit_line(np.arange(y.size, dtype=np.float64), y, method)
    # y = a + b h with h = n (1 − cos) / 2:  y = (a + b n/2) − (b n/2) cos
    return -slope_h * (n / 2), intercept_h + slope_h * (n / 2)


def _fit_beta(n: int, d: int, method: str) -> tuple[float, float]:
    h = np.arange(d)  # (only these d distances: O(d) memory, not O(n))
    return _fit_cosines(n, log_intersections_at(n, d, h), method)


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
    n = check_n(n, minimum=2, why=" for a β fit", maximum=2**53,
                why_maximum=" (beyond, the cosines 1 - 2h/n are not distinct in float64)")
    d = check_int(d, "radius d")
    if d < 2:
        raise ValueError(
            f"fit_beta needs at least two points (h = 0..d-1), so d must be >= 2, got {d}; "
            f"use a radius of 2 or more"
        )
    d = check_radius(d, n, minimum=2)
    method = check_choice(method, "method", BETA_METHODS)
    slope, intercept = _fit_beta(n, d, method)
    # The intersections never grow with h, so β >= 0; near d = n they are flat
    # to double precision and the fit returns rounding noise, e.g. -6.6e-31.
    slope = slope if slope > 0 else 0.0
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
    n = check_n(n, minimum=4, why=" so that the radii [2, n//2] are not empty")
    beta = check_positive(beta, "beta", "15.6")
    method = check_choice(method, "method", BETA_METHODS)
    radii = range(2, n // 2 + 1)
    gaps = [abs(_fit_beta(n, d, method)[0] - beta) for d in radii]
    return radii[int(np.argmin(gaps))]


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
    n = check_n(n, minimum=2, why=" for a β fit", maximum=CAP_FIT_MAX_N,
                why_maximum=" (beyond, the caps' quadrature loses its accuracy)")
    d = check_int(d, "radius d")
    if d < 2:
        raise ValueError(
            f"fit_cap_beta needs at least two points (h = 0..d-1), so d must be >= 2, got {d}; "
            f"use a radius of 2 or more"
        )
    d = check_radius(d, n, minimum=2)
    method = check_choice(method, "method", BETA_METHODS)
    y = log_cap_intersection(n, d, 1.0 - 2.0 * np.arange(d) / n)
    slope, intercept = _fit_cosines(n, y, method)
    slope = slope if slope > 0 else 0.0  # flat at d = n: -0.0 or noise, as in fit_beta
    return (slope, intercept) if return_intercept else slope

"""Hyperspherical caps of the continuous SDM: their areas and intersections.

A cap of radius ``d`` (bit units) on ``S^{n-1}`` is ``cos >= 1 - 2d/n``; its
area is a regularised incomplete beta function and the intersection of two
caps a one-dimensional integral (Lee & Kim 2014), evaluated by numba kernels
in log space: a continued fraction for the incomplete beta and adaptive
Gauss-Kronrod quadrature for the lens.  Re-exported by :mod:`fastsdm.theory`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from fastsdm._jit import jit
from fastsdm._validation import check_cosines, check_n, check_positive, check_radius

from ._logspace import logaddexp

__all__ = [
    "log_cap_fraction",
    "cap_fraction",
    "log_cap_intersection",
    "cap_intersection",
    "expected_cap_neurons",
]

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
            out[i] = logaddexp(band, _log_lens(n, c, sin2, v))
    return out


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
    n = check_n(n, 2, " for caps on the sphere S^(n-1)")
    d = check_radius(d, n, real=True)
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
    n = check_n(n, 2, " for caps on the sphere S^(n-1)")
    d = check_radius(d, n, real=True)
    cosines, scalar = check_cosines(cos)
    values = _log_cap_intersections(n, d, cosines.ravel()).reshape(cosines.shape)
    return float(values) if scalar else values


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
    n_locations = check_positive(n_locations, "n_locations")
    return n_locations * cap_intersection(n, d, cos)

"""Exact quantiles of Binomial(n, 1/2) for any n, in time ~sqrt(n).

:func:`quantile` returns the smallest ``d`` with ``P(Bin(n, 1/2) <= d) >= p``
for a rational ``p``, exactly, as the all-integer sum of binomials does, but
without the ``O(n^2)``-bit big-integer sums (``n = 10**6`` took minutes):

1. A floating-point estimate ``d0`` (log-space sums in NumPy, bisection).
2. A rigorous decision of ``P(X <= d) >= p`` at ``d0 - 1`` and ``d0`` (and
   neighbours if the estimate was off): ``log P(X <= d)`` is enclosed in an
   interval from 60-digit decimal arithmetic with an explicit error bound
   (Stirling's series with its remainder bound, a ratio series with its tail
   bound, and a bound on every rounding), and compared with ``log p``.
3. Only if ``log p`` lies inside the interval (a tie within ~1e-40, in
   practice only when ``p`` equals a binomial tail exactly) is the exact
   integer sum used.

Known exact values are used directly: ``P(X <= d) = 1/2`` at
``d = (n - 1)/2`` for odd ``n``, 0 below 0 and 1 from ``n`` on.  The lower
half of the distribution is computed as ``C(n, e) / 2**n * R`` with
``R = sum_j prod_{i<j} (e - i) / (n - e + 1 + i)`` (a series of decreasing
ratios below 1), the upper half by symmetry:
``P(X <= d) = 1 - P(X <= n - 1 - d)``.
"""

from __future__ import annotations

import functools
import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np

__all__ = ["quantile", "probability", "log_ball", "exact_count"]

#: Up to this n the exact integer sums are fast (milliseconds) and are used.
EXACT_MAX_N = 1500
#: Digits of the decimal enclosure.
_DIGITS = 60
#: Below this, ln(z!) is computed from the exact factorial.
_EXACT_FACTORIAL = 1000
# Bernoulli numbers B_2, B_4, ..., B_26 (the last bounds the remainder).
_BERNOULLI = [Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30),
              Fraction(5, 66), Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510),
              Fraction(43867, 798), Fraction(-174611, 330), Fraction(854513, 138),
              Fraction(-236364091, 2730), Fraction(8553103, 6)]


def _sign(x) -> int:
    return (x > 0) - (x < 0)


# -- exact integers (small n, and ties) ------------------------------------------------


def _exact_compare(n: int, d: int, target: Fraction) -> int:
    """sign(P(X <= d) - target) from the exact sum of binomials."""
    return _sign(exact_count(n, d) * target.denominator - (target.numerator << n))


def _exact_quantile(n: int, target: Fraction) -> int:
    threshold = target.numerator << n
    total, term = 0, 1
    for d in range(n + 1):
        total += term
        if total * target.denominator >= threshold:
            return d
        term = term * (n - d) // (d + 1)
    return n


# -- the floating-point estimate ---------------------------------------------------------


def _series_length(n: int, e: int, tail_log: float) -> int:
    """Terms of the ratio series of ``e`` (< (n-1)/2) after which ``log r_j < tail_log``."""
    # log r_j <= -j (1 - rho_0) and, from the j**2 term, <= -j**2 / n: take
    # the shorter, with a margin.
    rho0 = e / (n - e + 1)
    by_ratio = -tail_log / max(1e-300, -math.log(rho0)) if e else 1
    by_square = math.sqrt(-tail_log * n)
    return int(min(e + 1, 2 + 1.25 * min(by_ratio, by_square)))


def _float_log_lower(n: int, e: int) -> float:
    """Estimate of ``log P(X <= e)`` for ``2 e < n - 1`` (double precision)."""
    log_c = math.lgamma(n + 1) - math.lgamma(e + 1) - math.lgamma(n - e + 1) - n * math.log(2)
    J = _series_length(n, e, -45.0)
    j = np.arange(J - 1, dtype=np.float64)
    log_r = np.concatenate([[0.0], np.cumsum(np.log((e - j) / (n - e + 1 + j)))])
    top = log_r.max()
    return log_c + top + math.log(np.exp(log_r - top).sum())


def _float_reaches(n: int, d: int, log_p: float, log_q: float) -> bool:
    """Estimate of ``P(X <= d) >= p``, given ``log p`` and ``log q = log(1 - p)``."""
    if d >= n:
        return True
    if d < 0:
        return False
    if 2 * d == n - 1:
        return log_p <= -math.log(2)
    if 2 * d < n - 1:
        return _float_log_lower(n, d) >= log_p
    return _float_log_lower(n, n - 1 - d) <= log_q


def _log(q: Fraction) -> float:
    """``log q`` in double precision, also for q far below the smallest double."""
    return -math.inf if q <= 0 else math.log(q.numerator) - math.log(q.denominator)


# -- the rigorous enclosure --------------------------------------------------------------


def _ln_factorial(z: int) -> tuple[Decimal, Decimal]:
    """``ln(z!)`` and a bound on its truncation error (rounding counted by the caller)."""
    if z < _EXACT_FACTORIAL:
        return Decimal(math.factorial(z)).ln(), Decimal(0)
    x = Decimal(z)
    value = (x + Decimal("0.5")) * x.ln() - x + _half_ln_two_pi()
    power = x
    x2 = x * x
    for k, b in enumerate(_BERNOULLI[:-1], start=1):
        value += Decimal(b.numerator) / (Decimal(b.denominator) * (2 * k) * (2 * k - 1) * power)
        power *= x2
    k = len(_BERNOULLI)
    b = _BERNOULLI[-1]
    remainder = abs(Decimal(b.numerator)) / (Decimal(b.denominator) * (2 * k) * (2 * k - 1)
                                             * power)
    return value, remainder


@functools.lru_cache(maxsize=4)
def _half_ln_two_pi_digits(digits: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = digits + 10
        eps = Decimal(10) ** -(digits + 10)

        def arctan_inv(m: int) -> Decimal:  # arctan(1/m), alternating series
            total, k, power = Decimal(0), 0, Decimal(1) / m
            while power > eps:
                total += (power if k % 2 == 0 else -power) / (2 * k + 1)
                power /= m * m
                k += 1
            return total

        pi = 4 * (4 * arctan_inv(5) - arctan_inv(239))  # Machin's formula
        return (2 * pi).ln() / 2


def _half_ln_two_pi() -> Decimal:
    return +_half_ln_two_pi_digits(_DIGITS)  # unary plus: round to the context


def _log_lower_enclosure(n: int, e: int) -> tuple[Decimal, Decimal]:
    """``(lo, hi)`` with ``lo <= log P(X <= e) <= hi``, for ``0 <= e`` and ``2 e < n - 1``."""
    with localcontext() as ctx:
        ctx.prec = _DIGITS
        ulp = Decimal(10) ** (1 - _DIGITS)  # relative rounding error of one operation
        ln_n, err_n = _ln_factorial(n)
        ln_e, err_e = _ln_factorial(e)
        ln_m, err_m = _ln_factorial(n - e)
        ln2n = n * Decimal(2).ln()
        # The ratio series R >= 1: terms r_j, each with (2 j + 1) roundings.
        total, term, j = Decimal(1), Decimal(1), 0
        a, b = Decimal(e), Decimal(n - e + 1)
        tail = Decimal(0)
        while j < e:
            term = term * (a - j) / (b + j)
            total += term
            j += 1
            if j % 16 == 0 and j < e:
                # Later ratios are smaller: the rest is below term * ratio / (1 - ratio).
                ratio = (a - j) / (b + j)
                tail = term * ratio / (1 - ratio)
                if tail < ulp:
                    break
                tail = Decimal(0)
        ln_r = total.ln()
        value = ln_n - ln_e - ln_m - ln2n + ln_r
        magnitude = abs(ln_n) + abs(ln_e) + abs(ln_m) + abs(ln2n) + abs(ln_r) + 1
        # Stirling: about 60 operations per factorial on numbers of at most
        # `magnitude`; the series: (2 j + 2) relative roundings and its tail;
        # both counted four times over.
        error = (4 * (200 * magnitude + 2 * j + 2) * ulp + tail
                 + err_n + err_e + err_m)
        return value - error, value + error


def _log_fraction(q: Fraction) -> tuple[Decimal, Decimal]:
    with localcontext() as ctx:
        ctx.prec = _DIGITS
        value = Decimal(q.numerator).ln() - Decimal(q.denominator).ln()
        error = 4 * (abs(value) + 1000) * Decimal(10) ** (1 - _DIGITS)
        return value - error, value + error


def _lower_compare(n: int, e: int, q: Fraction) -> int:
    """sign(P(X <= e) - q) for ``0 <= e`` and ``2 e < n - 1``."""
    if q <= 0:
        return 1
    if q >= 1:
        return -1
    lo, hi = _log_lower_enclosure(n, e)
    q_lo, q_hi = _log_fraction(q)
    if lo > q_hi:
        return 1
    if hi < q_lo:
        return -1
    return _exact_compare(n, e, q)  # a tie within the enclosure: decide exactly


def compare(n: int, d: int, target: Fraction) -> int:
    """sign(P(Bin(n, 1/2) <= d) - target), exactly."""
    if d < 0:
        return _sign(-target)
    if d >= n:
        return _sign(1 - target)
    if 2 * d == n - 1:
        return _sign(Fraction(1, 2) - target)
    if 2 * d < n - 1:
        return _lower_compare(n, d, target)
    return -_lower_compare(n, n - 1 - d, 1 - target)


def quantile(n: int, target: Fraction) -> int:
    """Smallest ``d`` with ``P(Bin(n, 1/2) <= d) >= target``, for ``0 < target <= 1``."""
    if n <= EXACT_MAX_N:
        return _exact_quantile(n, target)
    log_p, log_q = _log(target), _log(1 - target)
    lo, hi = -1, n  # reaches(lo) is false, reaches(hi) is true
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _float_reaches(n, mid, log_p, log_q):
            hi = mid
        else:
            lo = mid
    d = hi
    # Make it exact: reaches(d) and not reaches(d - 1), stepping if the
    # estimate was off (by one at most, in practice).
    while d < n and compare(n, d, target) < 0:
        d += 1
    while d > 0 and compare(n, d - 1, target) >= 0:
        d -= 1
    return d


# -- correctly rounded values ------------------------------------------------------------


def exact_count(n: int, d: int) -> int:
    """``|O_n(d)| = sum_{k <= d} C(n, k)`` exactly, summing the shorter side (the other
    by complement); 0 below ``d = 0`` and ``2**n`` from ``d = n`` on."""
    if d < 0:
        return 0
    if d >= n:
        return 1 << n
    if 2 * d < n:
        total = term = 1
        for k in range(d):
            term = term * (n - k) // (k + 1)
            total += term
        return total
    return (1 << n) - exact_count(n, n - 1 - d)


def _widen(lo: Decimal, hi: Decimal) -> tuple[Decimal, Decimal]:
    """``(lo, hi)`` moved outwards by two units of the 60-digit precision (one rounding)."""
    slack = 2 * Decimal(10) ** (1 - _DIGITS)
    return lo - abs(lo) * slack, hi + abs(hi) * slack


def probability(n: int, d: int) -> float:
    """``P(Bin(n, 1/2) <= d)``, correctly rounded to float64, for any ``n``.

    Beyond :data:`EXACT_MAX_N`, the enclosure of ``log P`` (error ~1e-40)
    is exponentiated at 60 digits; when both ends round to the same double
    that double is the correctly rounded value, otherwise (``P`` within
    ~1e-40 of a rounding boundary) the exact integer quotient decides.
    """
    if d < 0:
        return 0.0
    if d >= n:
        return 1.0
    if 2 * d == n - 1:
        return 0.5
    if n <= EXACT_MAX_N:
        return exact_count(n, d) / (1 << n)
    lower = 2 * d < n - 1
    lo, hi = _log_lower_enclosure(n, d if lower else n - 1 - d)
    with localcontext() as ctx:
        ctx.prec = _DIGITS
        if lower:
            if hi < -746:  # P < 2**-1076: rounds to 0.0
                return 0.0
            a, b = _widen(lo.exp(), hi.exp())
        else:
            if hi < -200:  # 1 - P < 1e-86: rounds to 1.0
                return 1.0
            q_lo, q_hi = _widen(lo.exp(), hi.exp())
            a, b = _widen(1 - q_hi, 1 - q_lo)
    fa, fb = float(a), float(b)  # float(Decimal) rounds correctly
    if fa == fb:
        return fa
    return exact_count(n, d) / (1 << n)  # int / int rounds correctly


def log_ball(n: int, d: int) -> float:
    """``log |O_n(d)|`` within an ulp or so, for ``0 <= d < n`` (no O(n) table).

    Up to :data:`EXACT_MAX_N` the log of the exact integer; beyond, the
    enclosure of ``log P(Bin(n, 1/2) <= d)`` plus ``n log 2`` at 60 digits.
    """
    if n <= EXACT_MAX_N or (2 * d < n and d < 16):  # exact integers are cheap
        return math.log(exact_count(n, d))
    if 2 * d == n - 1:
        with localcontext() as ctx:
            ctx.prec = _DIGITS
            return float((n - 1) * Decimal(2).ln())
    lower = 2 * d < n - 1
    lo, hi = _log_lower_enclosure(n, d if lower else n - 1 - d)
    with localcontext() as ctx:
        ctx.prec = _DIGITS
        ln2n = n * Decimal(2).ln()
        if lower:
            return float((lo + hi) / 2 + ln2n)
        if hi < -200:  # log(1 - Q) = -Q within 1e-86: below any double's precision here
            return float(ln2n)
        return float((1 - ((lo + hi) / 2).exp()).ln() + ln2n)


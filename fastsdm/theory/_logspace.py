"""Log-space numerics shared by the theory modules: sums of positive terms only.

Log-factorial tables (cached per dimension), log-binomials, and log-sum-exp
in NumPy and as a numba scalar for the kernels of ``_reads`` and
``_caps``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from fastsdm._jit import jit

__all__ = ["LOG2", "log_factorials", "log_comb", "logsumexp", "logaddexp"]

LOG2 = math.log(2.0)


@lru_cache(maxsize=8)
def log_factorials(n: int) -> np.ndarray:
    """``log k!`` for ``k = 0..n`` (read-only, cached: built once per dimension)."""
    table = np.array([math.lgamma(k + 1.0) for k in range(n + 1)])
    table.flags.writeable = False
    return table


def log_comb(lf: np.ndarray, a, b):
    return lf[a] - lf[b] - lf[a - b]


def logsumexp(values: np.ndarray) -> float:
    top = float(np.max(values))
    if top == -math.inf:
        return top
    return top + math.log(float(np.sum(np.exp(values - top))))


@jit
def logaddexp(a, b):
    # Scalar log(e^a + e^b) for kernels; -inf is the log of an empty sum.
    top = max(a, b)
    if top == -math.inf:
        return top
    return top + math.log1p(math.exp(min(a, b) - top))

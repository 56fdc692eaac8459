"""Theory sweeps and the attention comparison (NumPy / math, no Hamming scans).

``log_intersection`` and ``fit_beta`` share a per-dimension table of log
factorials (functools.lru_cache); ``setup`` fills it, so the timings are the
steady-state cost of a sweep, not the one-off table.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

from fastsdm import attention, theory


class LogIntersectionSweep:
    """log I(h) for every h = 0..n and every radius d = 0..n."""

    params = [[1000, 4096]]
    param_names = ["n"]
    repeat = (1, 5, 20.0)

    def setup(self, n):
        self.h = np.arange(n + 1)
        theory.log_intersection(n, n // 2, self.h)  # fills the log-factorial table

    def time_all_radii(self, n):
        for d in range(n + 1):
            theory.log_intersection(n, d, self.h)


class ExactIntersection:
    """Exact integer I(h) (Python big integers) at Kanerva's canonical point."""

    params = [[(1000, 451)]]
    param_names = ["n, d"]

    def setup(self, nd):
        n, d = nd
        theory.intersection(n, d, 300)

    def time_intersection_scalar(self, nd):
        n, d = nd
        theory.intersection(n, d, 300)


class FitBetaSweep:
    """fit_beta for every radius d = 2..n (the β-versus-radius curve)."""

    params = [[64, 1000], ["paper", "ols"]]
    param_names = ["n", "method"]
    repeat = (1, 5, 20.0)

    def setup(self, n, method):
        theory.fit_beta(n, n // 2, method)

    def time_fit_beta_all_radii(self, n, method):
        for d in range(2, n + 1):
            theory.fit_beta(n, d, method)


class OptimalRadius:
    params = [["snr", "memory", "critical_distance"]]
    param_names = ["criterion"]

    def setup(self, criterion):
        theory.optimal_radius(1000, 10**6, 1000, criterion=criterion)

    def time_optimal_radius_canonical(self, criterion):
        theory.optimal_radius(1000, 10**6, 1000, criterion=criterion)


class CompareWeights:
    """attention.compare_weights: SDM weight curve vs the fitted softmax."""

    params = [[(64, 11), (1000, 451), (4096, 1949)]]
    param_names = ["n, d"]

    def setup(self, nd):
        n, d = nd
        attention.compare_weights(n, d)

    def time_compare_weights(self, nd):
        n, d = nd
        attention.compare_weights(n, d)

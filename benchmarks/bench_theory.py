"""Theory sweeps and the attention comparison (NumPy / math, no Hamming scans).

``log_intersection`` and ``fit_beta`` share a per-dimension table of log
factorials (functools.lru_cache), ``critical_distance`` a per-(n, d) table,
and the cap functions a compiled kernel; ``setup`` makes the same call
first, so the timings are the steady-state cost of a sweep, not the one-off
tables or compilation.  (The other attention functions: bench_attention.)
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

from fastsdm import attention, theory

from ._common import continuous_radius


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
    """Exact integer I(h) (Python big integers) at Kanerva's canonical point and at
    n = 10^5 (each lune term from the one before by a small-integer ratio: a
    ``math.comb`` per term took 50 s for h = 1,000 at n = 10^5)."""

    params = [[(1000, 451), (100_000, 49_500)]]
    param_names = ["n, d"]
    repeat = (1, 3, 30.0)

    def setup(self, nd):
        n, d = nd
        theory.intersection(n, d, 300)

    def time_intersection_scalar(self, nd):
        n, d = nd
        theory.intersection(n, d, 300)

    def time_intersection_far(self, nd):
        n, d = nd
        theory.intersection(n, d, 2 * d - 1)  # the last h where the balls meet


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


class CriticalDistance:
    """Kanerva's canonical memory: n = 1000, radius 451, 10^6 locations, 10^4 words."""

    def setup(self):
        theory.critical_distance(1000, 451, 1e6, 1e4)

    def time_critical_distance_canonical(self):
        theory.critical_distance(1000, 451, 1e6, 1e4)


class FitCapBeta:
    """``fit_cap_beta(256, 100)``: the softmax beta of the continuous SDM's cap weights."""

    def setup(self):
        theory.fit_cap_beta(256, 100)

    def time_fit_cap_beta(self):
        theory.fit_cap_beta(256, 100)


class ExactRecallProbability:
    """P(exact recall) of the canonical memory for every cue distance 0..1000."""

    def setup(self):
        self.x = np.arange(1001)
        theory.exact_recall_probability(1000, 451, 1e6, 1e4, self.x)

    def time_all_distances(self):
        theory.exact_recall_probability(1000, 451, 1e6, 1e4, self.x)


class CapIntersection:
    """Cap intersections on 101 cosines in [-1, 1]: dim 256 at the radius of p = 0.001
    (bench_continuous's memories) and dim 1000 at radius 451.

    (``cap_intersection`` is ``exp`` of ``log_cap_intersection``, which does the
    work; ``expected_cap_neurons`` scales it by N.)
    """

    params = [[256, 1000]]
    param_names = ["dim"]

    def setup(self, dim):
        self.d = continuous_radius(dim) if dim == 256 else 451
        self.cos = np.linspace(-1.0, 1.0, 101)
        theory.cap_intersection(dim, self.d, self.cos)  # compiles / loads the kernel

    def time_cap_intersection(self, dim):
        theory.cap_intersection(dim, self.d, self.cos)

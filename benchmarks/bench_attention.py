"""fastsdm.attention: softmax attention, SDM weights and the pattern-view reads.

Small shapes: 256 queries of width 64 over 1,000 keys for softmax attention;
256 x 1,000 distances for ``sdm_weights`` at n = 1000, radius 451; 64
queries over 1,000 keys (n = 256, radius 103: p = 0.001) for
``sdm_pattern_read``.  ``continuous_pattern_read`` with cap weights
(``beta=None``) evaluates a cap intersection per query-key pair (about
0.15 ms each here), so it reads 16 queries over 64 keys; ``beta="fit"`` (the
softmax approximation) on the same data.  ``setup`` makes the timed call once
(log-factorial tables, compiled kernels).  ``compare_weights``:
bench_theory.CompareWeights.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

import fastsdm
from fastsdm import attention

from ._common import continuous_radius, radius_for


class SoftmaxAttention:
    """``softmax_attention(q, K, V)``: default beta, raw or Query-Key normalised."""

    params = [[False, True]]
    param_names = ["normalize"]

    def setup(self, normalize):
        rng = np.random.default_rng(0)
        self.q = rng.standard_normal((256, 64))
        self.K = rng.standard_normal((1000, 64))
        self.V = rng.standard_normal((1000, 64))
        attention.softmax_attention(self.q, self.K, self.V, normalize=normalize)

    def time_softmax_attention(self, normalize):
        attention.softmax_attention(self.q, self.K, self.V, normalize=normalize)


class SdmWeights:
    """``sdm_weights(1000, 451, h)`` for 256 x 1,000 distances."""

    def setup(self):
        self.h = np.random.default_rng(0).integers(0, 1001, size=(256, 1000))
        attention.sdm_weights(1000, 451, self.h)  # fills the log-factorial table

    def time_sdm_weights(self):
        attention.sdm_weights(1000, 451, self.h)


class SdmPatternRead:
    """``sdm_pattern_read``: SDM weights (beta=None) and the fitted softmax ("fit")."""

    params = [[None, "fit"]]
    param_names = ["beta"]

    def setup(self, beta):
        n_bits = 256
        self.radius = radius_for(n_bits)
        self.keys = fastsdm.random_addresses(1000, n_bits, seed=0)
        self.queries = fastsdm.flip_bits(self.keys[:64], n_bits, n_bits // 10, seed=1)
        attention.sdm_pattern_read(self.queries, self.keys, n_bits=n_bits, radius=self.radius,
                                   beta=beta)

    def time_sdm_pattern_read(self, beta):
        attention.sdm_pattern_read(self.queries, self.keys, n_bits=256, radius=self.radius,
                                   beta=beta)


class ContinuousPatternRead:
    """``continuous_pattern_read``: cap weights (beta=None) and the fitted softmax."""

    params = [[None, "fit"]]
    param_names = ["beta"]

    def setup(self, beta):
        dim = 256
        rng = np.random.default_rng(0)
        self.radius = continuous_radius(dim)
        self.keys = rng.standard_normal((64, dim))
        self.queries = self.keys[:16] + 0.5 * rng.standard_normal((16, dim))
        attention.continuous_pattern_read(self.queries, self.keys, radius=self.radius, beta=beta)

    def time_continuous_pattern_read(self, beta):
        attention.continuous_pattern_read(self.queries, self.keys, radius=self.radius, beta=beta)

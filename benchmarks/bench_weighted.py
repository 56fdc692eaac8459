"""Weighted SDM operations (issue 16 §2): distance-weighted writes, kappa, z reads.

Each option is timed beside the plain operation on the same memory, so the
cost of the option shows as a ratio within one run: ``"plain"`` is the
default kernel, the others the kernels of ``fastsdm._kernels.weighted``.
Sizes and activation as in ``bench_memory`` (p = 0.001, int16 counters);
batch 1 runs the activation-list (CSR) kernels, 256 the fused ones.

* write modes: ``plain``; ``distance_weights`` (a linear table falling from
  ``radius + 1`` at distance 0 to 1 at the radius); ``kappa`` (a memory
  clipped at 20, plain weights); ``both``.
* read modes: ``z=None`` (plain) and ``z`` = 0.5 and 2 on a memory holding
  N/1000 patterns.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

import fastsdm

from ._common import ACTIVATION_PROBABILITY, SIZES, noisy_cues

BATCHES = [1, 256]
WRITE_MODES = ["plain", "distance_weights", "kappa", "both"]
KAPPA = 20


def _memory(size, kappa=None, n_patterns=0):
    n_bits, n_locations = SIZES[size]
    counter_dtype = "int8" if size == "canonical" else "int16"
    mem = fastsdm.SDM(n_bits, n_locations, activation_probability=ACTIVATION_PROBABILITY,
                      counter_dtype=counter_dtype, kappa=kappa, seed=0)
    patterns = fastsdm.random_addresses(max(n_patterns, 1), n_bits, seed=1)
    if n_patterns:
        mem.write(patterns)
    return mem, patterns


def _batch(words, batch):
    return words[0] if batch == 1 else words[:batch]


class WeightedWrite:
    params = [list(SIZES), BATCHES, WRITE_MODES]
    param_names = ["size", "batch", "mode"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, mode):
        kappa = KAPPA if mode in ("kappa", "both") else None
        self.mem, _ = _memory(size, kappa=kappa)
        r = self.mem.radius
        self.options = ({"distance_weights": np.arange(r + 1, 0, -1)}
                        if mode in ("distance_weights", "both") else {})
        self.x = _batch(fastsdm.random_addresses(max(BATCHES), self.mem.n_bits, seed=2), batch)
        self.mem.write(self.x, **self.options)  # JIT warm-up, same kernels as timed

    def time_write(self, size, batch, mode):
        self.mem.write(self.x, **self.options)


class ZRead:
    params = [list(SIZES), BATCHES, [None, 0.5, 2.0]]
    param_names = ["size", "batch", "z"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, z):
        self.mem, patterns = _memory(size, n_patterns=SIZES[size][1] // 1000)
        cues = noisy_cues(patterns, self.mem.n_bits, max(BATCHES))
        self.x = _batch(cues, batch)
        self.mem.read(self.x, z=z)  # JIT warm-up, same kernels as timed

    def time_read(self, size, batch, z):
        self.mem.read(self.x, z=z)

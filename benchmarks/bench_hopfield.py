"""Classical and modern Hopfield networks (fastsdm.hopfield).

Classical: n = 256 and 1024 units holding 0.1 n patterns (below the 0.138 n
capacity); Hebbian writes of the whole set (BLAS float32 products, exact),
and reads of 256 cues with n/8 flipped bits: one synchronous step (a BLAS
product), one asynchronous sweep and up to 10 asynchronous sweeps (the numba
sweep kernel, updating fields by a row per flip).  Modern: n = 256 with
1,000 and 10,000 stored patterns, one update of 256 cues (Hamming scan,
softmax, BLAS sum).  Also the classical network's ``fields`` and ``energy``
of 256 states, ``ModernHopfield.weights`` (the softmax weights alone) and
``modern_retrieve`` (the same update on real ±1 vectors: BLAS scores,
softmax, BLAS sum), one update and up to 10.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

import fastsdm
from fastsdm.hopfield import Hopfield, ModernHopfield, modern_retrieve

N_CUES = 256


class HopfieldNetwork:
    params = [[256, 1024]]
    param_names = ["n_bits"]
    repeat = (1, 10, 20.0)

    def setup(self, n):
        self.patterns = fastsdm.random_addresses(n // 10, n, seed=0)
        self.net = Hopfield(n, seed=0)
        self.net.write(self.patterns)
        targets = self.patterns[fastsdm.random_addresses(N_CUES, 64, seed=1)[:, 0]
                                % self.patterns.shape[0]]
        self.cues = fastsdm.flip_bits(targets, n, n // 8, seed=2)
        # JIT warm-up with the exact calls timed: 4 cues would take other kernels
        # (the serial sweep) than 256 (the parallel sweep at n = 1024).
        Hopfield(n).write(self.patterns)
        self.net.read(self.cues)
        self.net.read(self.cues, iterations=10)
        self.net.read(self.cues, update="synchronous")

    def time_write(self, n):
        Hopfield(n).write(self.patterns)

    def time_read_synchronous(self, n):
        self.net.read(self.cues, update="synchronous")

    def time_read_asynchronous(self, n):
        self.net.read(self.cues)

    def time_read_asynchronous_iterated(self, n):
        self.net.read(self.cues, iterations=10)


class ModernHopfieldNetwork:
    params = [[1000, 10_000]]
    param_names = ["n_patterns"]
    repeat = (1, 10, 20.0)

    def setup(self, m):
        n = 256
        patterns = fastsdm.random_addresses(m, n, seed=0)
        self.net = ModernHopfield(n, beta=0.1)
        self.net.write(patterns)
        self.cues = fastsdm.flip_bits(patterns[:N_CUES], n, 32, seed=1)
        self.net.read(self.cues)  # JIT warm-up: 4 cues would take the rows scan, not the tiled one
        self.net.weights(self.cues)

    def time_read(self, m):
        self.net.read(self.cues)

    def time_weights(self, m):
        """``ModernHopfield.weights``: softmax weights of the cues over the stored patterns."""
        self.net.weights(self.cues)


class HopfieldFieldsEnergy:
    """Local fields ``W s`` and energies of 256 states (n/8 bits off stored patterns)."""

    params = [[256, 1024]]
    param_names = ["n_bits"]
    repeat = (1, 10, 20.0)

    def setup(self, n):
        patterns = fastsdm.random_addresses(n // 10, n, seed=0)
        self.net = Hopfield(n, seed=0)
        self.net.write(patterns)
        self.states = fastsdm.flip_bits(patterns[np.arange(N_CUES) % patterns.shape[0]], n,
                                        n // 8, seed=2)
        self.net.fields(self.states)  # warm-up, same calls as timed
        self.net.energy(self.states)

    def time_fields(self, n):
        self.net.fields(self.states)

    def time_energy(self, n):
        self.net.energy(self.states)


class ModernRetrieve:
    """``modern_retrieve`` on ±1 float vectors: 256 cues with 1/8 of their signs
    flipped, n = 256, beta = 0.1 (the problem of ModernHopfieldNetwork, in floats)."""

    params = [[1000, 10_000], [1, 10]]
    param_names = ["n_patterns", "iterations"]
    repeat = (1, 10, 20.0)

    def setup(self, m, iterations):
        rng = np.random.default_rng(0)
        self.patterns = rng.choice([-1.0, 1.0], size=(m, 256))
        flips = np.where(rng.random((N_CUES, 256)) < 1 / 8, -1.0, 1.0)
        self.cues = self.patterns[:N_CUES] * flips
        modern_retrieve(self.cues, self.patterns, 0.1, iterations=iterations)  # warm-up

    def time_modern_retrieve(self, m, iterations):
        modern_retrieve(self.cues, self.patterns, 0.1, iterations=iterations)

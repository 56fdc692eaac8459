"""ContinuousSDM (unit-vector addresses, cosine-threshold activation): write and read.

dim = 256 float32 addresses; the threshold is the Hamming-equivalent radius
whose spherical cap holds 0.001 of the sphere (~N/1000 activated locations).
Threshold activation takes one of three scans: int8 (CPUs with AVX-512 VNNI:
batches of up to ``INT8_COPY_MAX_QUERIES`` over the memory's int8 copy of its
addresses, made by the first of them, ``ContinuousInt8Copy``; larger batches
quantise each tile as they go), rows (fewer than ``ROWS_MAX_QUERIES`` queries
elsewhere) or BLAS (the fallback; ``ContinuousScans`` times each scan on every
CPU that has it).  Skipped
(NotImplementedError in setup) when the module fastsdm.continuous does not
exist; any error raised while importing it fails the benchmarks.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

from ._common import CONTINUOUS_SIZES, continuous_radius, import_or_skip

BATCHES = [1, 4, 16, 256]


def _continuous_sdm():
    # Skipped only where the module does not exist (older commits); an error
    # inside fastsdm.continuous fails the benchmark.
    return import_or_skip("fastsdm.continuous").ContinuousSDM


def _memory(size, n_patterns=0):
    ContinuousSDM = _continuous_sdm()
    dim, n_locations = CONTINUOUS_SIZES[size]
    mem = ContinuousSDM(dim, n_locations, radius=continuous_radius(dim), seed=0)
    rng = np.random.default_rng(1)
    patterns = rng.standard_normal((max(n_patterns, 256), dim)).astype(np.float32)
    if n_patterns:
        mem.write(patterns[:n_patterns])
    return mem, patterns


def _batch(rows, batch):
    return rows[0] if batch == 1 else rows[:batch]


class ContinuousWrite:
    params = [list(CONTINUOUS_SIZES), BATCHES, [False, True]]
    param_names = ["size", "batch", "parallel"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, parallel):
        self.mem, patterns = _memory(size)
        self.x = _batch(patterns, batch)
        self.mem.write(self.x, parallel=parallel)  # JIT warm-up, same kernels as timed

    def time_write(self, size, batch, parallel):
        self.mem.write(self.x, parallel=parallel)


class ContinuousRead:
    params = [list(CONTINUOUS_SIZES), BATCHES, [False, True]]
    param_names = ["size", "batch", "parallel"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, parallel):
        n_patterns = CONTINUOUS_SIZES[size][1] // 1000
        self.mem, patterns = _memory(size, n_patterns=n_patterns)
        rng = np.random.default_rng(2)
        cues = (patterns + 0.5 * rng.standard_normal(patterns.shape)).astype(np.float32)
        self.x = _batch(cues, batch)
        self.mem.read(self.x, parallel=parallel)  # JIT warm-up, same kernels as timed

    def time_read(self, size, batch, parallel):
        self.mem.read(self.x, parallel=parallel)


class ContinuousActivate:
    """Activation alone (the default scan for the batch size), batches of 1, 16 and 256."""

    params = [list(CONTINUOUS_SIZES), [1, 16, 256]]
    param_names = ["size", "batch"]

    def setup(self, size, batch):
        self.mem, patterns = _memory(size)
        self.x = _batch(patterns, batch)
        self.mem.activate(self.x)  # JIT warm-up, same kernels as timed

    def time_activate(self, size, batch):
        self.mem.activate(self.x)


class ContinuousScans:
    """Each threshold scan on the same batch of 64: rows, int8 (AVX-512 VNNI only), BLAS."""

    params = [list(CONTINUOUS_SIZES), ["rows", "int8", "blas"]]
    param_names = ["size", "scan"]

    def setup(self, size, scan):
        continuous = import_or_skip("fastsdm.continuous")
        # (hasattr only hides AttributeError: the module is imported above.)
        if not hasattr(continuous, "INT8_SCAN"):  # before the scans could be chosen
            raise NotImplementedError("this fastsdm has one threshold scan")
        if scan == "int8" and not continuous._k.vnni_available():
            raise NotImplementedError("the int8 scan needs AVX-512 VNNI")
        self._saved = continuous.ROWS_MAX_QUERIES, continuous.INT8_SCAN
        continuous.ROWS_MAX_QUERIES = 10**9 if scan == "rows" else 0
        continuous.INT8_SCAN = scan == "int8"
        self.mem, patterns = _memory(size)
        self.x = patterns[:64]
        self.mem.activate(self.x)  # JIT warm-up, same kernels as timed

    def teardown(self, size, scan):
        from fastsdm import continuous

        if hasattr(self, "_saved"):  # setup may have skipped
            continuous.ROWS_MAX_QUERIES, continuous.INT8_SCAN = self._saved

    def time_activate_64(self, size, scan):
        self.mem.activate(self.x)


class ContinuousInt8Copy:
    """New addresses, then one query: copies the addresses and makes the int8 copy."""

    params = [list(CONTINUOUS_SIZES)]
    param_names = ["size"]
    repeat = (1, 10, 20.0)

    def setup(self, size):
        self.mem, patterns = _memory(size)
        self.x = patterns[0]
        self.mem.activate(self.x)  # JIT warm-up, same kernels as timed

    def time_new_addresses_and_first_activation(self, size):
        self.mem.addresses = self.mem.addresses
        self.mem.activate(self.x)


class ContinuousReadSums:
    """``read_sums``: activation and the float64 gather, without normalisation."""

    params = [list(CONTINUOUS_SIZES), BATCHES]
    param_names = ["size", "batch"]

    def setup(self, size, batch):
        self.mem, patterns = _memory(size, n_patterns=CONTINUOUS_SIZES[size][1] // 1000)
        if not hasattr(self.mem, "read_sums"):
            raise NotImplementedError("ContinuousSDM.read_sums is not in this fastsdm")
        self.x = _batch(patterns, batch)
        self.mem.read_sums(self.x)  # JIT warm-up, same kernels as timed

    def time_read_sums(self, size, batch):
        self.mem.read_sums(self.x)


class ContinuousIteratedRead:
    """Up to 10 reads from noisy cues (cosine ~0.9 to the stored pattern)."""

    params = [list(CONTINUOUS_SIZES)]
    param_names = ["size"]
    repeat = (1, 5, 20.0)

    def setup(self, size):
        n_patterns = min(CONTINUOUS_SIZES[size][1] // 100, 1000)
        self.mem, patterns = _memory(size, n_patterns=n_patterns)
        rng = np.random.default_rng(3)
        self.targets = patterns[:64] / np.linalg.norm(patterns[:64], axis=1, keepdims=True)
        noise = rng.standard_normal(self.targets.shape) / np.sqrt(self.targets.shape[1])
        self.cues = (self.targets + 0.5 * noise).astype(np.float32)
        self.recalled = self.mem.read(self.cues, iterations=10)  # JIT warm-up

    def time_read_iterated(self, size):
        self.mem.read(self.cues, iterations=10)

    def track_mean_cosine_to_target(self, size):
        return float((self.recalled * self.targets).sum(axis=1).mean())

    track_mean_cosine_to_target.unit = "cosine"

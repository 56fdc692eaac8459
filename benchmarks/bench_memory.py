"""The binary SDM: write, read, read_sums, activate, iterated read, counter widths,
k-nearest activation and heteroassociative (n_value_bits != n_bits) memories.

Sizes (``_common.SIZES``): small (n=256, N=10^4), medium (n=256, N=10^5) and,
with FASTSDM_BENCH_LARGE=1, Kanerva's canonical memory (n=1000, N=10^6, int8
counters, radius 451).  Activation probability 0.001 throughout.  "batch" 1
is one vector per call (a 1-D input; activation lists, then counters), 256 and
1024 batched calls (the scan fused with the counter update or sum).

Memories are built in ``setup`` (not ``setup_cache``: a canonical memory is
1.1 GiB and would be pickled); building one takes well under a second because
the counters start as untouched zero pages.  Write benchmarks keep writing
into the same memory; saturating adds cost the same as others, so the timing
does not drift.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

import fastsdm

from ._common import ACTIVATION_PROBABILITY, SIZES, noisy_cues

BATCHES = [1, 256, 1024]


def _counter_dtype(size):
    return "int8" if size == "canonical" else "int16"


def _memory(size, counter_dtype=None, n_patterns=0, ties="random"):
    n_bits, n_locations = SIZES[size]
    mem = fastsdm.SDM(n_bits, n_locations, activation_probability=ACTIVATION_PROBABILITY,
                      counter_dtype=counter_dtype or _counter_dtype(size), ties=ties, seed=0)
    patterns = fastsdm.random_addresses(max(n_patterns, 1), n_bits, seed=1)
    if n_patterns:
        mem.write(patterns)
    return mem, patterns


def _batch(words, batch):
    return words[0] if batch == 1 else words[:batch]


class SDMWrite:
    params = [list(SIZES), BATCHES, [False, True]]
    param_names = ["size", "batch", "parallel"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, parallel):
        self.mem, _ = _memory(size)
        self.data = fastsdm.random_addresses(max(BATCHES), self.mem.n_bits, seed=2)
        self.x = _batch(self.data, batch)
        self.mem.write(self.x, parallel=parallel)  # JIT warm-up, same kernels as timed

    def time_write(self, size, batch, parallel):
        self.mem.write(self.x, parallel=parallel)


class SDMRead:
    params = [list(SIZES), BATCHES, [False, True]]
    param_names = ["size", "batch", "parallel"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, parallel):
        n_patterns = SIZES[size][1] // 1000
        self.mem, patterns = _memory(size, n_patterns=n_patterns)
        cues = noisy_cues(patterns, self.mem.n_bits, max(BATCHES))
        self.x = _batch(cues, batch)
        self.mem.read(self.x, parallel=parallel)  # JIT warm-up, same kernels as timed

    # (Activation alone: SDMActivate; the bare scan: bench_search.RadiusSearch.)
    def time_read(self, size, batch, parallel):
        self.mem.read(self.x, parallel=parallel)


class SDMPeakMemory:
    """Peak RSS of a 256-vector write and read (process, memory and data included).

    Counters start as untouched zero pages, so the write also shows the
    counters' pages becoming resident.
    """

    params = [list(SIZES)]
    param_names = ["size"]

    def setup(self, size):
        self.mem, _ = _memory(size)
        self.x = fastsdm.random_addresses(256, self.mem.n_bits, seed=2)
        # JIT warm-up (compiling raises the peak too) without touching this
        # memory's pages: a tiny memory with the same counter dtype.
        probe = fastsdm.SDM(64, 1000, radius=24, counter_dtype=self.mem.counter_dtype, seed=0)
        probe_x = fastsdm.random_addresses(256, 64, seed=2)
        for parallel in (False, True):  # the timed call picks one by size
            probe.write(probe_x, parallel=parallel)
            probe.read(probe_x, parallel=parallel)

    def peakmem_write_256(self, size):
        self.mem.write(self.x)

    def peakmem_write_read_256(self, size):
        self.mem.write(self.x)
        self.mem.read(self.x)


class SDMActivated:
    """Activated locations per read (expected: N * 0.001, a bit more by rounding)."""

    params = [list(SIZES)]
    param_names = ["size"]
    unit = "locations"

    def setup(self, size):
        mem, patterns = _memory(size, n_patterns=16)
        indptr, _ = mem.activate(patterns)
        self.mean = float(np.diff(indptr).mean())

    def track_activated_per_read(self, size):
        return self.mean


class SDMIteratedRead:
    """Recall from noisy cues with up to 10 iterations (autoassociative).

    The memory holds min(N/100, 1000) random patterns (N/100 is about a tenth
    of Kanerva's capacity estimate; the cap keeps the canonical setup short),
    and the cues have a fraction of their bits flipped.  Tracks recall (cues
    that converge to their exact pattern) and the mean number of reads.
    """

    params = [list(SIZES), [0.1, 0.25]]
    param_names = ["size", "noise"]
    repeat = (1, 5, 20.0)
    n_cues = 64

    def setup(self, size, noise):
        n_patterns = min(SIZES[size][1] // 100, 1000)
        self.mem, patterns = _memory(size, n_patterns=n_patterns)
        n_bits = self.mem.n_bits
        self.targets = patterns[: self.n_cues]
        self.cues = fastsdm.flip_bits(self.targets, n_bits, round(noise * n_bits), seed=4)
        # JIT warm-up, and the figures the track_* methods report.
        self.result = self.mem.read(self.cues, iterations=10, return_info=True)

    def time_read_iterated(self, size, noise):
        self.mem.read(self.cues, iterations=10)

    def track_recall(self, size, noise):
        recalled, _ = self.result
        return float((recalled == self.targets).all(axis=1).mean())

    track_recall.unit = "fraction"

    def track_reads_per_cue(self, size, noise):
        return float(self.result[1].steps.mean())

    track_reads_per_cue.unit = "reads"


class CounterWidth:
    """Counter dtypes at the medium size: saturating int8/int16/int32 adds and reads.

    (The default serial/parallel choice; SDMWrite/SDMRead force both.)
    """

    params = [["int8", "int16", "int32"]]
    param_names = ["counter_dtype"]

    def setup(self, counter_dtype):
        self.mem, _ = _memory("medium", counter_dtype=counter_dtype, n_patterns=100)
        self.x = fastsdm.random_addresses(256, self.mem.n_bits, seed=2)
        self.mem.write(self.x)  # JIT warm-up, same kernels as timed
        self.mem.read(self.x)

    def time_write_256(self, counter_dtype):
        self.mem.write(self.x)

    def time_read_256(self, counter_dtype):
        self.mem.read(self.x)


class SDMReadSums:
    """``SDM.read_sums``: the counter sums a read thresholds, plain (int64) and with
    ``z`` (float64 sums of ``sign(c) |c|**z``), on a memory holding N/1000 patterns."""

    params = [list(SIZES), [1, 256], [None, 2.0]]
    param_names = ["size", "batch", "z"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, z):
        self.mem, patterns = _memory(size, n_patterns=SIZES[size][1] // 1000)
        cues = noisy_cues(patterns, self.mem.n_bits)
        self.x = _batch(cues, batch)
        self.mem.read_sums(self.x, z=z)  # JIT warm-up, same kernels as timed

    def time_read_sums(self, size, batch, z):
        self.mem.read_sums(self.x, z=z)


class SDMActivate:
    """The public ``SDM.activate`` (validation, the scan, CSR lists), radius rule and
    Jaeckel's hyperplane rule at the same activation probability (0.001; k = 10).

    The kernels alone, without the memory around them: bench_hyperplane.Activate.
    """

    params = [list(SIZES), [1, 256], ["radius", "hyperplane"]]
    param_names = ["size", "batch", "rule"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, rule):
        n_bits, n_locations = SIZES[size]
        kwargs = {} if rule == "radius" else {"activation": "hyperplane"}
        self.mem = fastsdm.SDM(n_bits, n_locations,
                               activation_probability=ACTIVATION_PROBABILITY,
                               counter_dtype=_counter_dtype(size), seed=0, **kwargs)
        self.x = _batch(fastsdm.random_addresses(256, n_bits, seed=2), batch)
        self.mem.activate(self.x)  # JIT warm-up (and the design's keys), same kernels as timed

    def time_activate(self, size, batch, rule):
        self.mem.activate(self.x)


class SDMKNearest:
    """``k_nearest`` activation (the k = N/1000 nearest locations, ties by index):
    writes into and reads from a memory holding N/1000 patterns."""

    params = [list(SIZES), [1, 256]]
    param_names = ["size", "batch"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch):
        n_bits, n_locations = SIZES[size]
        self.mem = fastsdm.SDM(n_bits, n_locations, k_nearest=n_locations // 1000,
                               counter_dtype=_counter_dtype(size), seed=0)
        patterns = fastsdm.random_addresses(n_locations // 1000, n_bits, seed=1)
        self.mem.write(patterns)
        cues = noisy_cues(patterns, n_bits)
        self.x = _batch(cues, batch)
        self.mem.write(self.x)  # JIT warm-up, same kernels as timed
        self.mem.read(self.x)

    def time_write(self, size, batch):
        self.mem.write(self.x)

    def time_read(self, size, batch):
        self.mem.read(self.x)


class SDMHeteroassociative:
    """Key -> value memories with 1000-bit values (wider than the 256-bit keys, and
    not a whole number of words): writes of (key, value) pairs and reads of the
    values, on a memory holding N/1000 pairs.  Small and medium only: the canonical
    keys are 1000 bits wide themselves."""

    params = [[size for size in SIZES if SIZES[size][0] != 1000], [1, 256], [1000]]
    param_names = ["size", "batch", "n_value_bits"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, n_value_bits):
        n_bits, n_locations = SIZES[size]
        self.mem = fastsdm.SDM(n_bits, n_locations, activation_probability=ACTIVATION_PROBABILITY,
                               n_value_bits=n_value_bits, counter_dtype=_counter_dtype(size),
                               seed=0)
        n_pairs = n_locations // 1000
        self.mem.write(fastsdm.random_addresses(n_pairs, n_bits, seed=1),
                       fastsdm.random_addresses(n_pairs, n_value_bits, seed=4))
        keys = fastsdm.random_addresses(256, n_bits, seed=2)
        values = fastsdm.random_addresses(256, n_value_bits, seed=5)
        self.keys, self.values = _batch(keys, batch), _batch(values, batch)
        self.mem.write(self.keys, self.values)  # JIT warm-up, same kernels as timed
        self.mem.read(self.keys)

    def time_write(self, size, batch, n_value_bits):
        self.mem.write(self.keys, self.values)

    def time_read(self, size, batch, n_value_bits):
        self.mem.read(self.keys)

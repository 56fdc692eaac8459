"""Saving and loading memories: ``SDM.save`` / ``SDM.load`` and the ContinuousSDM pair.

Memories as in bench_memory / bench_continuous (small: N = 10^4, medium: N =
10^5, n = dim = 256, N/1000 patterns written), in a temporary directory made
in ``setup`` and removed in ``teardown`` (under the system's temporary
directory: where that is a disk, the ``fsync`` calls of a save reach it).

* ``SDMSave`` -- ``target="new"`` saves to a path that does not exist yet (a
  fresh one per call); ``"overwrite"`` replaces the memory saved there in
  ``setup`` (``overwrite=True``: the new directory is written beside it and
  swapped in, the old one removed).  ``ContinuousSave``: new paths.
* ``SDMLoad`` (and ``ContinuousLoad``, without ``mmap=True``), default
  ``verify``: ``mmap=False`` reads every array into RAM and checks every
  checksum; ``mmap=True`` maps the counters for writing, checksums them
  through the map (every page is read) and records in ``fastsdm.json`` that
  the memory is open for writing; ``mmap="r"`` maps the counters read-only
  and does not checksum them: it reads and checks only the addresses and
  the description, so its time is that of opening a memory, not of reading
  its counters.  (In every mode a ContinuousSDM's addresses are read into
  RAM and checked to be unit vectors.)  The files were just written, so they are read from the page
  cache, not the disk.  Each loaded memory is kept until ``teardown`` (so
  that freeing it is not timed, and so that the write lock of an
  ``mmap=True`` load is released before the next).
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import gc
import itertools
import shutil
import tempfile

import numpy as np

import fastsdm

from ._common import (
    ACTIVATION_PROBABILITY,
    CONTINUOUS_SIZES,
    SIZES,
    continuous_radius,
    import_or_skip,
)

MMAP_MODES = [False, True, "r"]


def _sdm(size):
    n_bits, n_locations = SIZES[size]
    mem = fastsdm.SDM(n_bits, n_locations, activation_probability=ACTIVATION_PROBABILITY,
                      counter_dtype="int8" if size == "canonical" else "int16", seed=0)
    mem.write(fastsdm.random_addresses(n_locations // 1000, n_bits, seed=1))
    return mem


def _continuous(size):
    ContinuousSDM = import_or_skip("fastsdm.continuous").ContinuousSDM
    dim, n_locations = CONTINUOUS_SIZES[size]
    mem = ContinuousSDM(dim, n_locations, radius=continuous_radius(dim), seed=0)
    rng = np.random.default_rng(1)
    mem.write(rng.standard_normal((n_locations // 1000, dim)).astype(np.float32))
    return mem


def _check_same(loaded, saved, what):
    if not np.array_equal(loaded, saved):  # (not assert: python -O would drop it)
        raise RuntimeError(f"the loaded {what} differ from the saved ones")


class _Persist:
    """A temporary directory per setup, removed (with what was loaded) in teardown."""

    number = 1  # every timed call gets a fresh path or a released lock
    repeat = (1, 5, 20.0)

    def _start(self):
        self.tmp = tempfile.mkdtemp(prefix="fastsdm-asv-persist-")
        self.loaded = None
        self.paths = (os.path.join(self.tmp, f"m{i}") for i in itertools.count())

    def teardown(self, *params):
        if not hasattr(self, "tmp"):  # setup stopped before making it
            return
        self.loaded = None
        gc.collect()  # the write lock of an mmap=True load goes with its memory
        shutil.rmtree(self.tmp, ignore_errors=True)


class SDMSave(_Persist):
    params = [list(SIZES), ["new", "overwrite"]]
    param_names = ["size", "target"]

    def setup(self, size, target):
        self.mem = _sdm(size)
        self._start()
        self.path = next(self.paths)
        self.mem.save(self.path)  # the memory "overwrite" replaces (and a warm-up)
        _check_same(fastsdm.SDM.load(self.path).counters, self.mem.counters, "counters")

    def time_save(self, size, target):
        if target == "new":
            self.mem.save(next(self.paths))
        else:
            self.mem.save(self.path, overwrite=True)


class _Load(_Persist):
    """``time_load`` of the memory ``make(size)`` builds, saved once in ``setup``."""

    def _prepare(self, mem, mmap, field):
        self._start()
        self.cls = type(mem)
        self.path = mem.save(next(self.paths))
        loaded = self.cls.load(self.path, mmap=mmap)  # warm-up, and a check
        _check_same(getattr(loaded, field), getattr(mem, field), field)
        del loaded
        gc.collect()  # releases the write lock of an mmap=True load

    def time_load(self, size, mmap):
        self.loaded = self.cls.load(self.path, mmap=mmap)


class SDMLoad(_Load):
    params = [list(SIZES), MMAP_MODES]
    param_names = ["size", "mmap"]

    def setup(self, size, mmap):
        self._prepare(_sdm(size), mmap, "counters")


class ContinuousSave(_Persist):
    params = [list(CONTINUOUS_SIZES)]
    param_names = ["size"]

    def setup(self, size):
        self.mem = _continuous(size)
        self._start()
        self.mem.save(next(self.paths))  # warm-up

    def time_save(self, size):
        self.mem.save(next(self.paths))


class ContinuousLoad(_Load):
    # (mmap=True runs the _persist code SDMLoad times; left out to keep --quick short.)
    params = [list(CONTINUOUS_SIZES), [False, "r"]]
    param_names = ["size", "mmap"]

    def setup(self, size, mmap):
        self._prepare(_continuous(size), mmap, "accumulators")

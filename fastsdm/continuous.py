"""Continuous Sparse Distributed Memory: real vectors, cosine activation.

The "neuron view" of SDM (Bricken & Pehlevan 2021): hard locations are unit
vectors on the sphere ``S^{dim-1}`` and a location is activated when its
cosine with the query reaches a threshold.  With the paper's convention a
Hamming-equivalent radius ``d`` in ``[0, dim]`` becomes the threshold
``1 - 2 d / dim``, so that :func:`fastsdm.theory.cap_fraction` gives the
activation probability.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np

from . import _jit, _persist
from ._core import check_fits, iterate
from ._jit import use_parallel
from ._kernels import continuous as _k
from ._layout import ADDRESS_BLOCK
from ._locking import RWLock, exclusive, serialised_parameters, shared
from ._machine import available_memory as _available_memory
from ._params import ContinuousParams, attribute_fingerprint, check_accumulator_dtype
from ._validation import (
    NORMALIZE_ROWS,
    check_flag,
    check_int,
    check_iterations,
    check_pairs,
    check_real,
    check_state_array,
    finite_rows,
    list_rows,
    normalise_rows,
    owned,
    real_rows,
    renamed_keywords,
    require_values,
    unit_vectors,
)

__all__ = ["ContinuousSDM"]

FORMAT_NAME = "fastsdm.ContinuousSDM"
FORMAT_VERSION = 1
#: The attributes a ContinuousSDM's parameters are read from (and re-checked).
_PARAMETERS = ("dim", "n_locations", "value_dim", "radius", "threshold", "k_nearest", "dtype",
               "seed")

#: The saved directory (``open_for_writing`` is set while the memory is
#: memory-mapped for writing, see fastsdm._persist).
_KIND = _persist.Kind(FORMAT_NAME, FORMAT_VERSION, required=ContinuousParams.KEYS,
                      optional=("open_for_writing",), saver="ContinuousSDM.save()",
                      state="accumulators",
                      reseal="fastsdm.ContinuousSDM.load(path, mmap=True, verify=False).flush()")

#: Bytes of float32 similarities computed at once by the BLAS path (a block of
#: locations against a chunk of queries; k-nearest activation, and threshold
#: activation on CPUs without AVX-512 VNNI).  Large blocks are faster although
#: they leave the cache: every block hands the cores from BLAS's threads to
#: numba's and back, and each switch costs milliseconds of spinning threads.
SIMILARITY_BUDGET = 64 << 20
#: Queries per matrix product and per activation list held at once.
QUERY_CHUNK = 1024
#: An iterated read stops when the cosine between a result and its input
#: reaches this value.
CONVERGENCE_COSINE = 1.0 - 1e-6
#: Fewer queries than this scan the float32 addresses row by row (one pass at
#: memory bandwidth, float32 dot products) where the int8 copy is not used;
#: larger batches use the int8 scan where the CPU has AVX-512 VNNI, BLAS
#: elsewhere.
ROWS_MAX_QUERIES = 5
#: Whether threshold activation may use the int8 scan (set at import from
#: the CPU numba compiles for).
INT8_SCAN = _k.vnni_available()
#: Batches of up to this many queries scan the memory's int8 copy of its
#: addresses (made by the first of them: a quarter of the bytes of the
#: float32 addresses); larger ones quantise each tile as they reach it, and
#: the float32 rows that their rechecks read come into cache with it.
INT8_COPY_MAX_QUERIES = 32
#: Bytes of int8 addresses in one tile of the int8 scan: every query block
#: passes over a tile while it stays in the core's cache.
INT8_TILE_BYTES = 64 << 10
#: The int8 scan's smallest dim (below, a vector of 16 lanes is mostly padding).
LANES_MIN_DIM = 16


def generate_addresses(entropy, n_locations: int, dim: int, start: int = 0,
                       stop: int | None = None) -> np.ndarray:
    """Unit-vector addresses ``start:stop`` of the memory seeded with ``entropy``.

    Normalised standard Gaussians: uniform on the sphere.  Block ``b`` of
    :data:`fastsdm.memory.ADDRESS_BLOCK` locations comes from the child seed
    ``SeedSequence(entropy, spawn_key=(0, b))``, so a shard can regenerate
    any range alone and every range agrees with the whole.
    """
    stop = n_locations if stop is None else stop
    out = np.empty((stop - start, dim), dtype=np.float32)
    for block in range(start // ADDRESS_BLOCK, -(-stop // ADDRESS_BLOCK)):
        b0 = block * ADDRESS_BLOCK
        b1 = min(n_locations, b0 + ADDRESS_BLOCK)
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(0, block)))
        gauss = rng.standard_normal((b1 - b0, dim), dtype=np.float32)
        lo, hi = max(start, b0), min(stop, b1)
        out[lo - start : hi - start] = unit_vectors(gauss[lo - b0 : hi - b0], "addresses",
                                                  keep_unit=False)  # seeded: as before
    return out


# -- the memory --------------------------------------------------------------


@serialised_parameters(*_PARAMETERS)
class ContinuousSDM:
    """Sparse Distributed Memory over real vectors (the neuron view).

    ``N`` hard locations have fixed random unit-vector addresses ``a_i`` and
    float accumulators of width ``value_dim``.  A key or query ``x`` (any
    non-zero real vector; it is L2-normalised) activates location ``i`` when
    ``cos(x, a_i) >= 1 - 2 radius / dim`` (the Hamming-equivalent radius of
    the paper), when ``cos(x, a_i) >= threshold``, or, with ``k_nearest``,
    when ``a_i`` is among the ``k`` largest cosines (ties by lower index).
    Writing value ``v`` at ``x`` adds ``weight * v`` to the accumulators of
    the activated locations; reading at ``x`` sums them.

    Parameters
    ----------
    dim : int
        Dimension of keys and queries (>= 1).
    n_locations : int, optional
        Number of hard locations ``N``; inferred from ``addresses`` if given.
    radius : float, optional
        Hamming-equivalent radius in ``[0, dim]``: the cosine threshold is
        ``1 - 2 radius / dim``.  Give exactly one of ``radius``,
        ``threshold`` and ``k_nearest``.
    threshold : float, optional
        Cosine threshold in ``[-1, 1]`` (inclusive).
    k_nearest : int, optional
        Activate the ``k`` locations of largest cosine.
    value_dim : int, optional
        Width of the stored values (default ``dim``: autoassociative use).
    seed : None, int or SeedSequence
        Seeds the addresses.  ``None`` draws fresh entropy, recorded in
        ``seed`` so the memory can be rebuilt.
    addresses : ndarray of float, shape (N, dim), optional
        Use these addresses (L2-normalised, stored as float32) instead of
        random ones.
    counter_dtype : {float32, float64}
        The accumulators' dtype, and that of the values read.  ``dtype=`` is
        its older spelling, still accepted.

    Attributes
    ----------
    addresses : ndarray of float32, shape (N, dim)
        Unit vectors, read-only: activation keeps an int8 copy of them.  To
        change them, assign a new array (``mem.addresses = new``: it is
        copied; activation relies on unit vectors, so do not rescale them).
    accumulators : ndarray of dtype, shape (N, value_dim)
        The per-location sums of written values (:attr:`counters` is the
        same array, by the name :class:`fastsdm.SDM` uses).
    dtype : numpy.dtype
        The accumulators' dtype (:attr:`counter_dtype` is the same).
    threshold : float or None
        The cosine threshold (also set when ``radius`` is given).
    seed : int
        The entropy that generated the addresses.

    Notes
    -----
    Activation is decided exactly: the cosine is the float64 cosine of the
    float32 unit vectors, summed in a fixed order, so activation does not
    depend on the batch, the thread count, the CPU or the BLAS library.
    (Cheaper similarities with a rigorous error bound decide the pairs far
    from the threshold: int8 dot products for batches on CPUs with AVX-512
    VNNI, float32 dot products for a few queries, BLAS elsewhere; only the
    pairs within the bound are recomputed.)  A query equal to an address
    activates it even at ``radius=0``.

    Memory use is ``N * (4 * dim + value_dim * itemsize)`` bytes.  Threshold
    activation on CPUs with AVX-512 VNNI adds an int8 copy of the addresses,
    about ``N * (dim + 4)`` bytes (dim rounded up to a multiple of 16), made
    by the first activation of at most :data:`INT8_COPY_MAX_QUERIES` queries
    (their scan reads a quarter of the bytes of the float32 addresses: one
    query over a large memory runs about three times faster); if it does not
    fit in the available RAM, activation reads the float32 addresses
    instead.  A call adds the activation lists of
    :data:`QUERY_CHUNK` queries at a time (and, on the BLAS path and for
    ``k_nearest``, at most :data:`SIMILARITY_BUDGET` bytes of similarities)
    and the query vectors' copies.  The
    constructor refuses a memory that does not fit in the available RAM;
    :meth:`load` with ``mmap=True`` serves larger accumulators from disk.

    References
    ----------
    T. Bricken and C. Pehlevan, "Attention approximates Sparse Distributed
    Memory", NeurIPS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsdm.continuous import ContinuousSDM
    >>> mem = ContinuousSDM(256, 20_000, radius=107, seed=0)  # ~84 locations per vector
    >>> rng = np.random.default_rng(1)
    >>> patterns = rng.standard_normal((20, 256))
    >>> mem.write(patterns)
    >>> cues = patterns + rng.standard_normal((20, 256))  # cosine ~0.7 to the pattern
    >>> recalled = mem.read(cues, iterations=10)
    >>> units = patterns / np.linalg.norm(patterns, axis=1, keepdims=True)
    >>> bool(((recalled * units).sum(axis=1) > 0.99).all())
    True
    """

    @renamed_keywords(dtype="counter_dtype")
    def __init__(self, dim: int, n_locations: int | None = None, radius: float | None = None,
                 *, threshold: float | None = None, k_nearest: int | None = None,
                 value_dim: int | None = None, seed=None, addresses=None,
                 counter_dtype=np.float32):
        dim = check_int(dim, "dim", 1)
        if n_locations is not None:  # checked before it is compared with the addresses
            n_locations = check_int(n_locations, "n_locations", 0)
        if addresses is not None:
            addresses, _ = real_rows(addresses, "addresses", dim, "dim")
            if n_locations is not None and n_locations != addresses.shape[0]:
                raise ValueError(f"n_locations={n_locations} does not match the "
                                 f"{addresses.shape[0]} addresses given; omit n_locations")
            n_locations = addresses.shape[0]
        params = ContinuousParams.create(dim, n_locations, radius, threshold=threshold,
                                         k_nearest=k_nearest, value_dim=value_dim,
                                         dtype=counter_dtype, seed=seed)
        itemsize = np.dtype(params.dtype).itemsize
        need = self.estimate_nbytes(params.dim, params.n_locations, params.value_dim,
                                    params.dtype)
        stored = params.n_locations * params.value_dim * itemsize
        float32 = params.dtype == "float64"
        check_fits("ContinuousSDM", need, _available_memory(), "accumulators", stored,
                   params.dtype, params.n_locations,
                   smaller="counter_dtype='float32'" if float32 else None,
                   smaller_need=need - stored // 2 if float32 else None)
        if addresses is None:
            addresses = generate_addresses(params.seed, params.n_locations, params.dim)
        else:
            addresses = owned(unit_vectors(addresses, "addresses"), addresses)
        accumulators = np.zeros((params.n_locations, params.value_dim), dtype=params.dtype)
        self._build(params, addresses, accumulators, None)

    def _build(self, params: ContinuousParams, addresses, accumulators, mapped) -> None:
        """Set the memory's state: the one place the constructor and :meth:`load` do it."""
        params.assign(self)
        self.seed = params.seed
        self._set_addresses(addresses)
        self.accumulators = accumulators
        self._lock = RWLock()
        self._mapped = mapped  # set by load(mmap=True): where flush() writes

    def _set_addresses(self, addresses: np.ndarray) -> None:
        # The memory's own array (no other reference may change it: the int8
        # copy must stay true to it); the public attribute is a read-only view.
        self._addresses = addresses
        self._addresses_view = addresses.view()
        self._addresses_view.flags.writeable = False
        self._int8 = None  # made again from these addresses at the next activation
        self._int8_lock = threading.Lock()

    @property
    def addresses(self) -> np.ndarray:
        """The unit-vector addresses, float32 of shape (N, dim): a read-only view.

        Activation keeps an int8 copy of the addresses, so they are not
        changed in place; assigning an array of unit rows of the same shape
        and dtype replaces them (the array is copied), except in a memory
        loaded with ``mmap=True``, whose :meth:`flush` writes only the
        accumulators.

        Examples
        --------
        >>> import numpy as np
        >>> from fastsdm.continuous import ContinuousSDM
        >>> mem = ContinuousSDM(2, threshold=0.9, addresses=[[1.0, 0.0], [0.0, 1.0]])
        >>> mem.activate([1.0, 0.1])[1]
        array([0])
        >>> mem.addresses = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
        >>> mem.activate([1.0, 0.1])[1]
        array([1])
        """
        return self._addresses_view

    @addresses.setter
    @exclusive
    def addresses(self, value) -> None:
        _persist.refuse_if_mapped(self._mapped, "addresses", "accumulators")
        check_state_array(value, "ContinuousSDM.addresses", (self.n_locations, self.dim),
                          np.float32, fix="assign an array of that layout (it is copied)")
        found = _not_unit(value)
        if found:  # cosines would not be dot products, and save() would write a bad memory
            raise ValueError(f"ContinuousSDM.addresses must be finite unit vectors; row "
                             f"{found[0]} has squared norm {found[1]}; normalise the rows "
                             "(x / np.linalg.norm(x, axis=1, keepdims=True)) before assigning")
        self._set_addresses(np.array(value, copy=True))

    @classmethod
    def _from_parts(cls, params: ContinuousParams, addresses, accumulators,
                    mapped) -> ContinuousSDM:
        mem = cls.__new__(cls)  # the arguments are checked: skip the constructor's checks
        mem._build(params, addresses, accumulators, mapped)
        return mem

    def _params(self) -> ContinuousParams:
        return ContinuousParams.of(self)

    # Pickling and copying: the lock is per object; a copy of a memory-mapped
    # memory holds its accumulators in RAM and is not tied to the files.
    # The accumulators are copied under the lock: pickle serialises the state after
    # __getstate__ returns, when a concurrent write could tear it.
    def __getstate__(self) -> dict:
        self._lock.acquire_shared()
        try:
            state = self.__dict__.copy()
            state["accumulators"] = np.array(state["accumulators"])
        finally:
            self._lock.release_shared()
        for derived in ("_lock", "_addresses_view", "_int8", "_int8_lock", "_checked_params"):
            state.pop(derived, None)
        state["_mapped"] = None
        for name in ("radius", "threshold"):  # the keys of earlier pickles
            state[name] = state.pop(f"_{name}")
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        addresses = state.pop("_addresses", None)
        if addresses is None:  # pickled before the addresses became read-only
            addresses = state.pop("addresses")
        for name in ("radius", "threshold"):
            state[f"_{name}"] = state.pop(name)
        self.__dict__.update(state)
        self._set_addresses(addresses)
        self._lock = RWLock()

    # -- construction helpers -------------------------------------------------

    @staticmethod
    @renamed_keywords(dtype="counter_dtype")
    def estimate_nbytes(dim: int, n_locations: int, value_dim: int | None = None,
                        counter_dtype=np.float32) -> int:
        """Bytes of addresses plus accumulators for a memory of this shape.

        ``dtype=`` is the older spelling of ``counter_dtype``.

        Examples
        --------
        >>> from fastsdm.continuous import ContinuousSDM
        >>> ContinuousSDM.estimate_nbytes(256, 10**6) / 2**30
        1.907
        """
        value_dim = dim if value_dim is None else value_dim
        return n_locations * (4 * dim + value_dim * check_accumulator_dtype(counter_dtype).itemsize)

    @property
    def nbytes(self) -> int:
        """Bytes held by addresses and accumulators.

        Examples
        --------
        >>> from fastsdm.continuous import ContinuousSDM
        >>> ContinuousSDM(64, 1000, k_nearest=10, seed=0).nbytes
        512000
        """
        return self._addresses.nbytes + self.accumulators.nbytes

    @property
    def counters(self) -> np.ndarray:
        """The accumulators, by the name :class:`fastsdm.SDM` gives its storage.

        Examples
        --------
        >>> from fastsdm.continuous import ContinuousSDM
        >>> mem = ContinuousSDM(8, 10, radius=3, seed=0)
        >>> mem.counters is mem.accumulators
        True
        """
        return self.accumulators

    @property
    def radius(self):
        """The Hamming-equivalent radius ``r`` (None with ``threshold=`` or ``k_nearest=``).

        Assigning one sets the threshold ``1 - 2 r / dim`` with it.
        """
        return self._radius

    @radius.setter
    def radius(self, value) -> None:
        if value is None:  # (a threshold or k-nearest memory: the threshold stays)
            self._radius = None
            return
        if self.k_nearest is not None:
            raise ValueError("this memory activates its k_nearest locations and has no radius")
        params = ContinuousParams.create(self.dim, self.n_locations, value, seed=0,
                                         value_dim=self.value_dim, dtype=self.dtype)
        self._radius, self._threshold = params.radius, params.threshold

    @property
    def threshold(self):
        """The cosine threshold of activation (None with ``k_nearest=``).

        Assigning a threshold other than the radius's makes it a threshold
        memory (``radius`` becomes None).
        """
        return self._threshold

    @threshold.setter
    def threshold(self, value) -> None:
        if value is None:
            if self.k_nearest is None:  # a radius or threshold memory activates by it
                raise ValueError("this memory activates by its threshold, which cannot be "
                                 "None; use k_nearest= in a memory of its own for that rule")
            self._threshold = None
            return
        if value == self._threshold:
            return
        if self.k_nearest is not None:
            raise ValueError("this memory activates its k_nearest locations and has no "
                             "threshold")
        params = ContinuousParams.create(self.dim, self.n_locations, threshold=value,
                                         seed=0, value_dim=self.value_dim, dtype=self.dtype)
        self._radius, self._threshold = None, params.threshold

    @property
    def counter_dtype(self) -> np.dtype:
        """The accumulators' dtype (``dtype``), by :class:`fastsdm.SDM`'s name."""
        return self.dtype

    def __repr__(self) -> str:
        if self.k_nearest is not None:
            act = f"k_nearest={self.k_nearest}"
        elif self.radius is not None:
            act = f"radius={self.radius}"
        else:
            act = f"threshold={self.threshold}"
        value = "" if self.value_dim == self.dim else f", value_dim={self.value_dim}"
        return (f"ContinuousSDM(dim={self.dim}, n_locations={self.n_locations}, {act}{value}, "
                f"dtype='{self.dtype}', seed={self.seed})")

    # -- activation -----------------------------------------------------------

    @property
    def _margin(self) -> float:
        # A bound on |BLAS float32 dot - exact cosine| for float32 unit
        # vectors, whatever BLAS's summation order or use of FMA: the dot's
        # rounding error is at most ~dim * 2**-24 (times sum |x_j a_j| <= 1)
        # and each norm is 1 within ~2**-24.  Twice that, for safety; the
        # measured error is 100x smaller, and within the margin the exact
        # cosine is computed, so a wide margin only costs a few rechecks.
        return (self.dim + 4) * 2.0**-23

    def _query_chunk(self) -> int:
        if self.k_nearest is None:
            return QUERY_CHUNK
        # The k-nearest heaps take 16 bytes per query and neighbour.
        return int(min(QUERY_CHUNK, max(1, SIMILARITY_BUDGET // (16 * self.k_nearest))))

    def _blocks(self, Q):
        """Yield ``(start, S)``: similarities of ``Q`` to blocks of locations."""
        nq, N = Q.shape[0], self.n_locations
        L = max(1, min(N, SIMILARITY_BUDGET // (4 * nq)))
        buf = np.empty(nq * L, dtype=np.float32)
        for start in range(0, N, L):
            stop = min(N, start + L)
            S = buf[: nq * (stop - start)].reshape(nq, stop - start)
            np.matmul(Q, self._addresses[start:stop].T, out=S)
            yield start, S

    def _threshold_csr(self, Q, parallel):
        nq, dim = Q.shape
        if self.n_locations == 0:
            return np.zeros(nq + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if INT8_SCAN and LANES_MIN_DIM <= dim <= _k.INT8_MAX_DIM:
            copy = self._int8_copy(parallel) if nq <= INT8_COPY_MAX_QUERIES else None
            if copy is not None or nq >= ROWS_MAX_QUERIES:
                return self._scan_csr(Q, parallel, True, copy)
        if nq < ROWS_MAX_QUERIES:
            return self._scan_csr(Q, parallel, False)
        return self._blas_csr(Q, parallel)

    def _int8_copy(self, parallel) -> _Int8Copy | None:
        """The addresses quantised for the int8 scan, made at the first call.

        ``None`` if the copy does not fit in the available RAM (the scans of
        the float32 addresses then run instead).
        """
        with self._int8_lock:  # one thread makes it; the others wait and share it
            if self._int8 is None:
                self._int8 = _quantize(self._addresses, parallel)
            return self._int8 or None

    def _scan_csr(self, Q, parallel, int8: bool, copy: _Int8Copy | None = None):
        """Threshold activation by the int8 scan (of ``copy``, or tiles quantised as it
        goes), or the rows scan."""
        A = self._addresses
        N, dim = A.shape
        nq, thr = Q.shape[0], self.threshold
        lo32, hi32 = _float32_bounds(thr - self._margin, thr + self._margin)
        # Work: the rows scan's multiply-adds / 4 (threads paid off from ~3 *
        # 10^4 x 256 floats for one query, measured); the scan of the int8
        # copy's bytes / 8 plus its multiply-adds / 64 (one instruction;
        # queries padded to blocks of 4: threads pay off from ~5 * 10^4 x 256
        # for one query, measured); quantising as it goes, the values plus the
        # multiply-adds / 16.
        nqp = -(-nq // _k.BLOCK_QUERIES) * _k.BLOCK_QUERIES
        if copy is not None:
            work = N * dim // 8 + nqp * N * dim // 64
        else:
            work = N * dim + nqp * N * dim // 16 if int8 else nq * N * dim // 4
        par = use_parallel(work, parallel)
        pieces = 4 * numba.get_num_threads() if par else 1
        if int8:  # chunks of tiles of L locations
            n4 = _int8_words(dim)
            L = _int8_tile(n4)
            X, xinfo = _int8_queries(Q, n4)
        else:  # chunks of locations; the int8 arguments are placeholders
            L, n4 = 1, 4
            X, xinfo = np.zeros(_k.BLOCK_QUERIES, dtype=np.int32), np.zeros((1, 4))
        # (Python numbers for a handful of chunks: NumPy calls on tiny arrays
        # are much of the time of one query over a small memory.)
        n_units = -(-N // L)
        cuts = _jit.even_cuts(n_units, min(n_units, pieces))
        fraction = _expected_fraction(dim, thr)
        caps = []
        for a, b in itertools.pairwise(cuts.tolist()):
            size = min(b * L, N) - min(a * L, N)
            expect = nq * size * fraction
            caps.append(min(nq * size, math.ceil(1.25 * expect + 8 * math.sqrt(expect) + 256)))

        def scan(chunks, caps):
            region = np.array([0, *itertools.accumulate(caps)], dtype=np.int64)
            pair_q = np.empty(region[-1], dtype=np.int32)
            pair_l = np.empty(region[-1], dtype=np.int64)
            n_pairs = np.zeros(len(chunks), dtype=np.int64)
            if copy is not None:  # the tiles: the copy, shared by all chunks
                tiles = copy.words[None], copy.init[None], copy.stats[None]
            else:  # one tile per chunk, quantised as it goes (placeholders: rows scan)
                tiles = _int8_tile_scratch(len(chunks) if int8 else 1, L, n4)
            args = (int8, A, A.reshape(-1), Q, X, xinfo, thr, lo32, hi32, cuts[chunks],
                    cuts[chunks + 1], copy is None, *tiles, *_int8_scratch(len(chunks), nqp),
                    region, pair_q, pair_l, n_pairs)
            _on_threads(par, len(chunks), lambda ids: _k.scan(ids, *args))
            counts = n_pairs.tolist()
            return [(pair_q[r : r + n], pair_l[r : r + n]) if n <= cap else None
                    for r, n, cap in zip(region[:-1].tolist(), counts, caps, strict=True)], counts

        runs, counts = scan(np.arange(len(caps)), caps)
        over = [c for c, run in enumerate(runs) if run is None]
        if over:
            # More activations than estimated (clustered addresses or queries):
            # scan those chunks again into regions of their exact size.
            again, _ = scan(np.array(over), [counts[c] for c in over])
            for c, run in zip(over, again, strict=True):
                runs[c] = run
        locations = np.concatenate([l_ for _, l_ in runs])
        indptr = np.zeros(nq + 1, dtype=np.int64)
        if nq == 1:  # ascending already: chunks cover ascending location ranges
            indptr[1] = locations.size
            return indptr, locations
        # Chunks cover ascending location ranges and keep each query's
        # locations ascending: a stable sort by query makes the CSR.
        queries = np.concatenate([q_ for q_, _ in runs])
        np.cumsum(np.bincount(queries, minlength=nq), out=indptr[1:])
        return indptr, locations[np.argsort(queries, kind="stable")]

    def _blas_csr(self, Q, parallel):
        """Threshold activation from BLAS similarities (CPUs without AVX-512 VNNI)."""
        nq, thr = Q.shape[0], self.threshold
        lo, hi = _float32_bounds(thr - self._margin, thr + self._margin)
        indptrs, flats = [], []
        for start, S in self._blocks(Q):
            select = _k.select_parallel if use_parallel(S.size, parallel) else _k.select_serial
            indptr, indices = select(S, Q, self._addresses, start, lo, hi, thr)
            indptrs.append(indptr)
            flats.append(indices)
        if len(flats) <= 1:
            return (indptrs[0], flats[0]) if flats else (np.zeros(nq + 1, dtype=np.int64),
                                                         np.zeros(0, dtype=np.int64))
        block_indptr = np.stack(indptrs)
        block_start = np.zeros(len(flats), dtype=np.int64)
        np.cumsum(block_indptr[:-1, -1], out=block_start[1:])
        indptr = np.zeros(nq + 1, dtype=np.int64)
        np.cumsum(np.diff(block_indptr, axis=1).sum(axis=0), out=indptr[1:])
        indices = np.empty(indptr[-1], dtype=np.int64)
        par = use_parallel(indices.size, parallel)
        (_k.merge_parallel if par else _k.merge_serial)(
            block_indptr, block_start, np.concatenate(flats), indptr, indices)
        return indptr, indices

    def _knn_csr(self, Q, parallel):
        nq, k = Q.shape[0], self.k_nearest
        heap_cos = np.empty((nq, k), dtype=np.float64)
        heap_idx = np.empty((nq, k), dtype=np.int64)
        fill = np.zeros(nq, dtype=np.int64)
        for start, S in self._blocks(Q):
            par = use_parallel(S.size, parallel)
            (_k.knn_parallel if par else _k.knn_serial)(
                S, Q, self._addresses, start, self._margin, heap_cos, heap_idx, fill)
        heap_idx.sort(axis=1)
        return np.arange(0, nq * k + 1, k, dtype=np.int64), heap_idx.ravel()

    def _chunks(self, Q, parallel):
        """Yield ``(start, stop, indptr, indices)`` for chunks of unit queries."""
        step = self._query_chunk()
        csr = self._threshold_csr if self.k_nearest is None else self._knn_csr
        for start in range(0, Q.shape[0], step):
            stop = min(Q.shape[0], start + step)
            yield (start, stop, *csr(Q[start:stop], parallel))

    def _check_arrays(self) -> None:
        # The accumulators are a public attribute, which a caller may replace
        # (the addresses' setter checks what it is given); so are the
        # parameters: one changed since the last call (k_nearest beyond the
        # locations) is checked as the constructor checks it.
        if attribute_fingerprint(self, _PARAMETERS) != self.__dict__.get("_checked_params"):
            params = self._params()
            params.assign(self)  # the constructor's types ("float64" -> dtype('float64'))
            self._checked_params = attribute_fingerprint(self, _PARAMETERS)
        # The addresses too: a new dim or n_locations made the kernels read past them.
        check_state_array(self._addresses, "ContinuousSDM.addresses",
                          (self.n_locations, self.dim), np.float32,
                          fix="change dim and n_locations only with new addresses: build a "
                              "new memory")
        check_state_array(self.accumulators, "ContinuousSDM.accumulators",
                          (self.n_locations, self.value_dim), self.dtype)

    def _queries(self, x, name: str) -> tuple[np.ndarray, bool]:
        # Every operation checks its input here first, and the memory's arrays with it.
        self._check_arrays()
        array, single = real_rows(x, name, self.dim, "dim")
        return unit_vectors(array, name), single

    @shared
    def activate(self, queries, *, parallel: bool | None = None):
        """Locations activated by each query, as CSR.

        Parameters
        ----------
        queries : array_like of real numbers, shape (dim,) or (q, dim)
            Non-zero real vectors (L2-normalised here; integers are accepted).
        parallel : bool, optional
            Force the parallel or serial kernels.

        Returns
        -------
        indptr : ndarray of int64, shape (q + 1,)
        indices : ndarray of int64
            Activated locations of query ``i``, ascending:
            ``indices[indptr[i]:indptr[i + 1]]``.

        Raises
        ------
        TypeError
            If the queries are not real numbers (complex, object, ...).
        ValueError
            If their shape is wrong, or a query is zero, NaN or infinite.

        Examples
        --------
        >>> from fastsdm.continuous import ContinuousSDM
        >>> mem = ContinuousSDM(64, 1000, k_nearest=5, seed=0)
        >>> indptr, indices = mem.activate(mem.addresses[:2])
        >>> indptr
        array([ 0,  5, 10])
        >>> mem = ContinuousSDM(64, 1000, radius=0, seed=0)
        >>> mem.activate(mem.addresses[7])[1]  # an address activates itself at radius 0
        array([7])
        """
        Q, _ = self._queries(queries, "queries")
        parts = [(indptr, indices) for _, _, indptr, indices in self._chunks(Q, parallel)]
        if len(parts) == 1:
            return parts[0]
        offsets = np.cumsum([0] + [ip[-1] for ip, _ in parts[:-1]])
        indptr = np.concatenate([[0]] + [ip[1:] + off for (ip, _), off in zip(parts, offsets,
                                                                               strict=True)])
        return indptr.astype(np.int64), np.concatenate([ix for _, ix in parts])

    # -- write ----------------------------------------------------------------

    @renamed_keywords(addresses="keys", data="values")
    @exclusive
    def write(self, keys, values=None, *, weight: float = 1.0,
              parallel: bool | None = None) -> None:
        """Add ``weight * value`` to the accumulators of each key's locations.

        Accumulators saturate at their dtype's largest finite value (about
        3.4e38 for float32), as counters saturate, instead of becoming
        infinite.

        Parameters
        ----------
        keys : array_like of real numbers, shape (dim,) or (m, dim)
            Non-zero real vectors (L2-normalised here; integers are accepted).
            ``addresses=`` is accepted too (:class:`fastsdm.SDM`'s older
            spelling).
        values : array_like of real numbers, shape (value_dim,) or (m, value_dim), optional
            What to store, one row per key, not normalised.  ``None`` stores
            the normalised keys (autoassociative memories only).  ``data=``
            is accepted too.
        weight : float
            Scales the values (negative weights erase).
        parallel : bool, optional
            Force the parallel or serial kernels.

        Raises
        ------
        TypeError
            If keys or values are not real numbers (complex, object, ...).
        ValueError
            If shapes disagree, a key is zero, NaN or infinite, a value is NaN
            or infinite, or the accumulators are read-only.

        Notes
        -----
        A batch is bit-identical to the same writes one at a time, in order:
        threads own disjoint ranges of locations and add the batch to their
        rows in batch order.

        Examples
        --------
        >>> import numpy as np
        >>> from fastsdm.continuous import ContinuousSDM
        >>> mem = ContinuousSDM(3, threshold=0.5, value_dim=2, addresses=np.eye(3))
        >>> mem.write([1.0, 0.1, 0.0], [2.0, -1.0], weight=0.5)
        >>> mem.accumulators
        array([[ 1. , -0.5],
               [ 0. ,  0. ],
               [ 0. ,  0. ]], dtype=float32)
        """
        K, single = self._queries(keys, "keys")
        if values is None:
            require_values(self.dim, self.value_dim, "-dimensional")
            V = K
        else:
            V, _ = real_rows(values, "values", self.value_dim, "value_dim")
            check_pairs(K.shape[0], V.shape[0])
            V = finite_rows(V, "values", np.float64)  # exact for float32 and float64 input
        weight = check_real(weight, "weight", integers=True)
        self._check_writable()
        if weight == 1:
            deltas = finite_rows(V, "values", self.dtype)  # values beyond its range refused
        else:
            with np.errstate(over="ignore"):  # overflow to inf is refused below
                # The product in float64, rounded once: rounding the values or the
                # weight to float32 first lost 1e-46 * 1e10, refused 1e39 * 1e-5
                # and was one ulp off for a quarter of random products.
                deltas = (V.astype(np.float64, copy=False) * float(weight)).astype(self.dtype)
            bad = ~np.isfinite(deltas).all(axis=1)
            if bad.any():
                raise ValueError(f"weight * values overflows {self.dtype} in rows "
                                 f"{list_rows(bad)}; use a smaller weight")
        for start, stop, indptr, indices in self._chunks(K, parallel):
            par = use_parallel(indices.size * self.value_dim, parallel)
            parts = 4 * numba.get_num_threads() if par else 1
            bounds = _jit.even_cuts(self.n_locations, parts)
            (_k.write_parallel if par else _k.write_serial)(
                indptr, indices, deltas[start:stop], self.accumulators, bounds)

    # -- read -----------------------------------------------------------------

    def _sums(self, Q, parallel):
        sums = np.empty((Q.shape[0], self.value_dim), dtype=np.float64)
        for start, stop, indptr, indices in self._chunks(Q, parallel):
            par = use_parallel(indices.size * self.value_dim, parallel)
            (_k.read_parallel if par else _k.read_serial)(
                indptr, indices, self.accumulators, sums[start:stop])
        return sums

    @shared
    def read(self, queries, *, iterations: int = 1, normalize: bool = True,
             return_info: bool = False, parallel: bool | None = None):
        """Sum the accumulators of each query's locations, once or iterating.

        Parameters
        ----------
        queries : array_like of real numbers, shape (dim,) or (q, dim)
            Non-zero real vectors (L2-normalised here; integers are accepted).
        iterations : int
            Maximum number of reads.  With ``iterations > 1`` (autoassociative
            memories only) the direction of each result is read again, and
            each query stops as soon as its result stops changing: when the
            cosine between the result and the vector it was read at is at
            least ``1 - 1e-6`` (or they are equal), or when the result is
            zero (no location activated, or nothing stored there).
        normalize : bool
            Return unit vectors (a zero sum gives a zero vector); ``False``
            returns the raw sums of the last read (:meth:`read_sums` gives
            them in float64).
        return_info : bool
            Also return a :class:`fastsdm.ReadInfo` with the reads taken per
            query and whether it converged (its last result had the direction
            of the vector it was read at; always ``False`` for a
            heteroassociative memory).
        parallel : bool, optional
            Force the parallel or serial kernels.

        Returns
        -------
        result : ndarray of dtype, shape (value_dim,) or (q, value_dim)
            Sums are accumulated in float64, in ascending location order,
            and rounded once to the accumulators' dtype (a raw sum beyond
            float32's range becomes ``inf``; its unit vector stays finite).
        info : ReadInfo
            Only with ``return_info=True``.

        Raises
        ------
        TypeError
            If the queries are not real numbers (complex, object, ...).
        ValueError
            If their shape is wrong, a query is zero, NaN or infinite, or
            ``iterations > 1`` for a heteroassociative memory.

        Examples
        --------
        >>> import numpy as np
        >>> from fastsdm.continuous import ContinuousSDM
        >>> mem = ContinuousSDM(3, threshold=0.5, value_dim=2, addresses=np.eye(3))
        >>> mem.write([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[3.0, 4.0], [1.0, 0.0]])
        >>> mem.read([1.0, 1.0, 0.0], normalize=False)
        array([4., 4.], dtype=float32)
        >>> mem.read([1.0, 1.0, 0.0])
        array([0.70710677, 0.70710677], dtype=float32)
        >>> mem.read([0.0, 0.0, 1.0])  # nothing stored there
        array([0., 0.], dtype=float32)
        """
        return_info = check_flag(return_info, "return_info")
        normalize = check_flag(normalize, "normalize")
        Q, single = self._queries(queries, "queries")
        iterations = check_iterations(iterations, self.dim, self.value_dim, "value_dim == dim",
                                      "a query")
        autoassociative = self.value_dim == self.dim

        def step(rows):
            # One read: the unit vectors are the next queries (float32, like
            # every query); the result keeps them, or the raw sums.
            sums = self._sums(rows, parallel)
            unit, _ = normalise_rows(sums)
            with np.errstate(over="ignore"):  # float32 sums beyond its range become inf
                kept = (unit if normalize else sums).astype(self.dtype, copy=False)
            return unit.astype(np.float32), kept

        if iterations == 1 and not return_info:  # one read: no convergence to test
            result = step(Q)[1]
        else:
            result, info = iterate(step, Q, iterations,
                                   fixed=_same_direction if autoassociative else None,
                                   stops=_no_direction,
                                   kept=np.empty((Q.shape[0], self.value_dim), dtype=self.dtype))
        if single:
            result = result[0]
        return (result, info) if return_info else result

    @shared
    def read_sums(self, queries, *, parallel: bool | None = None) -> np.ndarray:
        """The sums a read normalises: accumulators of each query's locations, in float64.

        One read, no normalisation and no rounding to the accumulators'
        dtype: ``read(queries, normalize=False)`` is this rounded to
        ``dtype``.  The sums run in ascending location order.

        Parameters
        ----------
        queries : array_like of real numbers, shape (dim,) or (q, dim)
            Non-zero real vectors (L2-normalised here; integers are accepted).
        parallel : bool, optional
            Force the parallel or serial kernels.

        Returns
        -------
        ndarray of float64, shape (value_dim,) or (q, value_dim)

        Raises
        ------
        TypeError
            If the queries are not real numbers.
        ValueError
            If their shape is wrong, or a query is zero, NaN or infinite.

        Examples
        --------
        >>> import numpy as np
        >>> from fastsdm.continuous import ContinuousSDM
        >>> mem = ContinuousSDM(3, threshold=0.5, value_dim=2, addresses=np.eye(3))
        >>> mem.write([[1, 0, 0], [0, 1, 0]], [[3.0, 4.0], [1.0, 0.0]])
        >>> mem.read_sums([1, 1, 0])
        array([4., 4.])
        >>> mem.read_sums([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        array([[3., 4.],
               [0., 0.]])
        """
        Q, single = self._queries(queries, "queries")
        sums = self._sums(Q, parallel)
        return sums[0] if single else sums

    def _check_writable(self) -> None:
        self._check_arrays()
        if not self.accumulators.flags.writeable:
            raise _persist.read_only("accumulators",
                                     loaded=isinstance(self.accumulators, np.memmap))
        if self._mapped is not None:
            _persist.check_mapped(self._mapped, self._params(), self.accumulators,
                                  "accumulators")

    @exclusive
    def clear(self) -> None:
        """Set every accumulator to zero.

        Examples
        --------
        >>> from fastsdm.continuous import ContinuousSDM
        >>> mem = ContinuousSDM(8, 100, radius=4, seed=0)
        >>> mem.write(mem.addresses[0])
        >>> mem.clear()
        >>> float(abs(mem.accumulators).max())
        0.0
        """
        self._check_writable()
        self.accumulators[...] = 0

    # -- persistence ----------------------------------------------------------

    def _metadata(self) -> dict:
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                **self._params().to_metadata()}

    @shared
    def save(self, path, *, overwrite: bool = False) -> Path:
        """Save the memory to a directory, losslessly, crash-safely and without pickle.

        The directory holds ``fastsdm.json`` (format name and version,
        parameters, seed, array checksums), ``addresses.npy`` and
        ``accumulators.npy``.  As for :meth:`fastsdm.SDM.save`, the new
        memory is written and ``fsync``-ed beside ``path`` and swapped in by
        renames: at every instant ``path`` holds the complete old memory or
        the complete new one, and the next ``save`` or :meth:`load` of that
        path completes a swap that a crash interrupted.

        Parameters
        ----------
        path : str or Path
            The directory to create.
        overwrite : bool
            Replace an existing saved memory at ``path``.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is false, or it is a file, a
            symbolic link, a non-empty directory that is not a saved memory,
            or a saved memory that also holds other files.
        ValueError
            If this memory is memory-mapped (``mmap=True``) from ``path``
            itself: call :meth:`flush` instead.

        Examples
        --------
        >>> import os, tempfile
        >>> from fastsdm.continuous import ContinuousSDM
        >>> mem = ContinuousSDM(64, 100, radius=24, seed=0)
        >>> mem.write(mem.addresses[:3])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     back = ContinuousSDM.load(mem.save(os.path.join(tmp, "m")))
        ...     bool((back.accumulators == mem.accumulators).all())
        True
        """
        self._check_arrays()  # a replaced array would save a memory that does not load
        arrays = {"addresses": self._addresses, "accumulators": self.accumulators}
        return _persist.save_directory(path, self._metadata(), arrays, overwrite=overwrite,
                                       mapped=getattr(self, "_mapped", None))

    @classmethod
    def load(cls, path, *, mmap: bool | str = False, verify: bool | None = None) -> ContinuousSDM:
        """Load a memory saved by :meth:`save`.

        Parameters
        ----------
        path : str or Path
        mmap : bool or {"r+", "r", "c"}
            Memory-map the accumulators instead of reading them: ``True`` or
            ``"r+"`` writes go to the file (:meth:`flush` then records their
            checksum), ``"c"`` copy-on-write, ``"r"`` read-only (writes then
            fail).  For memories larger than RAM.
        verify : bool, optional
            Check the arrays' CRC-32 checksums (reads every byte).  Default:
            every array, except the accumulators of a memory mapped
            read-only (``"r"``) or copy-on-write (``"c"``); a memory opened
            for writing is checked first, because :meth:`flush` seals a new
            checksum over whatever it holds.  As for
            :meth:`fastsdm.SDM.load`, a memory opened with ``mmap="r+"``
            keeps the checksum of its last save or flush and is recorded as
            open for writing, so that a load after unflushed writes explains
            the mismatch and how to proceed; and only one object at a time
            may map a directory for writing.

        Returns
        -------
        ContinuousSDM

        Raises
        ------
        ValueError
            If the directory is not a saved ContinuousSDM, or is truncated,
            corrupt or of an unknown format version (every field and every
            ``.npy`` header is checked, and the addresses must be finite unit
            vectors), or ``mmap`` is not one of the modes above.  Files are
            never unpickled.

        Examples
        --------
        >>> import os, tempfile
        >>> from fastsdm.continuous import ContinuousSDM
        >>> mem = ContinuousSDM(64, 100, threshold=0.2, seed=0)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     back = ContinuousSDM.load(mem.save(os.path.join(tmp, "m")))
        >>> back
        ContinuousSDM(dim=64, n_locations=100, threshold=0.2, dtype='float32', seed=0)
        """
        path = Path(path)
        mode, verify = _persist.mmap_mode(mmap), _persist.verify_option(verify)
        return _persist.load_retrying(lambda: cls._load(path, mode, verify))

    @classmethod
    def _load(cls, path: Path, mode: str | None, verify: bool | None) -> ContinuousSDM:
        def check(params, arrays):
            _check_unit_addresses(arrays["addresses"], path / "addresses.npy")

        saved = _persist.load_memory(path, _KIND, mode, verify,
                                     parse=ContinuousParams.from_metadata, check=check,
                                     available=_available_memory)
        return cls._from_parts(saved.params, saved.arrays["addresses"],
                               saved.arrays["accumulators"], saved.mapped)

    @exclusive
    def flush(self) -> None:
        """Write a memory-mapped memory's accumulators and checksum to its files.

        Only for memories loaded with ``mmap=True``/``"r+"``: flushes the
        accumulators and records their checksum, so the directory is again a
        complete, verifiable saved memory.

        Raises
        ------
        ValueError
            If the memory was not loaded with ``mmap=True``, or its directory
            was replaced (by a ``save`` to that path) since it was loaded.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from fastsdm.continuous import ContinuousSDM
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = ContinuousSDM(8, 100, radius=3, seed=0).save(os.path.join(tmp, "m"))
        ...     mapped = ContinuousSDM.load(path, mmap=True)
        ...     mapped.write(np.ones(8))
        ...     mapped.flush()
        ...     bool((ContinuousSDM.load(path).accumulators == mapped.accumulators).all())
        True
        """
        _persist.flush_memory(getattr(self, "_mapped", None), _KIND, self._params(),
                              self.accumulators)


def _not_unit(addresses: np.ndarray):
    """``(row, squared norm)`` of the first address that is not a finite unit
    vector, or None (activation relies on unit addresses)."""
    for start in range(0, addresses.shape[0], NORMALIZE_ROWS):
        rows = addresses[start : start + NORMALIZE_ROWS].astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            norms = np.einsum("ij,ij->i", rows, rows)
        # float32 rounding of a unit vector moves its squared norm by at
        # most ~dim * 2**-24; four times that is still far from any rescaling.
        bad = ~(np.abs(norms - 1.0) <= (addresses.shape[1] + 4) * 2.0**-22)
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            return row, norms[row - start]
    return None


def _check_unit_addresses(addresses: np.ndarray, file) -> None:
    """Refuse saved addresses that are not finite unit vectors."""
    found = _not_unit(addresses)
    if found:
        raise ValueError(f"{file} holds address {found[0]} with squared norm {found[1]} "
                         "(addresses are finite unit vectors); the memory is corrupt")


def _int8_queries(Q: np.ndarray, n4: int):
    """Unit queries quantised for the int8 scan: packed words and error terms.

    Query ``x`` becomes ``sx * xq + ex`` with ``sx = max|x| / 127`` and
    ``xq = round(x / sx)`` in ``[-127, 127]``, stored as ``xq + 128`` bytes,
    four per int32 word, ``n4`` words per query (zero padding stores 128);
    the number of rows is rounded up to a multiple of 4 with padding queries
    (never activated: their bounds are set to the int32 maximum).  ``xinfo``
    holds ``sx``, ``Kx = sx * |xq|``, ``Ex = |ex|`` and ``|x|`` per query, in
    float64 (the bound of _kernels.continuous._int8_bounds).
    """
    nq = Q.shape[0]
    words = np.full((-(-nq // 4) * 4, 4 * n4), 128, dtype=np.uint8)
    xinfo = np.empty((nq, 4))
    _k.quantize_queries(Q, words, xinfo)
    return words.view(np.int32).reshape(-1), xinfo


def _on_threads(parallel: bool, n_tasks: int, run) -> None:
    """``run(ids)`` over the task indices ``0..n_tasks-1``, on several threads if ``parallel``.

    The scans are serial numba kernels that release the GIL; a parallel call
    runs them on fastsdm's worker threads (:func:`fastsdm._jit.run_tasks`,
    the same threads as the binary kernels'), each taking the next task as it
    finishes one.  A numba ``prange`` driver would compile the scans again
    inside its parallel loop: ~2.7 s more on a cold cache, measured.
    """
    if _jit.parallel_parts(n_tasks, parallel) <= 1:
        run(np.arange(n_tasks, dtype=np.int64))
        return
    claims = itertools.count()  # next() is atomic under the GIL

    def work(tasks, worker):
        while (task := next(claims)) < n_tasks:
            run(np.array([task], dtype=np.int64))

    _jit.run_tasks(work, n_tasks, (), parallel)


class _Int8Copy(NamedTuple):
    """The addresses quantised for the int8 scan (:func:`_quantize`)."""

    tile: int  # locations per tile (a multiple of 32)
    n4: int  # int32 words per location (_int8_words)
    words: np.ndarray  # int32 (n_tiles * tile * n4,), the layout of _k.int8_masks
    init: np.ndarray  # int32 (n_tiles * tile,): each location's initial dot product
    stats: np.ndarray  # float64 (n_tiles, 4): scale and error terms of each tile


def _int8_words(dim: int) -> int:
    """int32 words per location in the int8 scan: 4 int8 values each, dim padded to 16."""
    return 4 * -(-dim // _k.LANES)


def _int8_tile(n4: int) -> int:
    """Locations per tile of the int8 scan: INT8_TILE_BYTES of int8 values, a multiple of 32."""
    return max(_k.BLOCK_LOCATIONS,
               INT8_TILE_BYTES // (4 * n4) // _k.BLOCK_LOCATIONS * _k.BLOCK_LOCATIONS)


def _quantize(A: np.ndarray, parallel, tile: int | None = None) -> _Int8Copy | bool:
    """The int8 copy of addresses ``A`` (``False`` if it does not fit in the available RAM).

    Tiles of ``tile`` locations (a multiple of 32; default: :func:`_int8_tile`),
    one scale per tile (see _kernels.continuous.quantize_tiles).
    """
    N, dim = A.shape
    n4 = _int8_words(dim)
    tile = _int8_tile(n4) if tile is None else tile
    n_tiles = -(-N // tile)
    if n_tiles * tile * 4 * (n4 + 1) > _available_memory():
        return False
    copy = _Int8Copy(tile, n4, np.empty(n_tiles * tile * n4, dtype=np.int32),
                     np.empty(n_tiles * tile, dtype=np.int32), np.empty((n_tiles, 4)))
    par = use_parallel(N * dim, parallel)
    cuts = _jit.even_cuts(n_tiles, min(n_tiles, 4 * numba.get_num_threads() if par else 1))
    sums = np.empty((cuts.size - 1, 3))
    flat = A.reshape(-1)
    _on_threads(par, cuts.size - 1, lambda ids: _k.quantize_tiles(
        ids, A, flat, flat.view(np.int32), cuts[:-1], cuts[1:], copy.words, copy.init,
        copy.stats, sums))
    return copy


def _int8_tile_scratch(chunks: int, L: int, n4: int):
    """One tile per chunk for the int8 scan that quantises as it goes: words, init, stats."""
    return (np.empty((chunks, L * n4), dtype=np.int32), np.empty((chunks, L), dtype=np.int32),
            np.empty((chunks, 1, 4)))


def _int8_scratch(chunks: int, n_queries: int):
    """Per-chunk scratch of the int8 scan: row sums, bounds (queries padded to 4), masks."""
    return (np.empty((chunks, 3)), np.empty((chunks, 2, n_queries), dtype=np.int32),
            np.empty((chunks, 2, _k.BLOCK_QUERIES), dtype=np.uint32))


@functools.lru_cache(maxsize=256)
def _expected_fraction(dim: int, threshold: float) -> float:
    """Estimated fraction of random unit vectors activated (sizes the scans' buffers).

    The normal approximation of the cosine of random unit vectors,
    ``N(0, 1/dim)``, whose tails are heavier than the exact distribution's:
    an overestimate.  A wrong estimate costs a rescan, never a wrong result.
    """
    return min(1.0, 0.5 * math.erfc(threshold * math.sqrt(dim / 2.0)))


def _float32_bounds(lo: float, hi: float):
    """float32 ``lo' <= lo`` and ``hi' >= hi``: float32 comparisons that keep the margin."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    if lo32 > lo:
        lo32 = np.nextafter(lo32, np.float32(-np.inf))
    if hi32 < hi:
        hi32 = np.nextafter(hi32, np.float32(np.inf))
    return lo32, hi32


def _no_direction(a: np.ndarray) -> np.ndarray:
    """Rows of ``a`` that are zero (a read that activated nothing, or found zero sums)."""
    return ~a.any(axis=1)


def _same_direction(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of ``a`` and ``b`` (float32) with cosine >= CONVERGENCE_COSINE, or equal."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ab = np.einsum("ij,ij->i", a64, b64)
    norms = np.sqrt(np.einsum("ij,ij->i", a64, a64) * np.einsum("ij,ij->i", b64, b64))
    cos = np.divide(ab, norms, out=np.zeros_like(ab), where=norms > 0)
    return (cos >= CONVERGENCE_COSINE) | (a == b).all(axis=1)

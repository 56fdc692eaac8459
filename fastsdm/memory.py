"""The binary Sparse Distributed Memory (Kanerva 1988)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np

from . import _persist
from ._jit import parallel_parts, run_tasks, use_parallel
from ._kernels import counters as _c
from ._locking import RWLock, exclusive, shared
from ._machine import available_memory as _available_memory
from ._params import (
    MetadataError,
    SDMParams,
    check_counter_dtype,
    check_tie_rng_state,
    seed_entropy,
)
from ._validation import as_bits, as_words, check_int, check_words, n_words
from .bits import unpack_bits
from .search import (
    TILED_MIN_QUERIES,
    knn_arrays,
    pad_queries,
    queries_per_chunk,
    radius_csr,
    tile_size,
)

__all__ = ["SDM", "ReadInfo"]

#: Locations whose addresses come from one child seed: a shard of a memory can
#: regenerate any block of addresses without drawing the others.
ADDRESS_BLOCK = 1 << 16

#: Bytes of the temporaries (deltas; per-thread partial sums, and int16 sums
#: for int8 counters) of one fused scan-and-update call; larger batches are
#: cut into calls of this size.  Small on purpose: the canonical int8
#: memory's arrays take 1.128 GB, and this keeps a whole write-and-read
#: session's peak resident size within 1.3 GB (docs/performance.md).  3 MiB
#: keeps a canonical read of 256 queries in one call on 2 threads with the
#: int16 sums counted (at 2 MiB it took two calls: 0.97x in paired timings).
FUSED_BUDGET = 3 << 20

# Placeholders for the argument a fused write or read does not use.
_NO_PARTIAL = np.zeros((1, 1, 1), dtype=np.int32)
_NO_DELTAS = np.zeros((1, 1), dtype=np.int8)

FORMAT_NAME = "fastsdm.SDM"
FORMAT_VERSION = 1
_REQUIRED = (*SDMParams.KEYS, "tie_rng_state")
#: Set while the memory is memory-mapped for writing (see fastsdm._persist).
_OPTIONAL = ("open_for_writing", *SDMParams.OPTIONAL_KEYS)
_RESEAL = "fastsdm.SDM.load(path, mmap=True, verify=False).flush()"


class ReadInfo(NamedTuple):
    """What an iterated read did, per query.

    Attributes
    ----------
    steps : ndarray of int64
        Reads performed before the query stopped.
    converged : ndarray of bool
        Whether the query reached a fixed point (``read(x) == x``) within the
        allowed iterations.
    """

    steps: np.ndarray
    converged: np.ndarray


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def generate_addresses(entropy: int, n_locations: int, n_bits: int, start: int = 0,
                       stop: int | None = None) -> np.ndarray:
    """Addresses ``start:stop`` of the memory seeded with ``entropy``.

    Block ``b`` of :data:`ADDRESS_BLOCK` locations is drawn from the child
    seed ``SeedSequence(entropy, spawn_key=(0, b))``, so any range can be
    generated alone and every range agrees with the whole.
    """
    from .bits import random_addresses

    stop = n_locations if stop is None else stop
    out = np.empty((stop - start, n_words(n_bits)), dtype=np.uint64)
    for block in range(start // ADDRESS_BLOCK, -(-stop // ADDRESS_BLOCK)):
        b0 = block * ADDRESS_BLOCK
        b1 = min(n_locations, b0 + ADDRESS_BLOCK)
        words = random_addresses(b1 - b0, n_bits,
                                 np.random.SeedSequence(entropy, spawn_key=(0, block)))
        lo, hi = max(start, b0), min(stop, b1)
        out[lo - start : hi - start] = words[lo - b0 : hi - b0]
    return out


class SDM:
    """Kanerva's Sparse Distributed Memory over binary vectors.

    ``N`` hard locations each have a fixed random ``n_bits`` address and
    ``n_data_bits`` signed counters.  A location is *activated* by a vector
    when its address lies within Hamming distance ``radius`` (inclusive), or,
    with ``k_nearest``, when it is among the ``k`` nearest addresses, or,
    with Jaeckel's rule (``activation="hyperplane"``), when the vector agrees
    with the location on each of the ``selected`` coordinates it selects.
    Writing data ``w`` at address ``x`` adds ``+weight`` to counter ``j`` of
    every activated location where ``w_j = 1`` and ``-weight`` where
    ``w_j = 0``, saturating at the counter dtype's limits.  Reading at ``x``
    sums the counters of the activated locations and thresholds at zero.

    Parameters
    ----------
    n_bits : int
        Address length ``n`` (>= 1).
    n_locations : int, optional
        Number of hard locations ``N``; inferred from ``addresses`` if given.
    radius : int, optional
        Activation radius ``d`` in ``[0, n_bits]``.  Give exactly one of
        ``radius``, ``activation_probability`` and ``k_nearest``.
    activation_probability : float, optional
        Converted to a radius with the paper's convention: the smallest ``d``
        with ``P(Binomial(n, 1/2) <= d) >= p``.  With the hyperplane rule,
        to ``selected = round(-log2 p)`` (the ``2**-k`` nearest ``p`` on a
        log scale, ties to the smaller ``k``:
        :func:`fastsdm.theory.hyperplane_k_for_probability`).
    k_nearest : int, optional
        Activate the ``k`` nearest locations instead (ties by lower index).
    n_data_bits : int, optional
        Width of the stored data (default ``n_bits``: autoassociative use).
    counter_dtype : {"int16", "int8", "int32"}
        Counter width; counters saturate at its limits, never wrap.
    ties : {"random", "zero", "one", "keep"}
        The bit read where the counter sum is exactly zero: random (Kanerva;
        drawn from the memory's seeded generator), 0, 1, or the query's own
        bit ("keep", autoassociative memories only).
    seed : None, int or SeedSequence
        Seeds the addresses and the tie generator.  ``None`` draws fresh
        entropy, recorded in :attr:`seed` so the memory can be rebuilt.
    addresses : ndarray of uint64, shape (N, W), optional
        Use these addresses instead of random ones.
    activation : {"radius", "k_nearest", "hyperplane"}, optional
        The activation rule; by default the one the other arguments name
        (``selected`` or ``design`` imply "hyperplane").
    selected : int, optional
        Hyperplane rule: the number ``k`` of coordinates each location
        selects, in ``[0, n_bits]``; a random address activates a location
        with probability ``2**-k``.
    required : {"random", "ones"}, optional
        Hyperplane rule: the values a generated design requires on the
        selected coordinates, random bits (default) or all 1 (Jaeckel's
        hyperplane design, for sparse addresses).
    design : (masks, values), optional
        Hyperplane rule: an explicit design, two packed ``uint64`` arrays of
        shape (N, W): the selected coordinates (the same number per
        location) and the values required on them (bits outside ``masks``
        are ignored).  Without it the design is drawn from ``seed`` by
        blocks of locations, as addresses are.

    Attributes
    ----------
    addresses : ndarray of uint64, shape (N, ceil(n_bits / 64)), or None
        None with the hyperplane rule.
    design : Design (masks, values), or None
        The hyperplane rule's design (None with the other rules).
    activation : str
        "radius", "k_nearest" or "hyperplane".
    selected, required : int and str, or None
        The hyperplane rule's ``k`` and how its values were chosen
        ("random", "ones" or "given").
    counters : ndarray, shape (N, n_data_bits)
    seed : int
        The entropy that generated the addresses (or design) and the tie
        stream.

    Notes
    -----
    Memory use is ``N * (8 * ceil(n / 64) + n_data * itemsize)`` bytes:
    1.05 GiB for Kanerva's canonical memory (n = 1000, N = 10**6) with int8
    counters; the hyperplane rule holds two packed rows per location and its
    ``int32`` keys (``4 k`` bytes) instead of one address.  The constructor
    refuses a memory that does not fit in the available RAM; :meth:`load`
    with ``mmap=True`` serves larger ones from disk.

    References
    ----------
    P. Kanerva, *Sparse Distributed Memory*, MIT Press, 1988.

    Examples
    --------
    >>> import fastsdm
    >>> mem = fastsdm.SDM(n_bits=256, n_locations=20_000, radius=112, seed=0)
    >>> patterns = fastsdm.random_addresses(50, 256, seed=1)
    >>> mem.write(patterns)
    >>> cue = fastsdm.flip_bits(patterns, 256, 20, seed=2)
    >>> recalled = mem.read(cue, iterations=10)
    >>> int(fastsdm.hamming_distances(recalled, patterns).diagonal().max())
    0

    Jaeckel's selected-coordinate rule at Kanerva's activation probability
    (``k = 10`` coordinates per location: ``2**-10`` of the locations):

    >>> mem = fastsdm.SDM(1000, 20_000, activation="hyperplane",
    ...                   activation_probability=0.001, seed=0)
    >>> mem.selected, mem.design.masks.shape
    (10, (20000, 16))
    >>> mem.write(fastsdm.random_addresses(10, 1000, seed=1))
    >>> indptr, _ = mem.activate(fastsdm.random_addresses(100, 1000, seed=2))
    >>> float(indptr[-1] / 100)  # about 20_000 / 1024 = 19.5
    19.49
    """

    def __init__(self, n_bits: int, n_locations: int | None = None, radius: int | None = None, *,
                 activation_probability: float | None = None, k_nearest: int | None = None,
                 n_data_bits: int | None = None, counter_dtype="int16", ties: str = "random",
                 seed=None, addresses=None, activation: str | None = None,
                 selected: int | None = None, required: str | None = None, design=None):
        n_bits = check_int(n_bits, "n_bits", 1)
        if design is not None:
            from ._hyperplane import sdm_design

            if activation not in (None, "hyperplane") or addresses is not None:
                raise ValueError("design= is the hyperplane rule's locations: it goes with "
                                 "activation='hyperplane' and without addresses=")
            design, n_locations, selected, required = sdm_design(
                n_bits, n_locations, selected, required, design, None)
            activation = "hyperplane"
        if addresses is not None:
            addresses = check_words(addresses, "addresses", n_bits, ndim=(2,))
            if n_locations is not None and n_locations != addresses.shape[0]:
                raise ValueError(f"n_locations={n_locations} does not match the "
                                 f"{addresses.shape[0]} addresses given; omit n_locations")
            n_locations = addresses.shape[0]
        SDMParams.create(
            n_bits, n_locations, radius, activation_probability=activation_probability,
            k_nearest=k_nearest, n_data_bits=n_data_bits, counter_dtype=counter_dtype,
            ties=ties, activation=activation, selected=selected, required=required
        ).assign(self)
        if self.selected is not None and addresses is not None:
            raise ValueError("addresses= belongs to the radius and k_nearest rules; a "
                             "hyperplane memory takes an explicit design=(masks, values)")
        self._check_fits()
        seq, self.seed = seed_entropy(seed)
        self.design = None
        if self.selected is not None:
            if design is None:
                from ._hyperplane import Design, generate_design

                design = Design(*generate_design(seq.entropy, self.n_locations, self.n_bits,
                                                 self.selected, required=self.required))
            self.design = design
        elif addresses is None:
            addresses = generate_addresses(seq.entropy, self.n_locations, self.n_bits)
        self.addresses = addresses
        self.counters = np.zeros((self.n_locations, self.n_data_bits), dtype=self.counter_dtype)
        self._tie_rng = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(1,)))
        self._lock = RWLock()
        self._mapped = None  # set by load(mmap=True): where flush() writes

    def _params(self) -> SDMParams:
        return SDMParams.create(self.n_bits, self.n_locations, self.radius,
                                k_nearest=self.k_nearest, n_data_bits=self.n_data_bits,
                                counter_dtype=self.counter_dtype, ties=self.ties, seed=self.seed,
                                selected=self.selected, required=self.required)

    # Pickling and copying: the lock is per object; a copy of a memory-mapped
    # memory holds its counters in RAM and is not tied to the files.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        if isinstance(state.get("counters"), np.memmap):
            state["counters"] = np.array(state["counters"])
        state["_mapped"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        # Pickles of memories from before the hyperplane rule lack its fields.
        defaults = {"design": None, "selected": None, "required": None,
                    "activation": "k_nearest" if state.get("k_nearest") else "radius"}
        self.__dict__.update({**defaults, **state})
        self._lock = RWLock()

    # -- construction helpers -------------------------------------------------

    @property
    def n_words(self) -> int:
        """Words per address, ``ceil(n_bits / 64)``."""
        return n_words(self.n_bits)

    @staticmethod
    def estimate_nbytes(n_bits: int, n_locations: int, n_data_bits: int | None = None,
                        counter_dtype="int16") -> int:
        """Bytes of addresses plus counters for a memory of this shape.

        Examples
        --------
        >>> import fastsdm
        >>> fastsdm.SDM.estimate_nbytes(1000, 10**6, counter_dtype="int8") / 2**30
        1.0505...
        """
        n_data = n_bits if n_data_bits is None else n_data_bits
        itemsize = np.dtype(check_counter_dtype(counter_dtype)).itemsize
        return n_locations * (8 * n_words(n_bits) + n_data * itemsize)

    @property
    def nbytes(self) -> int:
        """Bytes held by addresses (or a hyperplane design) and counters."""
        where = self.addresses if self.design is None else self.design.masks
        return where.nbytes * (1 if self.design is None else 2) + self.counters.nbytes

    def _check_fits(self):
        need = self.estimate_nbytes(self.n_bits, self.n_locations, self.n_data_bits,
                                    self.counter_dtype)
        if self.selected is not None:
            # Masks and values instead of addresses, and the int32 keys.
            need += self.n_locations * (8 * self.n_words + 4 * self.selected)
        available = _available_memory()
        if available is not None and need > available:
            counters = self.n_locations * self.n_data_bits * self.counter_dtype.itemsize
            hint = ("use counter_dtype='int8' (halves or quarters the counters)"
                    if self.counter_dtype != np.int8 else "use fewer locations")
            raise MemoryError(
                f"this SDM needs {need} bytes ({_gib(need)}: counters {_gib(counters)} at "
                f"{self.counter_dtype}, addresses {_gib(need - counters)}) but only "
                f"{_gib(available)} is available; {hint}, or save and load it with mmap=True")

    def __repr__(self) -> str:
        act = (f"radius={self.radius}" if self.activation == "radius"
               else f"k_nearest={self.k_nearest}" if self.activation == "k_nearest"
               else f"activation='hyperplane', selected={self.selected}, "
                    f"required='{self.required}'")
        data = "" if self.n_data_bits == self.n_bits else f", n_data_bits={self.n_data_bits}"
        return (f"SDM(n_bits={self.n_bits}, n_locations={self.n_locations}, {act}{data}, "
                f"counter_dtype='{self.counter_dtype}', ties='{self.ties}', seed={self.seed})")

    # -- activation -----------------------------------------------------------

    def _activate_words(self, words: np.ndarray, parallel=None):
        if self.selected is not None:
            from ._hyperplane import sdm_activate

            return sdm_activate(self, words, parallel)
        if self.k_nearest is None:
            return radius_csr(words, self.addresses, self.radius, parallel)
        indices, _ = knn_arrays(words, self.addresses, self.k_nearest, parallel)
        indices.sort(axis=1)
        indptr = np.arange(0, indices.size + 1, self.k_nearest, dtype=np.int64)
        return indptr, indices.ravel()

    @shared
    def activate(self, queries, *, parallel: bool | None = None):
        """Locations activated by each query, as CSR.

        Parameters
        ----------
        queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed ``uint64`` words or 0/1 bits.
        parallel : bool, optional
            Force the parallel or serial kernels.

        Returns
        -------
        indptr : ndarray of int64, shape (q + 1,)
        indices : ndarray of int64
            Activated locations of query ``i``, ascending:
            ``indices[indptr[i]:indptr[i + 1]]``.

        Examples
        --------
        >>> import fastsdm
        >>> mem = fastsdm.SDM(64, 1000, k_nearest=5, seed=0)
        >>> indptr, indices = mem.activate(mem.addresses[:2])
        >>> indptr
        array([ 0,  5, 10])
        """
        words, _, _ = as_words(queries, "queries", self.n_bits)
        return self._activate_words(words, parallel)

    # -- write ----------------------------------------------------------------

    @exclusive
    def write(self, addresses, data=None, *, weight: int = 1, parallel: bool | None = None):
        """Store data at addresses (a batch at once).

        Parameters
        ----------
        addresses : ndarray, shape (W,) / (n_bits,) or (m, W) / (m, n_bits)
            Packed ``uint64`` words or 0/1 bits.
        data : ndarray, optional
            What to store, one row per address, ``n_data_bits`` wide, packed or
            0/1.  ``None`` stores the addresses themselves (autoassociative).
        weight : int
            Added to counters where the data bit is 1 and subtracted where it
            is 0 (negative weights erase).  Counters saturate.
        parallel : bool, optional
            Force the parallel or serial kernels.

        Notes
        -----
        A batch equals the same writes made one at a time, in order,
        saturation included: threads own disjoint ranges of locations and
        apply the batch in order to their rows.

        Examples
        --------
        >>> import fastsdm
        >>> mem = fastsdm.SDM(64, 1000, radius=24, counter_dtype="int8", seed=0)
        >>> x = mem.addresses[0]
        >>> for _ in range(300):
        ...     mem.write(x)
        >>> int(mem.counters[0].max()), int(mem.counters[0].min())
        (127, -128)
        """
        if not self.counters.flags.writeable:
            raise ValueError("this memory's counters are read-only (loaded with mmap='r'); load "
                             "it with mmap=True to write to the file or mmap='c' to write in RAM")
        words, data_words, weight = write_inputs(self, addresses, data, weight)
        data_words = words if data_words is None else data_words
        # Chunks bound the temporaries (deltas; activation masks and CSR when
        # not fused); they are applied in order, so the batch still equals
        # sequential writes.
        if self._fused(words.shape[0]):
            itemsize = self._delta_dtype(weight).itemsize
            write_chunk, step = self._write_chunk_fused, self._fused_step(itemsize)
        else:
            write_chunk, step = self._write_chunk_csr, queries_per_chunk(self.n_locations)
        for start in range(0, words.shape[0], step):
            chunk = slice(start, start + step)
            write_chunk(words[chunk], self._deltas(data_words[chunk], weight), parallel)

    def _write_chunk_fused(self, words, deltas, parallel):
        if deltas.dtype != self.counters.dtype:
            # A weight beyond the counters' range (int64 deltas) is rare: the
            # activation-list path serves it, and no second fused kernel per
            # counter dtype is compiled for it.
            return self._write_chunk_csr(words, deltas, parallel)
        Qp, L, par = self._scan_setup(words, parallel)
        # Threads claim chunks of locations; several per thread even out the load.
        n_chunks = 4 * numba.get_num_threads() if par else 1
        run_tasks(_c.scan_update(True), n_chunks,
                  (Qp, words.shape[0], self.addresses, L, n_chunks, self.radius, self.counters,
                   deltas, _NO_PARTIAL), par)

    def _write_chunk_csr(self, words, deltas, parallel):
        indptr, indices = self._activate_words(words, parallel)
        self._apply(indptr, indices, deltas, parallel)

    def _fused(self, n_queries):
        # Radius activation of a batch: the scan and the counter update or
        # gather run in one kernel (fastsdm._kernels.counters), without
        # activation masks or CSR lists.
        return self.radius is not None and n_queries >= TILED_MIN_QUERIES

    def _fused_step(self, bytes_per_counter):
        # Queries per fused call whose temporaries (bytes_per_counter for each
        # data bit of each query) fit in FUSED_BUDGET.
        return max(TILED_MIN_QUERIES, FUSED_BUDGET // (bytes_per_counter * self.n_data_bits))

    def _scan_setup(self, words, parallel):
        # Padded queries, tile size and serial/parallel choice of a fused call.
        W = self.addresses.shape[1]
        par = use_parallel(words.shape[0] * self.n_locations * W, parallel)
        return pad_queries(words), tile_size(W), par

    def _delta_dtype(self, weight):
        # Same dtype as the counters when the weight fits: the update then
        # compiles to saturating vector adds.  A larger weight is kept exact.
        info = np.iinfo(self.counter_dtype)
        return np.dtype(self.counter_dtype if -info.max <= weight <= info.max else np.int64)

    def _deltas(self, data_words, weight):
        bits = unpack_bits(data_words, self.n_data_bits)
        dtype = self._delta_dtype(weight)
        # 0/1 -> -weight/+weight in place when the deltas are bytes too.
        signed = bits.view(np.int8) if dtype == np.int8 else bits.astype(dtype)
        signed *= 2
        signed -= 1
        signed *= weight
        return signed

    def _apply(self, indptr, indices, deltas, parallel):
        par = use_parallel(indices.size * self.n_data_bits, parallel)
        parts = 4 * numba.get_num_threads() if par else 1
        bounds = np.linspace(0, self.n_locations, parts + 1).astype(np.int64)
        run_tasks(_c.write_lists, parts, (indptr, indices, deltas, self.counters, bounds), par)

    # -- read -----------------------------------------------------------------

    def _tie_words(self, words):
        return tie_words(self, words)

    def _sum_dtype(self, indptr):
        return self._sum_dtype_bound(int(np.diff(indptr).max(initial=0)))

    def _sum_dtype_bound(self, rows):
        # int32 when a sum of ``rows`` counters cannot overflow it.
        info = np.iinfo(self.counter_dtype)
        return np.int32 if rows * max(-int(info.min), int(info.max)) < 2**31 else np.int64

    def _read_words(self, words, parallel, want_sums=False):
        out = np.empty((words.shape[0], n_words(self.n_data_bits)), dtype=np.uint64)
        tie_words = self._tie_words(words)
        if self._fused(words.shape[0]):
            read_chunk = self._read_chunk_fused
            # The per-thread partial sums of a chunk (and, for int8 counters,
            # the kernel's per-thread int16 sums) fit in FUSED_BUDGET.
            itemsize = np.dtype(self._sum_dtype_bound(self.n_locations)).itemsize
            itemsize += 2 if self.counter_dtype.itemsize == 1 else 0
            step = self._fused_step(numba.get_num_threads() * itemsize)
        else:
            read_chunk = self._read_chunk_csr
            step = queries_per_chunk(self.n_locations)
        all_sums = []
        for start in range(0, words.shape[0], step):
            chunk = slice(start, start + step)
            sums = read_chunk(words[chunk], tie_words[chunk], out[chunk], parallel)
            if want_sums:
                all_sums.append(sums.astype(np.int64, copy=False))
            del sums  # before the next chunk allocates its own
        return (out, np.concatenate(all_sums)) if want_sums else out

    def _read_chunk_fused(self, words, tie_words, out, parallel):
        Qp, L, par = self._scan_setup(words, parallel)
        # Chunks of tiles for threads to claim (several each even out the
        # load); one block of partial sums per thread.
        n_chunks = 4 * numba.get_num_threads() if par else 1
        partial = np.zeros((parallel_parts(n_chunks, par), words.shape[0], self.n_data_bits),
                           self._sum_dtype_bound(self.n_locations))
        run_tasks(_c.scan_update(False), n_chunks,
                  (Qp, words.shape[0], self.addresses, L, n_chunks, self.radius,
                   self.counters, _NO_DELTAS, partial), par)
        _c._finish_read(partial, tie_words, out)
        return partial[0]

    def _read_chunk_csr(self, words, tie_words, out, parallel):
        indptr, indices = self._activate_words(words, parallel)
        sums = np.empty((indptr.size - 1, self.n_data_bits), dtype=self._sum_dtype(indptr))
        par = use_parallel(indices.size * self.n_data_bits, parallel)
        run_tasks(_c.read_lists, indptr.size - 1,
                  (indptr, indices, self.counters, tie_words, sums, out), par)
        return sums

    @shared
    def read(self, queries, *, iterations: int = 1, return_info: bool = False,
             parallel: bool | None = None):
        """Read the memory at the queries, once or iterating to a fixed point.

        Parameters
        ----------
        queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed ``uint64`` words or 0/1 bits.
        iterations : int
            Maximum number of reads.  With ``iterations > 1`` (autoassociative
            memories only) each result is read again, and each query stops as
            soon as a read returns its input (a fixed point).
        return_info : bool
            Also return a :class:`ReadInfo` with the steps taken and whether
            each query converged.
        parallel : bool, optional
            Force the parallel or serial kernels.

        Returns
        -------
        result : ndarray
            In the representation of ``queries``: packed words in, packed
            words out; 0/1 rows in, 0/1 rows (same dtype) out.
        info : ReadInfo
            Only with ``return_info=True``.

        Examples
        --------
        >>> import fastsdm
        >>> mem = fastsdm.SDM(64, 2000, radius=24, seed=0)
        >>> x = fastsdm.random_addresses(1, 64, seed=1)
        >>> mem.write(x)
        >>> y, info = mem.read(fastsdm.flip_bits(x, 64, 4, seed=2), iterations=5,
        ...                    return_info=True)
        >>> bool((y == x).all()), info.converged
        (True, array([ True]))
        """
        return read_iterated(self, queries, iterations, return_info, parallel)

    @shared
    def read_sums(self, queries, *, parallel: bool | None = None) -> np.ndarray:
        """The counter sums a read thresholds (``int64``).

        Returns an array of shape (q, n_data_bits), or (n_data_bits,) for one
        query: the sum over activated locations of their counters.

        Examples
        --------
        >>> import fastsdm
        >>> mem = fastsdm.SDM(8, 4, radius=8, addresses=fastsdm.random_addresses(4, 8, seed=0))
        >>> mem.write([1, 0, 1, 0, 1, 0, 1, 0])
        >>> mem.read_sums([0, 0, 0, 0, 0, 0, 0, 0])
        array([ 4, -4,  4, -4,  4, -4,  4, -4])
        """
        words, single, _ = as_words(queries, "queries", self.n_bits)
        _, sums = self._read_words(words, parallel, want_sums=True)
        return sums[0] if single else sums

    @exclusive
    def clear(self) -> None:
        """Set every counter to zero."""
        self.counters[...] = 0

    # -- persistence ----------------------------------------------------------

    def _metadata(self) -> dict:
        with self._tie_rng.bit_generator.lock:  # not torn by a concurrent read's draw
            state = self._tie_rng.bit_generator.state
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                **self._params().to_metadata(), "tie_rng_state": state}

    @shared
    def save(self, path, *, overwrite: bool = False) -> Path:
        """Save the memory to a directory, losslessly, crash-safely and without pickle.

        The directory holds ``fastsdm.json`` (parameters, seed, tie-generator
        state, format version, array checksums) and ``addresses.npy`` and
        ``counters.npy``.  The new memory is written and ``fsync``-ed beside
        ``path`` first and then swapped in by renames, so that at every
        instant ``path`` holds the complete old memory or the complete new
        one, even if the process is killed or the machine loses power
        midway: a half-finished swap is completed by the next ``save`` or
        :meth:`load` of that path, which also removes what the interrupted
        save left beside it (see the guide's *Persistence* section).

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
        >>> import tempfile, os, fastsdm
        >>> mem = fastsdm.SDM(64, 100, radius=24, seed=0)
        >>> mem.write(mem.addresses[:3])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     back = fastsdm.SDM.load(mem.save(os.path.join(tmp, "m")))
        ...     bool((back.counters == mem.counters).all())
        True
        """
        where = ({"addresses": self.addresses} if self.design is None
                 else {"masks": self.design.masks, "values": self.design.values})
        arrays = {**where, "counters": self.counters}
        return _persist.save_directory(path, self._metadata(), arrays, overwrite=overwrite,
                                       mapped=getattr(self, "_mapped", None))

    @classmethod
    def load(cls, path, *, mmap: bool | str = False, verify: bool | None = None) -> SDM:
        """Load a memory saved by :meth:`save`.

        Parameters
        ----------
        path : str or Path
        mmap : bool or {"r+", "r", "c"}
            Memory-map the counters instead of reading them: ``True`` or
            ``"r+"`` writes go to the file, ``"c"`` copy-on-write, ``"r"``
            read-only (writes then fail).  For memories larger than RAM.
        verify : bool, optional
            Check the arrays' CRC-32 checksums (reads every byte).  Default:
            True unless memory-mapped.  A memory opened with ``mmap="r+"``
            changes its file in place: its recorded checksum stays that of
            the last save or :meth:`flush`, and ``fastsdm.json`` records that
            it is open for writing, so that a load after writes without a
            ``flush()`` explains the mismatch (and how to proceed) instead of
            calling the data corrupt.

        Returns
        -------
        SDM

        Raises
        ------
        ValueError
            If the directory is not a saved fastsdm memory, or is truncated,
            corrupt or of an unknown format version: every field of
            ``fastsdm.json`` is type- and range-checked and cross-checked
            against the arrays, every ``.npy`` header is checked before its
            data is read, and the error names the file and the problem.
            Files are never unpickled.

        Notes
        -----
        A save of this path that was interrupted (a killed process, a power
        loss) is completed first: the path then holds the complete old or
        the complete new memory, and the temporary directories beside it are
        removed.  Memories saved by earlier fastsdm versions (format version
        1) load unchanged.

        Examples
        --------
        >>> import tempfile, os, fastsdm
        >>> mem = fastsdm.SDM(64, 100, k_nearest=5, seed=0)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = mem.save(os.path.join(tmp, "m"))
        ...     mapped = fastsdm.SDM.load(path, mmap=True)
        ...     mapped.write(mapped.addresses[:2])
        ...     mapped.flush()  # counters and checksum are on disk
        ...     int(abs(fastsdm.SDM.load(path).counters).sum())
        640
        """
        path = Path(path)
        mode = _persist.mmap_mode(mmap)
        verify = mode is None if verify is None else verify
        with _persist.opened(path, saver="SDM.save()", write=mode == "r+") as directory:
            meta = _persist.read_metadata(directory, FORMAT_NAME, FORMAT_VERSION, _REQUIRED,
                                          _OPTIONAL, "SDM.save()")
            meta_file = path / _persist.META_FILE
            try:
                params = SDMParams.from_metadata(meta)
                tie_state = check_tie_rng_state(meta["tie_rng_state"])
            except MetadataError as exc:
                raise _persist.invalid(meta_file, exc) from None
            marker = _persist.check_marker(directory, meta)
            specs = params.array_specs()
            crcs = _persist.check_array_specs(directory, meta, specs, nullable=("counters",))
            arrays = {name: _persist.load_array(
                directory, name, *specs[name], crc=crcs[name], verify=verify,
                mode=mode if name == "counters" else None, marker=marker, reseal=_RESEAL)
                for name in specs}
            design = None
            if params.selected is not None:
                from ._hyperplane import check_saved_design

                design = check_saved_design(arrays["masks"], arrays["values"], params.n_bits,
                                            params.selected, params.required, path)
            else:
                try:
                    check_words(arrays["addresses"], "addresses", params.n_bits, ndim=(2,))
                except ValueError:
                    raise ValueError(f"{path / 'addresses.npy'} holds addresses with non-zero "
                                     f"pad bits beyond bit {params.n_bits} (the layout requires "
                                     "zeros); the memory is corrupt") from None
            mem = cls.__new__(cls)
            params.assign(mem)
            mem.seed = params.seed
            mem.addresses = arrays.get("addresses")
            mem.design = design
            mem.counters = arrays["counters"]
            mem._tie_rng = np.random.default_rng()
            mem._tie_rng.bit_generator.state = tie_state
            mem._lock = RWLock()
            mem._mapped = (_persist.mark_open_for_writing(directory, meta) if mode == "r+"
                           else None)
        return mem

    @exclusive
    def flush(self) -> None:
        """Write a memory-mapped memory's counters and metadata to its files.

        Only for memories loaded with ``mmap=True``/``"r+"``: flushes the
        counters, then records their checksum and the tie-generator state, so
        the directory is again a complete, verifiable saved memory.

        Raises
        ------
        ValueError
            If the memory was not loaded with ``mmap=True``, or its directory
            was replaced (by a ``save`` to that path) since it was loaded.
        """
        mapped = getattr(self, "_mapped", None)
        if mapped is None:
            raise ValueError("flush() is for memories loaded with mmap=True; use save(path) "
                             "for others")
        with _persist.reopened(mapped, saver="SDM.save()") as directory:
            meta = _persist.read_metadata(directory, FORMAT_NAME, FORMAT_VERSION, _REQUIRED,
                                          _OPTIONAL, "SDM.save()")
            _persist.check_array_specs(directory, meta, self._params().array_specs(),
                                       nullable=("counters",))
            meta["tie_rng_state"] = self._tie_rng.bit_generator.state
            _persist.seal(directory, meta, "counters", self.counters)


def write_inputs(memory, addresses, data, weight):
    """Validated ``(address words, data words or None, weight)`` of a write.

    Shared by :class:`SDM` and the sharded memory: ``memory`` needs
    ``n_bits`` and ``n_data_bits``.  ``None`` data means autoassociative.
    """
    words, _, _ = as_words(addresses, "addresses", memory.n_bits)
    data_words = None
    if data is None:
        if memory.n_data_bits != memory.n_bits:
            raise ValueError(f"data is required: this memory stores {memory.n_data_bits}-bit "
                             f"data at {memory.n_bits}-bit addresses (heteroassociative)")
    else:
        data_words, _, _ = as_words(data, "data", memory.n_data_bits)
        if data_words.shape[0] != words.shape[0]:
            raise ValueError(f"addresses and data must have the same number of rows, got "
                             f"{words.shape[0]} and {data_words.shape[0]}")
    info = np.iinfo(np.int32)
    return words, data_words, check_int(weight, "weight", info.min + 1, info.max)


def tie_words(memory, words):
    """The bits a read returns where a counter sum is 0, one per data bit.

    Shared by :class:`SDM` and the sharded memory (same draws from the same
    stream): ``memory`` needs ``ties``, ``n_data_bits`` and ``_tie_rng``.  The
    data may be wider than the address, so the width follows the data.
    """
    W = n_words(memory.n_data_bits)
    if memory.ties == "zero":
        return np.zeros((words.shape[0], W), dtype=np.uint64)
    if memory.ties == "one":
        return np.full((words.shape[0], W), np.iinfo(np.uint64).max, dtype=np.uint64)
    if memory.ties == "keep":
        return words
    return memory._tie_rng.integers(0, np.iinfo(np.uint64).max, size=(words.shape[0], W),
                                    dtype=np.uint64, endpoint=True)


def read_iterated(memory, queries, iterations, return_info, parallel):
    """``memory.read``: validate, read up to ``iterations`` times, convert back.

    Shared by :class:`SDM` and the sharded memory: ``memory`` needs ``n_bits``,
    ``n_data_bits`` and ``_read_words(words, parallel) -> words``.  Each query
    stops as soon as a read returns its input (a fixed point).
    """
    bits = as_bits(queries, "queries", memory.n_bits)
    words = bits.words
    iterations = check_int(iterations, "iterations", 1)
    autoassociative = memory.n_data_bits == memory.n_bits
    if iterations > 1 and not autoassociative:
        raise ValueError("iterated reads feed the result back as an address and need an "
                         f"autoassociative memory (n_data_bits == n_bits), got "
                         f"{memory.n_data_bits} != {memory.n_bits}; use iterations=1")
    steps = np.zeros(words.shape[0], dtype=np.int64)
    converged = np.zeros(words.shape[0], dtype=bool)
    if iterations == 1:
        current = memory._read_words(words, parallel)
        steps[:] = 1
        if autoassociative:
            converged[:] = (current == words).all(axis=1)
    else:
        current = words.copy()
        active = np.arange(words.shape[0])
        for _ in range(iterations):
            nxt = memory._read_words(current[active], parallel)
            steps[active] += 1
            fixed = (nxt == current[active]).all(axis=1)
            current[active] = nxt
            converged[active[fixed]] = True
            active = active[~fixed]
            if active.size == 0:
                break
    result = bits.restore(current, memory.n_data_bits)
    return (result, ReadInfo(steps, converged)) if return_info else result

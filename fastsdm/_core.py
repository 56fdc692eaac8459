"""The memories' private core: what SDM, ShardedSDM, ContinuousSDM and the other reads share.

Four things live here, each used by more than one public class:

:class:`ReadInfo`
    what an iterated read did, per query (every memory and read returns it);
:func:`iterate` and :func:`read_bits`
    THE iterated-read loop: a plain callable ``step(rows) -> rows`` read up to
    ``iterations`` times, each query stopping at its fixed point.  Used by
    :class:`fastsdm.SDM`, :class:`~fastsdm.distributed.ShardedSDM`,
    :class:`~fastsdm.ContinuousSDM` (with a convergence test for real
    vectors), the synchronous and modern Hopfield networks and the pattern
    reads of :mod:`fastsdm.attention`;
tie words and :func:`threshold`
    the bits a read returns where a sum is zero (or within a tolerance of
    zero), for the binary memories, the Hopfield networks and the pattern
    reads;
:class:`Locations`
    the block operations of a binary memory -- activate (radius or
    k-nearest, CSR), deltas from data words and a weight, apply deltas to the
    counters (CSR), the fused scan-and-update write, counter sums (fused and
    CSR) in their overflow-safe dtype, and the read that thresholds them with
    tie words -- as one internal interface: :class:`fastsdm.SDM` calls it on
    its arrays, and every shard of a :class:`~fastsdm.distributed.ShardedSDM`
    on its block of locations.

The public classes validate (:mod:`fastsdm._validation`,
:mod:`fastsdm._params`), take their lock (:mod:`fastsdm._locking`) and call
in here; nothing here validates user input except :func:`read_bits` and
:func:`write_inputs`, the two checks the binary memories share.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ._hyperplane import sdm_activate
from ._jit import even_cuts, parallel_parts, run_tasks, use_parallel
from ._kernels import counters as _c
from ._machine import format_bytes
from ._validation import (
    as_bits,
    as_words,
    check_flag,
    check_int,
    check_iterations,
    check_pairs,
    check_state_array,
    n_words,
    require_values,
)
from .bits import pack_bits, unpack_bits
from .search import (
    TILED_MIN_QUERIES,
    knn_arrays,
    pad_queries,
    queries_per_chunk,
    radius_csr,
    tile_size,
)

__all__ = [
    "FUSED_BUDGET",
    "ReadInfo",
    "iterate",
    "read_bits",
    "same_rows",
    "moved_at_most",
    "tie_words",
    "threshold",
    "write_inputs",
    "check_fits",
    "Locations",
]

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


class ReadInfo(NamedTuple):
    """What an iterated read did, per query.

    Attributes
    ----------
    steps : ndarray of int64
        Reads performed before the query stopped.
    converged : ndarray of bool
        Whether the query reached a fixed point (``read(x) == x``) within the
        allowed iterations.

    Examples
    --------
    >>> import fastsdm
    >>> mem = fastsdm.SDM(64, 2000, radius=24, seed=0)
    >>> x = fastsdm.random_addresses(2, 64, seed=1)
    >>> mem.write(x)
    >>> _, info = mem.read(x, iterations=5, return_info=True)
    >>> info
    ReadInfo(steps=array([1, 1]), converged=array([ True,  True]))
    """

    steps: np.ndarray
    converged: np.ndarray


# Its public home (fastsdm.ReadInfo, fastsdm.memory.ReadInfo): pickles keep the path they had.
ReadInfo.__module__ = "fastsdm.memory"


# -- the iterated read ------------------------------------------------------------------


def same_rows(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """The fixed-point test of bit vectors: rows equal word for word."""
    return (new == old).all(axis=1)


def moved_at_most(limit: float):
    """The fixed-point test of real vectors: no coordinate moved by more than ``limit``."""
    def fixed(new: np.ndarray, old: np.ndarray) -> np.ndarray:
        return np.abs(new - old).max(axis=1) <= limit
    return fixed


def iterate(step, x: np.ndarray, iterations: int, *, fixed=same_rows, stops=None,
            together: bool = False, kept: np.ndarray | None = None):
    """Read the rows of ``x`` up to ``iterations`` times, feeding each read back.

    THE iterated-read loop of fastsdm: every memory and read that iterates to
    a fixed point runs it, with its own ``step``.

    Parameters
    ----------
    step : callable
        ``step(rows) -> next_rows``: one read of some rows of the current
        state (the first call gets ``x`` itself when ``iterations == 1`` or
        ``together``, a copy of its rows otherwise).  With ``kept`` it returns
        ``(next_rows, kept_rows)``.
    x : ndarray, shape (q, ...)
        The queries.
    iterations : int
        The most reads per row (>= 1, checked by the caller).
    fixed : callable or None
        ``fixed(new, old) -> bool per row``: the row reached a fixed point and
        stops (converged).  ``None``: the read is not fed back (a
        heteroassociative memory; ``iterations`` must then be 1) and no row
        converges.
    stops : callable, optional
        ``stops(new) -> bool per row``: rows that stop without converging
        (ContinuousSDM: a read of zero has no direction to read again).
    together : bool
        Stop the batch as a whole, when every row is fixed, rather than each
        row at its own fixed point (:func:`fastsdm.attention.continuous_pattern_read`
        keeps this older rule).
    kept : ndarray, optional
        Where to keep, per row, the second item ``step`` returns at the row's
        last read; it is returned instead of the state (ContinuousSDM returns
        the sums or unit vectors of its last read, and feeds back float32
        queries).

    Returns
    -------
    result : ndarray
        The state after each row's last read (or ``kept``).
    info : ReadInfo
    """
    n = x.shape[0]
    steps = np.zeros(n, dtype=np.int64)
    converged = np.zeros(n, dtype=bool)
    if iterations == 1 or fixed is None:
        nxt = step(x)
        if kept is not None:
            nxt, kept[:] = nxt
        steps[:] = 1
        if fixed is not None:
            converged[:] = fixed(nxt, x) if stops is None else fixed(nxt, x) & ~stops(nxt)
        return (nxt if kept is None else kept), ReadInfo(steps, converged)
    if together:
        current = x
        for _ in range(iterations):
            nxt = step(current)
            steps += 1
            converged = fixed(nxt, current)
            current = nxt
            if converged.all():
                break
        return current, ReadInfo(steps, converged)
    current = x.copy()
    active = np.arange(n)
    for _ in range(iterations):
        old = current[active]
        nxt = step(old)
        if kept is not None:
            nxt, kept[active] = nxt
        steps[active] += 1
        same = fixed(nxt, old)
        done = same
        if stops is not None:
            stopped = stops(nxt)
            same = same & ~stopped
            done = same | stopped
        current[active] = nxt
        converged[active[same]] = True
        active = active[~done]
        if active.size == 0:
            break
    return (current if kept is None else kept), ReadInfo(steps, converged)


def read_bits(step, queries, *, n_bits: int, n_data_bits: int, iterations, return_info: bool):
    """A binary memory's ``read``: validate, iterate ``step`` on words, answer in kind.

    ``step(words) -> words`` reads packed ``n_bits``-bit queries (2-D) and
    returns ``n_data_bits``-bit words.  ``iterations > 1`` feeds each result
    back as a query and needs ``n_data_bits == n_bits``; each query stops as
    soon as a read returns its input.  Shared by :class:`fastsdm.SDM`,
    :class:`~fastsdm.distributed.ShardedSDM` and the binary Hopfield networks.
    """
    return_info = check_flag(return_info, "return_info")
    bits = as_bits(queries, "queries", n_bits)
    iterations = check_iterations(iterations, n_bits, n_data_bits, "n_value_bits == n_bits")
    if iterations == 1 and not return_info:  # nothing to iterate, nothing to report
        return bits.restore(step(bits.words), n_data_bits)
    words, info = iterate(step, bits.words, iterations,
                          fixed=same_rows if n_data_bits == n_bits else None)
    result = bits.restore(words, n_data_bits)
    return (result, info) if return_info else result


# -- ties and thresholds ----------------------------------------------------------------


def tie_words(policy: str, n_data_bits: int, rng, words: np.ndarray) -> np.ndarray:
    """The bits a read returns where a sum is 0, one word row per query.

    ``policy`` is ``"zero"``, ``"one"``, ``"keep"`` (the query's own bits:
    ``words``) or ``"random"`` (drawn from ``rng``, one draw per call: the
    binary memories keep their tie streams in step by calling this once per
    read of a batch).  The data may be wider than the address, so the width
    follows the data.
    """
    W = n_words(n_data_bits)
    if policy == "zero":
        return np.zeros((words.shape[0], W), dtype=np.uint64)
    if policy == "one":
        return np.full((words.shape[0], W), np.iinfo(np.uint64).max, dtype=np.uint64)
    if policy == "keep":
        return words
    return rng.integers(0, np.iinfo(np.uint64).max, size=(words.shape[0], W),
                        dtype=np.uint64, endpoint=True)


def threshold(sums: np.ndarray, ties: np.ndarray | None, tol=0) -> np.ndarray:
    """Packed bits of ``sums > tol``, and ``ties``' bits where ``|sums| <= tol``.

    ``sums`` is (q, n); ``ties`` (q, >= ceil(n / 64)) words, or ``None`` for
    zeros; ``tol`` a number or a (q, 1) column.  The NumPy twin of the read
    kernels' threshold (``fastsdm._kernels.counters``), for reads whose sums
    are not made by a kernel: the sharded memory's added partial sums, the
    Hopfield networks' fields, the pattern reads' weighted votes.
    """
    out = pack_bits(sums > tol)
    if ties is not None:
        tied = np.abs(sums) <= tol
        if tied.any():
            out |= pack_bits(tied) & ties[:, : out.shape[1]]
    return out


# -- checks the binary memories share ---------------------------------------------------


def write_inputs(n_bits: int, n_data_bits: int, keys, values, weight):
    """Validated ``(key words, value words or None, weight)`` of a binary write.

    Shared by :class:`fastsdm.SDM` and the sharded memory.  ``None`` values
    mean autoassociative.
    """
    words, _, _ = as_words(keys, "keys", n_bits)
    data_words = None
    if values is None:
        require_values(n_bits, n_data_bits, "-bit")
    else:
        data_words, _, _ = as_words(values, "values", n_data_bits)
        check_pairs(words.shape[0], data_words.shape[0])
    info = np.iinfo(np.int32)
    return words, data_words, check_int(weight, "weight", info.min + 1, info.max)


def check_fits(what: str, need: int, available: int | None, stored: str, stored_bytes: int,
               dtype, n_locations: int, *, smaller: str | None = None,
               smaller_need: int | None = None) -> None:
    """Refuse a memory of ``need`` bytes when less is ``available`` (None: unknown).

    ``stored`` names the per-location storage (``"counters"``,
    ``"accumulators"``) and ``stored_bytes`` its share; the rest is addresses.
    ``smaller`` is the argument that shrinks the storage (e.g.
    ``"counter_dtype='int8'"``) and ``smaller_need`` the bytes with it: the
    message suggests it only when the memory would then fit, and otherwise
    says how many locations fit.
    """
    if available is None or need <= available:
        return
    if smaller is not None and smaller_need is not None and smaller_need <= available:
        hint = f"use {smaller} (it fits)"
    else:
        least = need if smaller_need is None else min(need, smaller_need)
        fit = int(available // max(1, -(-least // max(1, n_locations))))
        hint = (f"use fewer locations: about {fit:,} fit" + (
            f" with {smaller}" if smaller is not None and smaller_need is not None else "")
            if fit else f"not even one location fits: use shorter vectors (fewer {stored} per "
                        "location)")
    raise MemoryError(
        f"this {what} needs {need} bytes ({format_bytes(need)}: {stored} "
        f"{format_bytes(stored_bytes)} at {dtype}, addresses "
        f"{format_bytes(need - stored_bytes)}) but only {format_bytes(available)} is "
        f"available; {hint}, or save and load it with mmap=True")


# -- the block operations of a binary memory ----------------------------------------------


class Locations:
    """The hard locations of a binary memory and the block operations on them.

    A view: it holds the memory's own ``addresses`` (N, W) ``uint64`` and
    ``counters`` (N, n_data) arrays (no copy) and its activation rule,
    ``radius``, ``k_nearest`` or a hyperplane design (checked: ``Design.checked``).  Inputs are
    validated, C-contiguous packed words; nothing here checks them.

    Operations
    ----------
    :meth:`activate`
        CSR of the locations each query activates (radius or k nearest).
    :meth:`deltas`, :meth:`apply`
        ``±weight`` rows from data words; added to the activated rows
        (saturating, in batch order).
    :meth:`write`
        A whole validated batch: fused scan-and-update for radius activation
        of many queries, activation lists and :meth:`apply` otherwise.
    :meth:`read_words`
        Counter sums thresholded with tie words (fused or CSR), optionally
        returning the sums (``int64``).
    :meth:`read_csr`, :meth:`sum_dtype`, :meth:`sum_bound`
        Counter sums of given activation lists in their overflow-safe dtype,
        and a bound on their magnitude (a shard's partial sums).
    """

    # Plain attributes, set once: a batch-1 call reads them a dozen times.
    __slots__ = ("addresses", "counters", "radius", "k_nearest", "n_locations", "n_data_bits",
                 "counter_dtype", "design", "n_bits", "selected")

    def __init__(self, addresses: np.ndarray | None, counters: np.ndarray, radius: int | None,
                 k_nearest: int | None, design=None, n_bits: int = 0, selected: int | None = None):
        self.addresses = addresses
        self.counters = counters
        self.radius = radius
        self.k_nearest = k_nearest
        # Jaeckel's rule: a fastsdm._hyperplane.Design of ``selected``
        # coordinates per location, in place of addresses.
        self.design = design
        self.n_bits = n_bits
        self.selected = selected
        self.n_locations = counters.shape[0]
        self.n_data_bits = counters.shape[1]
        self.counter_dtype = counters.dtype

    @classmethod
    def of(cls, memory) -> Locations:
        """The locations of a binary memory (its ``counters``, ``radius``,
        ``k_nearest``, its own address array ``_addresses`` (``addresses`` may be a
        read-only view of it) and, for Jaeckel's rule, ``design`` and ``selected``)."""
        design = getattr(memory, "design", None)
        what = type(memory).__name__
        check_state_array(memory.counters, f"{what}.counters",
                          (memory.n_locations, memory.n_data_bits), memory.counter_dtype)
        if design is None:
            check_state_array(memory._addresses, f"{what}.addresses",
                              (memory.n_locations, n_words(memory.n_bits)), np.uint64)
            return cls(memory._addresses, memory.counters, memory.radius, memory.k_nearest,
                       n_bits=memory.n_bits)
        # One checked snapshot of the design's arrays and keys: another thread
        # may replace an array meanwhile (the activation keys are built once).
        checked = design.checked(memory.n_bits, memory.selected, memory.n_locations,
                                 required=getattr(memory, "required", None))
        return cls(None, memory.counters, None, None, checked, memory.n_bits, memory.selected)

    # -- activation -----------------------------------------------------------

    def activate(self, words: np.ndarray, parallel=None):
        """``(indptr, indices)``: the locations each query activates, ascending.

        The activation rule's one hook: a new rule adds its branch here (and
        to :meth:`fused` if it has no fused kernel).
        """
        if self.design is not None:
            return sdm_activate(self.design, words, parallel)
        if self.k_nearest is None:
            return radius_csr(words, self.addresses, self.radius, parallel)
        indices, _ = self.nearest(words, self.k_nearest, parallel)
        indices.sort(axis=1)
        indptr = np.arange(0, indices.size + 1, self.k_nearest, dtype=np.int64)
        return indptr, indices.ravel()

    def nearest(self, words: np.ndarray, k: int, parallel=None):
        """``(indices, distances)``, (q, k) each: the ``k`` nearest locations, nearest first
        (ties to the lower index)."""
        return knn_arrays(words, self.addresses, k, parallel)

    # -- write ----------------------------------------------------------------

    def write(self, words, data_words, weight, parallel):
        """Add ``±weight`` for the data bits to the locations each key activates.

        ``data_words`` None is autoassociative.  A batch equals the same
        writes one at a time, in order, saturation included.
        """
        data_words = words if data_words is None else data_words
        # Chunks bound the temporaries (deltas; activation masks and CSR when
        # not fused); they are applied in order, so the batch still equals
        # sequential writes.
        if self.fused(words.shape[0]):
            itemsize = self._delta_dtype(weight).itemsize
            write_chunk, step = self._write_chunk_fused, self.fused_step(itemsize)
        else:
            write_chunk, step = self._write_chunk_csr, queries_per_chunk(self.n_locations)
        for start in range(0, words.shape[0], step):
            chunk = slice(start, start + step)
            write_chunk(words[chunk], self.deltas(data_words[chunk], weight), parallel)

    def _write_chunk_fused(self, words, deltas, parallel):
        if deltas.dtype != self.counters.dtype:
            # A weight beyond the counters' range (int64 deltas) is rare: the
            # activation-list path serves it, and no second fused kernel per
            # counter dtype is compiled for it.
            return self._write_chunk_csr(words, deltas, parallel)
        Qp, L, par = self.scan_setup(words, parallel)
        # Threads claim chunks of locations; several per thread even out the load.
        n_chunks = 4 * numba.get_num_threads() if par else 1
        run_tasks(_c.scan_update(True), n_chunks,
                  (Qp, words.shape[0], self.addresses, L, n_chunks, self.radius, self.counters,
                   deltas, _NO_PARTIAL), par)

    def _write_chunk_csr(self, words, deltas, parallel):
        indptr, indices = self.activate(words, parallel)
        self.apply(indptr, indices, deltas, parallel)

    def fused(self, n_queries) -> bool:
        """Whether a batch runs fused: radius activation of a batch, the scan and the
        counter update or gather in one kernel, without activation masks or CSR lists."""
        return self.radius is not None and n_queries >= TILED_MIN_QUERIES

    def fused_step(self, bytes_per_counter) -> int:
        """Queries per fused call whose temporaries (``bytes_per_counter`` for each
        data bit of each query) fit in :data:`FUSED_BUDGET`."""
        return max(TILED_MIN_QUERIES, FUSED_BUDGET // (bytes_per_counter * self.n_data_bits))

    def scan_setup(self, words, parallel):
        """Padded queries, tile size and serial/parallel choice of a fused call."""
        W = self.addresses.shape[1]
        par = use_parallel(words.shape[0] * self.n_locations * W, parallel)
        return pad_queries(words), tile_size(W), par

    def _delta_dtype(self, weight):
        # Same dtype as the counters when the weight fits: the update then
        # compiles to saturating vector adds.  A larger weight is kept exact.
        info = np.iinfo(self.counter_dtype)
        return np.dtype(self.counter_dtype if -info.max <= weight <= info.max else np.int64)

    def deltas(self, data_words, weight):
        """``+weight`` where a data bit is 1, ``-weight`` where it is 0, one row per key.

        The write weights' one hook: every write path (fused, CSR, a shard's
        share of a k-nearest write) adds these rows.
        """
        bits = unpack_bits(data_words, self.n_data_bits)
        dtype = self._delta_dtype(weight)
        # 0/1 -> -weight/+weight in place when the deltas are bytes too.
        signed = bits.view(np.int8) if dtype == np.int8 else bits.astype(dtype)
        signed *= 2
        signed -= 1
        signed *= weight
        return signed

    def apply(self, indptr, indices, deltas, parallel):
        """Add ``deltas[q]`` to the rows query ``q`` activates (saturating, in order)."""
        par = use_parallel(indices.size * self.n_data_bits, parallel)
        parts = 4 * numba.get_num_threads() if par else 1
        bounds = even_cuts(self.n_locations, parts)
        run_tasks(_c.write_lists, parts, (indptr, indices, deltas, self.counters, bounds), par)

    # -- read -----------------------------------------------------------------

    def sum_dtype(self, indptr):
        """int32 when no query's sum over its activated rows can overflow it, else int64."""
        return self._sum_dtype_bound(int(np.diff(indptr).max(initial=0)))

    def _sum_dtype_bound(self, rows):
        # int32 when a sum of ``rows`` counters cannot overflow it.
        info = np.iinfo(self.counter_dtype)
        return np.int32 if rows * max(-int(info.min), int(info.max)) < 2**31 else np.int64

    def sum_bound(self, indptr) -> int:
        """A bound on the magnitude of any query's counter sum (most rows x largest counter)."""
        info = np.iinfo(self.counter_dtype)
        return int(np.diff(indptr).max(initial=0)) * max(-int(info.min), int(info.max))

    def read_words(self, words, tie_words, parallel, want_sums=False):
        """Packed reads of ``words``: counter sums thresholded at 0, ``tie_words`` where 0.

        With ``want_sums`` also the sums, as ``int64``.
        """
        out = np.empty((words.shape[0], n_words(self.n_data_bits)), dtype=np.uint64)
        if self.fused(words.shape[0]):
            read_chunk = self._read_chunk_fused
            # The per-thread partial sums of a chunk (and, for int8 counters,
            # the kernel's per-thread int16 sums) fit in FUSED_BUDGET.
            itemsize = np.dtype(self._sum_dtype_bound(self.n_locations)).itemsize
            itemsize += 2 if self.counter_dtype.itemsize == 1 else 0
            step = self.fused_step(numba.get_num_threads() * itemsize)
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
        Qp, L, par = self.scan_setup(words, parallel)
        # Chunks of tiles for threads to claim (several each even out the
        # load); one block of partial sums per thread.
        n_chunks = 4 * numba.get_num_threads() if par else 1
        partial = np.zeros((parallel_parts(n_chunks, par), words.shape[0], self.n_data_bits),
                           self._sum_dtype_bound(self.n_locations))
        run_tasks(_c.scan_update(False), n_chunks,
                  (Qp, words.shape[0], self.addresses, L, n_chunks, self.radius,
                   self.counters, _NO_DELTAS, partial), par)
        _c.finish_read(partial, tie_words, out)
        return partial[0]

    def _read_chunk_csr(self, words, tie_words, out, parallel):
        indptr, indices = self.activate(words, parallel)
        return self.read_csr(indptr, indices, tie_words, out, parallel)

    def read_csr(self, indptr, indices, tie_words, out, parallel):
        """Counter sums of the rows each query activates (in :meth:`sum_dtype`),
        thresholded into ``out`` with ``tie_words``."""
        sums = np.empty((indptr.size - 1, self.n_data_bits), dtype=self.sum_dtype(indptr))
        par = use_parallel(indices.size * self.n_data_bits, parallel)
        run_tasks(_c.read_lists, indptr.size - 1,
                  (indptr, indices, self.counters, tie_words, sums, out), par)
        return sums

    def sums_csr(self, indptr, indices, parallel):
        """``(sums, bound)``: the counter sums of given activation lists, unthresholded,
        in :meth:`sum_dtype`, and :meth:`sum_bound` (a shard's partial sums)."""
        out = np.empty((indptr.size - 1, n_words(self.n_data_bits)), dtype=np.uint64)
        sums = self.read_csr(indptr, indices, np.zeros_like(out), out, parallel)
        return sums, self.sum_bound(indptr)

    def partial_sums(self, words, parallel):
        """``(sums, bound)`` of the locations ``words`` activate (:meth:`sums_csr`), by
        query chunks of bounded activation lists; int32 unless a chunk needed int64."""
        step = queries_per_chunk(self.n_locations)
        total, bound = None, 0
        for start in range(0, words.shape[0], step):
            chunk = slice(start, start + step)
            indptr, indices = self.activate(words[chunk], parallel)
            sums, chunk_bound = self.sums_csr(indptr, indices, parallel)
            if total is None:
                if sums.shape[0] == words.shape[0]:
                    return sums, chunk_bound
                total = np.empty((words.shape[0], self.n_data_bits), dtype=sums.dtype)
            if sums.dtype != total.dtype:
                total = total.astype(np.int64)
            total[chunk] = sums
            bound = max(bound, chunk_bound)
        return total, bound

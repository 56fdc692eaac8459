"""Weighted SDM operations (issue 16 §2): distance-weighted writes, z reads, kappa.

:class:`fastsdm.SDM` hands a write here when it has ``distance_weights`` or
the memory clips its counters at ``kappa``, and a read when it has a ``z``
other than 1.  The default write and read never import this module, so their
kernels and compile cost are unchanged; the kernels here
(:mod:`fastsdm._kernels.weighted`) compile on first use.

The functions take the memory's :class:`fastsdm._core.Locations` and validated
packed words; they reuse its activation (``activate``), its fused/CSR choice
(``fused``) and its scan setup (``scan_setup``, ``fused_step``).
"""

from __future__ import annotations

import functools
import math
from decimal import Decimal

import numba
import numpy as np

from . import _jit
from ._jit import run_tasks, use_parallel
from ._kernels import weighted as _k
from ._validation import check_real, integer_table, n_words
from .bits import unpack_bits
from .search import queries_per_chunk

#: The largest ``|weight * distance_weights[h]|``: the range of ``weight``.
MAX_SCALE = int(np.iinfo(np.int32).max)


# -- checks -------------------------------------------------------------------------


def check_distance_weights(distance_weights, memory, weight: int) -> np.ndarray:
    """``weight * distance_weights`` as int64 of length ``n_bits + 1``, or raise.

    ``distance_weights`` is 1-D, of integers (an integer dtype, or whole finite floats),
    of length ``radius + 1`` or ``n_bits + 1`` (only ``n_bits + 1`` for a
    k-nearest memory, whose locations may lie at any distance); every product
    with ``weight`` lies in ``[-(2**31 - 1), 2**31 - 1]``, the range of
    ``weight`` itself.  Entries past ``radius`` are never used.
    """
    n = memory.n_bits
    lengths = [n + 1] if memory.k_nearest is not None else [memory.radius + 1, n + 1]
    why = ("k-nearest locations may lie at any distance, so the table covers 0..n_bits"
           if memory.k_nearest is not None else
           "entry h weighs locations at Hamming distance h, 0..radius (or 0..n_bits)")
    table = integer_table(distance_weights, "distance_weights", lengths, why,
                          fix="pass weight= for one weight for every distance")
    # Exact products of Python ints (the table is at most n + 1 long).
    products = [weight * v for v in table]
    if any(abs(p) > MAX_SCALE for p in products):
        top = max(abs(v) for v in table)
        if top >= 10**20:  # an exact integer of hundreds of digits helps nobody
            top = f"{Decimal(top):.2e}"
        raise ValueError(f"weight * distance_weights[h] must lie in [-{MAX_SCALE}, {MAX_SCALE}] "
                         f"(the range of weight), got weight={weight} and a largest "
                         f"|distance_weights[h]| of {top}; scale the table down (a counter "
                         "saturates beyond its dtype's range anyway)")
    out = np.zeros(n + 1, dtype=np.int64)
    out[: len(products)] = products
    return out


def check_z(z, memory=None) -> float | None:
    """The exponent of a z read: ``None`` for the plain read (z = 1), else a positive float.

    With ``memory``, also refuse a ``z`` whose sums could overflow float64:
    ``N * max|c| ** z`` must stay below ``2**1023`` (``max|c|`` is 128 for
    int8 counters, 32768 for int16, 2**31 for int32), since an infinite term
    would read as an arbitrary bit.
    """
    if z is None:
        return None
    z = check_real(z, "z", 0, None, low_open=True,
                   hint="the read sums sign(c) * |c| ** z over the activated counters; "
                   "z=1 (or None) is the plain read")
    if z == 1:
        return None
    if memory is not None:
        bits = 8 * memory.counter_dtype.itemsize - 1  # log2 max|c|
        room = 1023 - math.log2(max(memory.n_locations, 2))
        if z * bits >= room:
            raise ValueError(f"z must be below {room / bits:.4g} for this memory "
                             f"({memory.counter_dtype} counters, {memory.n_locations} locations): "
                             f"with z={z:g}, sums of |c| ** z could overflow float64; use a "
                             "smaller z")
    return float(z)


# -- write ----------------------------------------------------------------------------


def write(memory, kappa, words, data_words, weight, distance_weights, parallel):
    """A weighted write (``distance_weights`` and/or the memory's ``kappa``), in batch order.

    ``memory`` is the memory's :class:`~fastsdm._core.Locations`; ``data_words``
    None is autoassociative.
    """
    if memory.addresses is None:  # Jaeckel's rule: no distances (kappa is refused earlier)
        raise ValueError("distance_weights needs Hamming distances between the write address "
                         "and the locations; a hyperplane memory has no location addresses. "
                         "Use weight= instead")
    data_words = words if data_words is None else data_words
    n = memory.n_bits
    if distance_weights is None:
        scale = np.full(n + 1, weight, dtype=np.int64)
    else:
        scale = check_distance_weights(distance_weights, memory, weight)
    if kappa is None:
        info = np.iinfo(memory.counter_dtype)
        lo, hi = int(info.min), int(info.max)
    else:
        lo, hi = -kappa, kappa
    if memory.fused(words.shape[0]):
        chunk_fn, step = _write_chunk_fused, memory.fused_step(1)
    else:
        chunk_fn, step = _write_chunk_csr, queries_per_chunk(memory.n_locations)
    for start in range(0, words.shape[0], step):
        chunk = slice(start, start + step)
        signs = unpack_bits(data_words[chunk], memory.n_data_bits).view(np.int8)
        signs *= 2
        signs -= 1
        chunk_fn(memory, words[chunk], signs, scale, lo, hi, parallel)


def _write_chunk_fused(memory, words, signs, scale, lo, hi, parallel):
    Qp, L, par = memory.scan_setup(words, parallel)
    n_chunks = 4 * numba.get_num_threads() if par else 1
    run_tasks(_k.WEIGHTED_WRITE[_jit.SIMD], n_chunks,
              (Qp, words.shape[0], memory.addresses, L, n_chunks, memory.radius,
               memory.counters, signs, scale, lo, hi), par)


def _write_chunk_csr(memory, words, signs, scale, lo, hi, parallel):
    indptr, indices = memory.activate(words, parallel)
    par = use_parallel(indices.size * memory.n_data_bits, parallel)
    parts = 4 * numba.get_num_threads() if par else 1
    bounds = _jit.even_cuts(memory.n_locations, parts)
    run_tasks(_k.write_lists_weighted, parts,
              (indptr, indices, words, memory.addresses, signs, scale, memory.counters, lo, hi,
               bounds), par)


# -- read -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def power_table(dtype_name: str, z: float) -> np.ndarray:
    """``sign(c) * |c| ** z`` for every int8/int16 counter value ``c``, at ``c - min``.

    Computed with Python's float power (the C library's ``pow``, which the
    int32 kernels call too); read-only, cached for the last few ``(dtype, z)``.
    """
    info = np.iinfo(dtype_name)
    values = [(-math.pow(-c, z) if c < 0 else math.pow(c, z) if c > 0 else 0.0)
              for c in range(int(info.min), int(info.max) + 1)]
    table = np.array(values, dtype=np.float64)
    table.flags.writeable = False
    return table


_NO_TABLE = np.zeros(1, dtype=np.float64)


def read_words(memory, words, ties, parallel, z, want_sums=False):
    """A z read of the memory's :class:`~fastsdm._core.Locations`, thresholded with the
    tie words ``ties``: ``(packed results, float64 sums or None)``."""
    out = np.empty((words.shape[0], n_words(memory.n_data_bits)), dtype=np.uint64)
    table = (power_table(memory.counter_dtype.name, z) if memory.counter_dtype.itemsize <= 2
             else _NO_TABLE)
    sums = np.empty((words.shape[0], memory.n_data_bits), dtype=np.float64)
    if memory.fused(words.shape[0]):
        chunk_fn, step = _read_chunk_fused, memory.fused_step(8)
    else:
        chunk_fn, step = _read_chunk_csr, queries_per_chunk(memory.n_locations)
    for start in range(0, words.shape[0], step):
        chunk = slice(start, start + step)
        chunk_fn(memory, words[chunk], table, z, ties[chunk], sums[chunk], out[chunk], parallel)
    return out, (sums if want_sums else None)


def _read_chunk_fused(memory, words, table, z, ties, sums, out, parallel):
    # Parallel over groups of queries: each sums its rows in location order.
    Qp, L, par = memory.scan_setup(words, parallel)
    parts = numba.get_num_threads() if par else 1
    group = -(-words.shape[0] // (4 * parts)) * 4
    n_groups = -(-words.shape[0] // group)
    run_tasks(_k.Z_READ[_jit.SIMD], n_groups,
              (Qp, words.shape[0], memory.addresses, L, group, memory.radius, memory.counters,
               table, z, ties, sums, out), par)


def _read_chunk_csr(memory, words, table, z, ties, sums, out, parallel):
    indptr, indices = memory.activate(words, parallel)
    par = use_parallel(indices.size * memory.n_data_bits, parallel)
    run_tasks(_k.read_lists_z, indptr.size - 1,
              (indptr, indices, memory.counters, table, z, ties, sums, out), par)

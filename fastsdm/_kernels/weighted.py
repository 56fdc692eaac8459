"""Kernels of the weighted SDM operations (issue 16 §2).

Kept apart from :mod:`fastsdm._kernels.counters` so that the default write and
read kernels, and their compile cost, stay exactly as they are: these kernels
are built (as dispatchers) when :mod:`fastsdm._weights` is first imported and
compiled only when a memory uses the option.

* **Weighted writes** (per-distance weights and/or the clipping bound kappa):
  the location at Hamming distance ``h`` of write ``q`` gets
  ``row[j] = clip(row[j] + scale[h] * signs[q, j], lo, hi)``, computed in
  int64 (exact: ``|scale| < 2**31``), where ``signs`` are +-1 and
  ``[lo, hi]`` is ``[-kappa, kappa]`` or the dtype's range.  Clipping the
  exact sum equals saturating at the dtype and then clipping at kappa.  As in
  the default kernels, threads own disjoint location ranges (CSR) or chunks
  of tiles (fused) and apply the batch in order, so a batch equals the same
  writes made one by one.  A zero scale leaves the location untouched.
* **z reads**: ``sums[q, j] = sum of sign(c) * |c| ** z`` over the activated
  rows, in float64, added **in ascending location order** (a float sum's
  value depends on its order; this order is the definition the naive
  reference follows).  The fused z read is therefore parallel over *queries*
  (each task scans every tile for its group of queries), not over locations.
  ``|c| ** z`` comes from a table (``table[c - min]``) for int8/int16
  counters and from ``pow`` for int32 ones.
"""

import numpy as np

from .._intrinsics import MASK_MAX_WORDS, next_task, popcount, tile_distances, tile_radius_masks
from .._jit import SIMD_VARIANTS, jit, named
from .counters import PREFETCH_AHEAD, collect_rows, prefetch_row, threshold_sums
from .hamming import (
    empty_aligned,
    load_tile,
    prefetch_next_tile,
    radius_masks,
    tile_distances_call,
    tile_group_distances,
)


@jit(inline="always")
def _update(row, signs, f, lo, hi):
    # row[j] = clip(row[j] + f * signs[j], lo, hi), exactly (int64).
    for j in range(row.shape[0]):
        v = np.int64(row[j]) + f * np.int64(signs[j])
        if v > hi:
            v = hi
        elif v < lo:
            v = lo
        row[j] = v


@jit(inline="always")
def _add_z(total, row, table, z):
    # total[j] += sign(c) * |c| ** z for the counters c of row.
    if row.itemsize <= 2:
        offset = 32768 if row.itemsize == 2 else 128
        for j in range(total.shape[0]):
            total[j] += table[np.int64(row[j]) + offset]
    else:
        for j in range(total.shape[0]):
            c = np.float64(row[j])
            if c > 0:
                total[j] += c ** z
            elif c < 0:
                total[j] -= (-c) ** z


@jit
def write_lists_weighted(tasks, worker, indptr, indices, words, A, signs, scale, counters, lo,
                         hi, bounds):
    # Tasks are the location ranges bounds[part] .. bounds[part + 1]; the
    # distance of each activated location to its write address indexes scale.
    nq = indptr.shape[0] - 1
    n = counters.shape[1]
    W = A.shape[1]
    flat = counters.reshape(-1)
    while True:
        part = next_task(tasks)
        if part < 0:
            break
        first = bounds[part]
        stop = bounds[part + 1]
        for q in range(nq):
            seg = indices[indptr[q] : indptr[q + 1]]
            a = np.searchsorted(seg, first)
            b = np.searchsorted(seg, stop)
            for t in range(a, b):
                if t + PREFETCH_AHEAD < b:
                    prefetch_row(flat, seg[t + PREFETCH_AHEAD], n)
                i = seg[t]
                h = 0
                for k in range(W):
                    h += popcount(words[q, k] ^ A[i, k])
                f = scale[h]
                if f != 0:
                    _update(counters[i], signs[q], f, lo, hi)


@jit
def read_lists_z(tasks, worker, indptr, indices, counters, table, z, tie_words, sums, out_words):
    # Tasks are queries; each sums its rows in ascending order.
    n = counters.shape[1]
    flat = counters.reshape(-1)
    while True:
        q = next_task(tasks)
        if q < 0:
            break
        s = sums[q]
        s[:] = 0
        a = indptr[q]
        b = indptr[q + 1]
        for t in range(a, b):
            if t + PREFETCH_AHEAD < b:
                prefetch_row(flat, indices[t + PREFETCH_AHEAD], n)
            _add_z(s, counters[indices[t]], table, z)
        threshold_sums(s, tie_words, q, out_words)


def make_weighted_write(simd: str):
    """The fused scan-and-weighted-write kernel (tasks are chunks of location tiles).

    As ``counters.make_scan_update(True, simd)``, but each activated row gets
    ``clip(row + scale[h] * signs[q], lo, hi)`` with ``h`` its distance.
    """
    explicit = simd == "avx512"

    def weighted_write(tasks, worker, Qp, nq, A, L, n_chunks, radius, counters, signs, scale,
                       lo, hi):
        N = A.shape[0]
        n = counters.shape[1]
        flat = counters.reshape(-1)
        n_tiles = (N + L - 1) // L
        tiles_per_chunk = (n_tiles + n_chunks - 1) // n_chunks
        T = empty_aligned(Qp.shape[1], L, np.uint64)
        acc = empty_aligned(4, L, np.int64)
        masks = np.empty((4, L // 64), np.uint64)
        rows = np.empty(4 * L, np.int64)
        queries = np.empty(4 * L, np.int64)
        dists = np.empty(4 * L, np.int64)
        while True:
            chunk = next_task(tasks)
            if chunk < 0:
                break
            for tile in range(chunk * tiles_per_chunk,
                              min(n_tiles, (chunk + 1) * tiles_per_chunk)):
                start = tile * L
                count = min(L, N - start)
                load_tile(A, start, count, T)
                found = 0
                for q in range(0, nq + 4, 4):
                    if q < nq:
                        prefetch_next_tile(A, start + L, L, q // 4, (nq + 3) // 4)
                        if explicit:
                            tile_distances(Qp, q, T, acc)
                        else:
                            tile_group_distances(Qp, q, T, acc)
                    for i in range(found):
                        f = scale[dists[i]]
                        if f != 0:
                            _update(counters[rows[i]], signs[queries[i]], f, lo, hi)
                    found = 0
                    if q < nq:
                        # The rows' weights need their distances: masks from acc.
                        radius_masks(acc, count, radius, masks)
                        found = collect_rows(masks, q, min(4, nq - q), count, start, rows,
                                             queries, flat, n, True)
                        # The distances, before the next group's scan overwrites acc.
                        for i in range(found):
                            dists[i] = acc[queries[i] - q, rows[i] - start]

    return jit(named(weighted_write, f"weighted_write_radius_{simd}"))


def make_z_read(simd: str):
    """The fused scan-and-z-read kernel (tasks are groups of ``group`` queries).

    Each task passes its queries over every tile in order, adding
    ``sign(c) * |c| ** z`` of each activated row into ``sums[q]`` (float64) in
    ascending location order, then thresholds them into ``out_words``.
    """
    explicit = simd == "avx512"

    def z_read(tasks, worker, Qp, nq, A, L, group, radius, counters, table, z, tie_words, sums,
               out_words):
        N = A.shape[0]
        n = counters.shape[1]
        flat = counters.reshape(-1)
        n_tiles = (N + L - 1) // L
        T = empty_aligned(Qp.shape[1], L, np.uint64)
        acc = empty_aligned(4, L, np.int64)
        masks = np.empty((4, L // 64), np.uint64)
        compare_in_registers = explicit and Qp.shape[1] <= MASK_MAX_WORDS
        rows = np.empty(4 * L, np.int64)
        queries = np.empty(4 * L, np.int64)
        while True:
            g = next_task(tasks)
            if g < 0:
                break
            q0 = g * group
            q1 = min(nq, q0 + group)
            for q in range(q0, q1):
                sums[q] = 0
            for tile in range(n_tiles):
                start = tile * L
                count = min(L, N - start)
                load_tile(A, start, count, T)
                found = 0
                for q in range(q0, q1 + 4, 4):
                    if q < q1:
                        prefetch_next_tile(A, start + L, L, (q - q0) // 4, (q1 - q0 + 3) // 4)
                        if compare_in_registers and count == L:
                            tile_radius_masks(Qp, q, T, radius, masks)
                        else:
                            if explicit:
                                tile_distances_call(Qp, q, T, acc)
                            else:
                                tile_group_distances(Qp, q, T, acc)
                            radius_masks(acc, count, radius, masks)
                    for i in range(found):
                        _add_z(sums[queries[i]], counters[rows[i]], table, z)
                    found = 0
                    if q < q1:
                        found = collect_rows(masks, q, min(4, q1 - q), count, start, rows,
                                             queries, flat, n, True)
            for q in range(q0, q1):
                threshold_sums(sums[q], tie_words, q, out_words)

    return jit(named(z_read, f"z_read_radius_{simd}"))


#: Fused kernels by vector code.
WEIGHTED_WRITE = {simd: make_weighted_write(simd) for simd in SIMD_VARIANTS}
Z_READ = {simd: make_z_read(simd) for simd in SIMD_VARIANTS}

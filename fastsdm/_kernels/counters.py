"""Counter updates (write) and counter sums (read) over CSR activations.

``indptr``/``indices`` list, per query, the activated locations in ascending
order.  Writes are parallel over *location ranges*: every thread applies the
whole batch, in batch order, to the rows it owns, so no two threads ever touch
the same row and a batched write equals the same writes applied one by one,
saturation included.  Reads are parallel over queries.

Activated rows are scattered over the counter matrix (a gigabyte for the
canonical memory), so both loops are bound by memory latency; they prefetch
the row ``PREFETCH_AHEAD`` places ahead, which measured ~1.7x faster.

For radius activation of a batch, :func:`make_scan_update` (compiled as
``write_radius_*`` and ``read_radius_*``) fuses the Hamming scan with the
counter update or gather: no activation mask over the memory and no CSR
lists are built, only each group's masks over one tile (compared in
registers, ``_intrinsics.tile_radius_masks``, where the vectors fit it).
A task owns a chunk of
location tiles and passes every query of the batch, in order, over each tile
(the tiled scan of ``fastsdm._kernels.hamming``).  The rows a group of four
queries activates are prefetched at once and updated only after the next
group's distances are computed, so the row loads overlap the popcount work
instead of stalling on memory.  Writes stay in batch order row by row: each
row belongs to one tile, and the queries pass over a tile in order.  A read
lets each query's rows wait until ``ROWS_AT_ONCE`` have come, prefetches
them together and adds them one group later with one pass over the query's
sums (``add_rows``); the fewer than ``ROWS_AT_ONCE`` left per query at the end
are added row by row.
"""

import numpy as np

from .. import _jit
from .._intrinsics import (
    MASK_MAX_WORDS,
    add_row_saturating,
    add_rows,
    next_task,
    popcount,
    prefetch,
    prefetch_l2,
    saturating_add,
    tile_radius_masks,
)
from .._jit import SIMD_VARIANTS, jit, named, overload, run_tasks
from .hamming import (
    empty_aligned,
    load_tile,
    prefetch_next_tile,
    radius_masks,
    tile_distances_call,
    tile_group_distances,
)

PREFETCH_AHEAD = 4


@jit(inline="always")
def prefetch_row(flat, row, n):
    # One hint per 64-byte cache line of the row.
    itemsize = flat.itemsize
    for offset in range(0, n, 64 // itemsize):
        prefetch(flat, row * n + offset)


@jit(inline="always")
def _prefetch_row_l2(flat, row, n):
    # The same into L2 only: the fused kernels use a row after the next
    # group's distances, whose tile fills L1 (measured 1.5-2% faster writes
    # than prefetching into L1, which evicted the tile).
    itemsize = flat.itemsize
    for offset in range(0, n, 64 // itemsize):
        prefetch_l2(flat, row * n + offset)


@jit
def write_lists(tasks, worker, indptr, indices, deltas, counters, bounds):
    # Tasks are the location ranges bounds[part] .. bounds[part + 1].
    nq = indptr.shape[0] - 1
    n = counters.shape[1]
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
            delta = deltas[q]
            for t in range(a, b):
                if t + PREFETCH_AHEAD < b:
                    prefetch_row(flat, seg[t + PREFETCH_AHEAD], n)
                row = counters[seg[t]]
                for j in range(n):
                    # llvm.sadd.sat: vpaddsb / vpaddsw when delta has the
                    # counters' dtype.
                    row[j] = saturating_add(row[j], delta[j])



@jit(inline="always")
def _bit_shift(j):
    # Position of bit j inside its uint64 word: np.packbits order (bit 0 is
    # the most significant bit of byte 0), bytes read as a little-endian word.
    return np.uint64(8 * ((j >> 3) & 7) + 7 - (j & 7))


@jit
def read_lists(tasks, worker, indptr, indices, counters, tie_words, sums, out_words):
    # Tasks are queries.
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
        if counters.itemsize == 1:
            # int8 rows add up in int16 for up to 256 rows (|sum| <= 32,768),
            # twice the lanes of int32 arithmetic; measured ~1.2x faster.
            part = np.zeros(n, np.int16)
            for t in range(a, b):
                if t + PREFETCH_AHEAD < b:
                    prefetch_row(flat, indices[t + PREFETCH_AHEAD], n)
                row = counters[indices[t]]
                for j in range(n):
                    part[j] += row[j]
                if (t - a) % 256 == 255 or t == b - 1:
                    for j in range(n):
                        s[j] += part[j]
                    part[:] = 0
        else:
            for t in range(a, b):
                if t + PREFETCH_AHEAD < b:
                    prefetch_row(flat, indices[t + PREFETCH_AHEAD], n)
                row = counters[indices[t]]
                for j in range(n):
                    s[j] += row[j]
        threshold_sums(s, tie_words, q, out_words)


def _read_serial(indptr, indices, counters, tie_words, sums, out_words):
    # The read of activation lists, serially (also used by fastsdm.distributed).
    run_tasks(read_lists, indptr.shape[0] - 1,
              (indptr, indices, counters, tie_words, sums, out_words), False)


def _read_parallel(indptr, indices, counters, tie_words, sums, out_words):
    # The same, queries split over threads.
    run_tasks(read_lists, indptr.shape[0] - 1,
              (indptr, indices, counters, tie_words, sums, out_words), True)


@jit(inline="always")
def threshold_sums(s, tie_words, q, out_words):
    # Bit j of query q's output: the sign of s[j], the tie word's bit at 0.
    out_words[q, :] = 0
    for j in range(s.shape[0]):
        w = j >> 6
        shift = _bit_shift(j)
        if s[j] > 0:
            out_words[q, w] |= np.uint64(1) << shift
        elif s[j] == 0:
            out_words[q, w] |= tie_words[q, w] & (np.uint64(1) << shift)


@jit(inline="always")
def collect_rows(masks, q, n_queries, count, start, rows, queries, flat, n, fetch):
    # Record (row, query) for every location of the tile set in the radius
    # masks of queries q .. q + n_queries - 1 (``masks[r]``), in query order,
    # prefetching each row if ``fetch`` (a constant where it is inlined).
    found = 0
    for r in range(n_queries):
        for k in range((count + 63) // 64):
            m = masks[r, k]
            while m != 0:
                low = m & (~m + np.uint64(1))
                row = start + 64 * k + popcount(low - np.uint64(1))
                m ^= low
                if fetch:
                    _prefetch_row_l2(flat, row, n)
                rows[found] = row
                queries[found] = q + r
                found += 1
    return found


@jit(inline="always")
def _add_saturating(row, delta):
    for j in range(row.shape[0]):
        row[j] = saturating_add(row[j], delta[j])


@jit(inline="always")
def _add_into(total, row):
    for j in range(total.shape[0]):
        total[j] += row[j]


#: Rows a read adds into a query's sums at once (``add_rows``): the sums are
#: read and written once per ROWS_AT_ONCE rows instead of once per row, which
#: is most of a row's cost (an int8 row is 1,000 bytes, its int16 sums 2,000
#: read and 2,000 written).  Measured 1.09-1.10x faster canonical reads than
#: one row at a time, and 1.02-1.04x with two (docs/performance.md).  It must
#: divide 256 (the int16 sums' flush) and match :func:`pending_rows`.
ROWS_AT_ONCE = 8
assert 256 % ROWS_AT_ONCE == 0


@jit(inline="always")
def pending_rows(waiting):
    # The ROWS_AT_ONCE rows waiting for one query, as the tuple add_rows takes.
    return (waiting[0], waiting[1], waiting[2], waiting[3],
            waiting[4], waiting[5], waiting[6], waiting[7])


def make_add_batches(explicit: bool):
    """Add the read's ready batches into their queries' sums (one call per group step).

    ``ready[b]`` holds ROWS_AT_ONCE rows of query ``ready_query[b]``.  With
    ``narrow`` (int8 counters) a query's rows add up in its int16 ``sums16``
    row, which is added into ``sums`` every 256 rows.

    A function of its own, called at most once per step, not inlined into the
    fused read: inlined at three places it made the read's compilation about
    twice as long (3.0-3.6 s of CPU against 1.7-2.0 s, ``compile_budget.py
    --kernels``), and a call is nothing beside the rows it adds (paired reads
    of 256 and 1,024: 1.000 and 0.995 of the inlined code).
    """

    def add_batches(ready, ready_query, narrow, counters, sums16, since, sums):
        for b in range(ready.shape[0]):
            r = ready_query[b]
            batch = pending_rows(ready[b])
            if narrow:
                if explicit:
                    add_rows(sums16, r, counters, batch)
                else:
                    _add_rows_into(sums16[r], counters, batch)
                since[r] += ROWS_AT_ONCE
                if since[r] == 256:  # |sum| <= 256 * 128 fits int16
                    _add_into(sums[r], sums16[r])
                    sums16[r] = 0
                    since[r] = 0
            elif explicit:
                add_rows(sums, r, counters, batch)
            else:
                _add_rows_into(sums[r], counters, batch)

    return jit(named(add_batches, f"add_batches_{'avx512' if explicit else 'generic'}"))


# Module globals, not captured by the fused kernels' closures (see _jit: a
# captured dispatcher would change their cache key in every process).
add_batches_avx512 = make_add_batches(True)
add_batches_generic = make_add_batches(False)


@jit(inline="always")
def _add_batches(explicit, ready, ready_query, narrow, counters, sums16, since, sums):
    # ``explicit`` is a constant where this is inlined: one variant is compiled.
    if explicit:
        add_batches_avx512(ready, ready_query, narrow, counters, sums16, since, sums)
    else:
        add_batches_generic(ready, ready_query, narrow, counters, sums16, since, sums)


@jit(inline="always")
def _add_rows_into(total, counters, rows):
    # Portable add_rows: total += the sum of counters' rows ``rows``.
    for j in range(total.shape[0]):
        value = total[j]
        for k in rows:
            value += counters[k, j]
        total[j] = value


def narrow_sums(n_queries, n, counters):
    """Zeroed per-query sums for int8 ``counters``: int16 (exact for 256 rows).

    For wider counters an int32 array of the same shape (the kernels pass
    ``n_queries=0`` then): the narrow branch of the fused read stays typeable
    for every counter dtype, where it never runs.
    """
    return np.zeros((n_queries, n), np.int16 if counters.itemsize == 1 else np.int32)


@overload(narrow_sums)
def _narrow_sums_jit(n_queries, n, counters):
    dtype = np.int16 if counters.dtype.bitwidth == 8 else np.int32

    def impl(n_queries, n, counters):
        return np.zeros((n_queries, n), dtype)

    return impl


def make_scan_update(write: bool, simd: str):
    """The fused scan-and-update kernel (tasks are chunks of location tiles).

    ``write`` (a compile-time constant of the closure): add ``deltas[q]`` to
    every row within ``radius`` of query ``q``, saturating; otherwise add
    those rows into ``partial[worker, q]`` (one block of partial sums per
    thread; the other array is unused).  ``simd``: explicit 512-bit or portable tile distances.
    """
    explicit = simd == "avx512"

    def scan_update(tasks, worker, Qp, nq, A, L, n_chunks, radius, counters, deltas, partial):
        # Qp: nq queries padded to a multiple of 4 rows and to the tile's words.
        # Tasks are chunks of tiles; a read adds into partial[worker].
        N = A.shape[0]
        n = counters.shape[1]
        flat = counters.reshape(-1)
        n_tiles = (N + L - 1) // L
        tiles_per_chunk = (n_tiles + n_chunks - 1) // n_chunks
        # int8 rows add up in int16 (twice the SIMD lanes, half the bytes of
        # int32 partial sums) for up to 256 rows per query, then flush.
        narrow = not write and counters.itemsize == 1
        if not write:
            partial[worker] = 0
        sums = partial[0 if write else worker]  # a write's ``partial`` is a placeholder
        sums16 = narrow_sums(nq if narrow else 0, n, counters)
        since = np.zeros(nq if narrow else 0, np.int64)
        # A read adds a query's rows ROWS_AT_ONCE at a time: they wait in
        # waiting[q]; a complete batch is prefetched and added one step later,
        # from ``ready``, so its loads overlap the next group's distances.
        waiting = np.empty((0 if write else nq, ROWS_AT_ONCE), np.int64)
        n_waiting = np.zeros(0 if write else nq, np.int64)
        ready = np.empty((0 if write else 4 * L, ROWS_AT_ONCE), np.int64)
        ready_query = np.empty(0 if write else 4 * L, np.int64)
        n_ready = 0
        T = empty_aligned(Qp.shape[1], L, np.uint64)
        acc = empty_aligned(4, L, np.int64)
        masks = np.empty((4, L // 64), np.uint64)
        # Whole tiles compared in registers (tile_radius_masks); the rest via
        # acc.  Written out here: as a shared inline helper, the same code
        # measured 4-5 % slower fused writes and reads (paired).
        compare_in_registers = explicit and Qp.shape[1] <= MASK_MAX_WORDS
        rows = np.empty(4 * L, np.int64)
        queries = np.empty(4 * L, np.int64)
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
                # One step past the last group applies its rows.
                for q in range(0, nq + 4, 4):
                    if q < nq:
                        prefetch_next_tile(A, start + L, L, q // 4, (nq + 3) // 4)
                        if compare_in_registers and count == L:
                            tile_radius_masks(Qp, q, T, radius, masks)
                        else:
                            if explicit:
                                tile_distances_call(Qp, q, T, acc)
                            else:
                                tile_group_distances(Qp, q, T, acc)
                            radius_masks(acc, count, radius, masks)
                    # The rows prefetched one step ago arrived during the scan above.
                    if write:
                        for i in range(found):
                            if explicit:
                                add_row_saturating(counters, rows[i], deltas, queries[i])
                            else:
                                _add_saturating(counters[rows[i]], deltas[queries[i]])
                    else:
                        if n_ready:
                            _add_batches(explicit, ready[:n_ready], ready_query[:n_ready],
                                         narrow, counters, sums16, since, sums)
                        n_ready = 0
                        for i in range(found):
                            r = queries[i]
                            waiting[r, n_waiting[r]] = rows[i]
                            n_waiting[r] += 1
                            if n_waiting[r] == ROWS_AT_ONCE:
                                n_waiting[r] = 0
                                # Element by element: a row assignment from an
                                # array compiles numba's shape-mismatch message
                                # (string formatting: ~1.5 s CPU per process).
                                for t in range(ROWS_AT_ONCE):
                                    ready[n_ready, t] = waiting[r, t]
                                ready_query[n_ready] = r
                                n_ready += 1
                                for t in range(ROWS_AT_ONCE):
                                    _prefetch_row_l2(flat, waiting[r, t], n)
                    found = 0
                    if q < nq:
                        # A write prefetches each row as it is found; a read
                        # prefetches a query's rows when their batch is complete.
                        found = collect_rows(masks, q, min(4, nq - q), count, start, rows,
                                             queries, flat, n, write)
        if write:  # a constant: a write's kernel ends here, a read's adds what is left
            return
        if n_ready:
            _add_batches(explicit, ready[:n_ready], ready_query[:n_ready], narrow, counters,
                         sums16, since, sums)
        # The fewer than ROWS_AT_ONCE rows left per query go straight into its sums.
        for r in range(n_waiting.shape[0]):
            for t in range(n_waiting[r]):
                _add_into(sums[r], counters[waiting[r, t]])
        for r in range(since.shape[0]):
            if since[r]:
                _add_into(sums[r], sums16[r])

    return jit(named(scan_update, f"{'write' if write else 'read'}_radius_{simd}"))


#: Fused kernels by (write, vector code).
SCAN_UPDATE = {(write, simd): make_scan_update(write, simd)
               for write in (True, False) for simd in SIMD_VARIANTS}


def scan_update(write: bool, simd: str | None = None):
    """The fused write (``write=True``) or read kernel (``simd``: ``_jit.SIMD``)."""
    return SCAN_UPDATE[write, simd or _jit.SIMD]


@jit
def finish_read(partial, tie_words, out_words):
    # Sum the chunks' partial sums into partial[0] and threshold them.  Serial
    # only: a few microseconds against the scan's milliseconds, where a
    # parallel twin would cost a second of compile time.
    for q in range(partial.shape[1]):
        s = partial[0, q]
        for c in range(1, partial.shape[0]):
            _add_into(s, partial[c, q])
        threshold_sums(s, tie_words, q, out_words)


"""Exhaustive Hamming search over packed addresses.

The public functions validate and normalise their input, choose a kernel
(tiled for batches, row-wise for a few queries; serial or parallel by the
amount of work) and call the private scans of ``fastsdm._kernels.hamming``.
"""

from __future__ import annotations

import numba
import numpy as np

from . import _jit
from ._jit import run_tasks, use_parallel
from ._kernels import hamming as _h
from ._validation import BYTES, ROWS, WORDS, as_array, as_bits, check_int, describe

__all__ = ["hamming_distances", "radius_search", "knn_search"]

#: Below this many queries the row-wise scan beats transposing tiles.
TILED_MIN_QUERIES = 8
#: Queries per tiled task: a tile is transposed once per query block.
QUERY_BLOCK = 256
#: Bytes of the per-query radius bit masks held at once (queries are chunked);
#: at most 2**28, so that a block's location indices fit an int32.
MASK_BUDGET = 32 << 20

#: Longest vectors (bits, rounded up to whole words) whose distances fit int32.
MAX_DISTANCE_BITS = np.iinfo(np.int32).max

_EMPTY_DIST = np.zeros((1, 1), dtype=np.int32)
_EMPTY_MASK = np.zeros((1, 1), dtype=np.uint64)
_EMPTY_HEAPS = np.zeros((1, 1, 1), dtype=np.int64)


def padded_words(n_words: int, simd: str | None = None) -> int:
    """Words per vector in the tiled kernels.

    The explicit 512-bit kernel loops over the words as they are; the portable
    one takes 1, 2, 4 or a multiple of 8 (zero words cost popcounts of 0).
    """
    if (simd or _jit.SIMD) == "avx512":
        return n_words
    if n_words <= 4:
        return 1 << (n_words - 1).bit_length()
    return -(-n_words // 8) * 8


def tile_size(n_words: int, simd: str | None = None) -> int:
    """Locations per tile: the transposed tile takes ~32 KiB (measured best)."""
    return 64 * int(np.clip(32768 // (8 * padded_words(n_words, simd) * 64), 1, 16))


def pad_queries(Q: np.ndarray, simd: str | None = None) -> np.ndarray:
    # The tiled kernels read 4 queries per pass (and the portable one 1, 2, 4
    # or 8 words of each).
    w8 = padded_words(Q.shape[1], simd)
    q4 = -(-Q.shape[0] // 4) * 4
    if (q4, w8) == Q.shape:
        return Q
    Qp = np.zeros((q4, w8), dtype=np.uint64)
    Qp[: Q.shape[0], : Q.shape[1]] = Q
    return Qp


def _prepare(queries, addresses, n_bits):
    """``(Q, A, single, n_bits)``: queries and addresses as 2-D packed words, and their length.

    Every bit form is accepted (:func:`fastsdm._validation.as_bits`: uint64
    words, ``np.packbits`` uint8 bytes, 0/1 or bool rows), the two in
    different forms if they like.  Without ``n_bits`` the length is read off
    the addresses (``64 W`` for words, ``8 B`` for bytes, the row length for
    0/1 rows) and the queries must have it.
    """
    if n_bits is not None:
        n_bits = check_int(n_bits, "n_bits", 1,
                           hint="n_bits is the vector length in bits (or None: all 64 W bits)")
    q_array, a_array = as_array(queries, "queries"), as_array(addresses, "addresses")
    if (n_bits is None and q_array.dtype == a_array.dtype == np.uint64
            and q_array.ndim and a_array.ndim and q_array.shape[-1] != a_array.shape[-1]):
        raise ValueError(f"queries and addresses must have the same number of words per vector, "
                         f"got queries {describe(q_array)} and addresses {describe(a_array)}")
    A = as_bits(a_array, "addresses", n_bits, ndim=(2,), allow_empty=True)
    try:
        Q = as_bits(q_array, "queries", A.n_bits)
    except ValueError as exc:
        if n_bits is not None or not _other_width(q_array, A.n_bits):
            raise  # not a width problem: the error says what it is
        form = {WORDS: "uint64 words", BYTES: "np.packbits bytes", ROWS: "0/1 rows"}[A.form]
        raise ValueError(f"{exc}. Without n_bits= the vector length is read off the addresses "
                         f"({A.n_bits} bits: {form} {describe(a_array)}); queries and "
                         "addresses must have the same width: pass n_bits= (the vector length) "
                         "when it is not a multiple of 64 (words) or 8 (bytes)") from None
    return Q.words, A.words, Q.single, A.n_bits


def _other_width(queries: np.ndarray, n_bits: int) -> bool:
    """Whether ``queries`` read alone have a width other than ``n_bits``."""
    try:
        return as_bits(queries, "queries", None, allow_empty=True).n_bits != n_bits
    except (TypeError, ValueError):
        return False


def _n_chunks(parallel: bool, n_units: int, n_qblocks: int = 1, mode: int = 0) -> int:
    if not parallel:
        return 1
    threads = numba.get_num_threads()
    if mode == _h.MODE_KNN and n_qblocks >= threads:
        # Each location chunk keeps its own heap per query, and filling a heap
        # costs k pushes: split locations only when queries cannot keep all
        # threads busy.
        return 1
    want = -(-4 * threads // n_qblocks)
    return int(max(1, min(n_units, want)))


def _scan(Q, A, mode, radius=0, out_dist=None, out_mask=None, k=0, parallel=None, shift=1):
    """Run one scan; returns the k-NN heaps (MODE_KNN, keys ``d << shift | i``) or None."""
    nq, N, W = Q.shape[0], A.shape[0], A.shape[1]
    if mode != _h.MODE_RADIUS and 64 * W > MAX_DISTANCE_BITS:
        raise ValueError(f"vectors of {64 * W} bits are too long for int32 Hamming distances "
                         f"(at most {MAX_DISTANCE_BITS} bits); use radius_search, or split "
                         "the vectors and add the distances of the parts")
    par = use_parallel(nq * N * W, parallel)
    out_dist = _EMPTY_DIST if out_dist is None else out_dist
    out_mask = _EMPTY_MASK if out_mask is None else out_mask
    if nq >= TILED_MIN_QUERIES:
        L = tile_size(W)
        n_qblocks = -(-nq // QUERY_BLOCK)
        if mode == _h.MODE_KNN and par:
            # k-NN parallelises over queries first (see _n_chunks).
            n_qblocks = max(n_qblocks, min(numba.get_num_threads(), nq // 4))
        q_block = -(-nq // n_qblocks // 4) * 4
        n_qblocks = -(-nq // q_block)
        n_chunks = _n_chunks(par, -(-N // L), n_qblocks, mode)
        heaps = _new_heaps(n_chunks, nq, k) if mode == _h.MODE_KNN else _EMPTY_HEAPS
        run_tasks(_h.scan_tiled(mode), n_qblocks * n_chunks,
                  (pad_queries(Q), nq, A, L, q_block, n_chunks, radius, out_dist, out_mask, heaps,
                   shift), par)
    else:
        n_chunks = _n_chunks(par, -(-N // 64))
        heaps = _new_heaps(n_chunks, nq, k) if mode == _h.MODE_KNN else _EMPTY_HEAPS
        run_tasks(_h.scan_rows(), n_chunks,
                  (Q, A, n_chunks, mode, radius, out_dist, out_mask, heaps, shift), par)
    return heaps if mode == _h.MODE_KNN else None


def _new_heaps(n_chunks, nq, k):
    return np.full((n_chunks, nq, k), _h.KEY_EMPTY, dtype=np.int64)


def hamming_distances(queries, addresses, *, n_bits: int | None = None,
                      parallel: bool | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """Hamming distance between every query and every address.

    Parameters
    ----------
    queries : ndarray, shape (W,), (q, W) or (..., W)
        Bit vectors: packed ``uint64`` words (see :func:`fastsdm.pack_bits`),
        ``np.packbits`` ``uint8`` bytes, or 0/1 (or bool) rows, with any
        number of leading batch dimensions (as torchhd's
        ``hamming_similarity``).
    addresses : ndarray, shape (N, W)
        Bit vectors in any of the same forms (not necessarily the queries').
    n_bits : int, optional
        Vector length in bits.  When given, vectors must have
        ``ceil(n_bits / 64)`` words and their pad bits (the bits past
        ``n_bits`` in the last word) must be zero: non-zero pad bits are
        refused with a ``ValueError``.  When not given, every one of the
        ``64 W`` bits of each vector counts, pad bits included (clear
        untrusted pad bits with :func:`fastsdm.clear_pad_bits`).
    parallel : bool, optional
        Force the parallel (``True``) or serial (``False``) kernel; by default
        the choice follows the amount of work.
    out : ndarray of int32, optional
        Where to write the distances: a C-contiguous, writeable int32 array
        of the result's shape, sharing no memory with the inputs.  It is
        returned.  Reusing one array across calls saves allocating a large
        result each time, and the page faults of writing to new memory (256
        queries over 10^6 addresses make 1 GB: see docs/performance.md).

    Returns
    -------
    distances : ndarray of int32, shape queries.shape[:-1] + (N,)
        ``(N,)`` for one query, ``(q, N)`` for a batch, ``(b, q, N)`` for
        stacked batches of shape ``(b, q, W)``; ``out`` when given.

    See Also
    --------
    radius_search, knn_search

    Notes
    -----
    Without ``n_bits`` the vector length is read off the addresses: ``64 W``
    for words, ``8 B`` for bytes, the row length for 0/1 rows.

    Examples
    --------
    >>> import fastsdm
    >>> a = fastsdm.pack_bits([[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]])
    >>> fastsdm.hamming_distances(a[0], a)
    array([0, 2, 4], dtype=int32)
    >>> fastsdm.hamming_distances([[[1, 1, 0, 0]], [[0, 1, 1, 1]]], a, n_bits=4)  # 0/1 rows
    array([[[2, 0, 2]],
    <BLANKLINE>
           [[3, 3, 1]]], dtype=int32)

    Into an array of your own, reused across calls:

    >>> import numpy as np
    >>> d = np.empty((2, 3), dtype=np.int32)
    >>> fastsdm.hamming_distances(a[:2], a, out=d) is d
    True
    >>> d
    array([[0, 2, 4],
           [2, 0, 2]], dtype=int32)
    """
    array = as_array(queries, "queries")
    batch = array.shape[:-1] if array.ndim > 2 else None
    if batch is not None:
        if array.size == 0:  # said of the caller's array, not of its reshaped rows
            raise ValueError(f"queries is empty ({describe(array)}); pass at least one vector")
        array = array.reshape(-1, array.shape[-1])
    Q, A, single, _ = _prepare(array, addresses, n_bits)
    if batch is not None:
        shape = (*batch, A.shape[0])
    else:
        shape = (A.shape[0],) if single else (Q.shape[0], A.shape[0])
    if out is None:
        return distance_rows(Q, A, parallel).reshape(shape)
    _check_out(out, shape, (queries, addresses, Q, A))
    # A plain ndarray view: a subclass (np.memmap, ...) is written through it.
    distance_rows(Q, A, parallel, out=out.view(np.ndarray).reshape(Q.shape[0], A.shape[0]))
    return out


def _check_out(out, shape, inputs):
    """``out`` as hamming_distances writes into it, or a clear error."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array of int32 (or None), got "
                        f"{type(out).__name__}")
    if out.dtype != np.int32 or out.shape != shape:
        error = TypeError if out.dtype != np.int32 else ValueError
        raise error(f"out must be an int32 array of shape {shape} (the distances of these "
                    f"queries and addresses), got {describe(out)}; make one with "
                    f"np.empty({shape}, dtype=np.int32)")
    if not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError("out must be C-contiguous and writeable (np.empty gives one); got a "
                         f"{'read-only' if not out.flags.writeable else 'non-contiguous'} "
                         "array")
    for x in inputs:
        if isinstance(x, np.ndarray) and np.may_share_memory(out, x):
            raise ValueError("out shares memory with the queries or the addresses; pass an "
                             "array of its own")


def _mask_to_csr(mask, parallel):
    counts = np.empty(mask.shape[0], dtype=np.int64)
    par = use_parallel(mask.size, parallel)
    run_tasks(_h.mask_counts, mask.shape[0], (mask, counts), par)
    indptr = np.zeros(mask.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int64)
    run_tasks(_h.mask_to_indices, mask.shape[0], (mask, indptr, indices), par)
    return indptr, indices


def queries_per_chunk(n_locations: int) -> int:
    """Queries whose radius masks fit in :data:`MASK_BUDGET`.

    At least 8, and a multiple of :data:`QUERY_BLOCK` when larger, so that
    query blocks are full and threads get equal work.
    """
    fit = MASK_BUDGET // (8 * max(1, -(-n_locations // 64)))
    return max(8, fit // QUERY_BLOCK * QUERY_BLOCK or fit)


def mask_blocks(n_queries: int, n_locations: int, n_words: int) -> tuple[int, int]:
    """(queries, locations) per block of radius masks, within :data:`MASK_BUDGET`.

    When the masks of all queries do not fit, a block keeps at least
    :data:`QUERY_BLOCK` queries (or all of them) and cuts the *locations*
    instead: each address is then read and transposed once per block of 256
    queries, whatever ``N`` (cutting only the queries made a large memory
    re-stream its addresses once per few dozen queries).
    """
    per_query = 8 * max(1, -(-n_locations // 64))
    if n_queries * per_query <= MASK_BUDGET:
        return n_queries, max(1, n_locations)
    q = min(n_queries, max(QUERY_BLOCK, queries_per_chunk(n_locations)))
    locations = MASK_BUDGET * 8 // q
    step = tile_size(n_words)
    locations = locations // step * step if locations >= step else max(64, locations // 64 * 64)
    return q, min(locations, n_locations)


def _join_query_parts(parts):
    """One CSR from the CSRs ``(indptr, indices)`` of consecutive blocks of queries."""
    if len(parts) == 1:
        return parts[0]
    indptr = np.zeros(sum(p.size - 1 for p, _ in parts) + 1, dtype=np.int64)
    offset, row = 0, 0
    for part_indptr, _ in parts:
        m = part_indptr.size - 1
        indptr[row + 1 : row + m + 1] = part_indptr[1:] + offset
        offset += part_indptr[-1]
        row += m
    return indptr, np.concatenate([indices for _, indices in parts])


def radius_csr_by_location_blocks(Q, A, radius, step, parallel):
    """CSR of locations within ``radius``, the masks made ``step`` locations at a time.

    Each block's lists go into one staging array (block-major, indices
    within the block: int32, as ``step`` is at most ``8 * MASK_BUDGET``),
    then a kernel joins them per query in one parallel pass.  Memory a call
    writes for the first time costs page faults (on a VM, as much per byte
    as the copy or more): the NumPy join this replaces made three
    temporaries the size of the result, this makes one of half its size, and
    one mask buffer serves every block.  At N = 10^8 that more than halved
    the excess of the cost per word over N <= 10^7 (docs/performance.md).
    """
    if not 0 < step <= np.iinfo(np.int32).max:
        raise ValueError(f"step must be between 1 and 2**31 - 1 locations (int32 indices "
                         f"within a block), got {step}")
    nq, N = Q.shape[0], A.shape[0]
    n_blocks = -(-N // step)
    counts = np.empty((n_blocks, nq), dtype=np.int64)
    starts = np.empty((n_blocks, nq), dtype=np.int64)
    staging = np.empty(0, dtype=np.int32)
    buffer = np.empty(nq * -(-step // 64), dtype=np.uint64)
    filled = 0
    for b in range(n_blocks):
        first, last = b * step, min(N, (b + 1) * step)
        mask = buffer[: nq * -(-(last - first) // 64)].reshape(nq, -1)
        _scan(Q, A[first:last], _h.MODE_RADIUS, radius=radius, out_mask=mask, parallel=parallel)
        par = use_parallel(mask.size, parallel)
        run_tasks(_h.mask_counts, nq, (mask, counts[b]), par)
        total = int(counts[b].sum())
        if filled + total > staging.size:
            # Sized from the blocks so far with a quarter to spare (pages a
            # call never writes cost nothing); doubled if that runs out.
            guess = (filled + total) * N // last * 5 // 4 + 64
            grown = np.empty(max(guess, 2 * staging.size), dtype=staging.dtype)
            grown[:filled] = staging[:filled]
            staging = grown
        starts[b, 0] = filled
        np.cumsum(counts[b, :-1], out=starts[b, 1:])
        starts[b, 1:] += filled
        run_tasks(_h.mask_to_indices, nq, (mask, starts[b], staging), par)
        filled += total
    indptr = np.zeros(nq + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0), out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int64)
    run_tasks(_h.join_location_blocks, nq, (staging, starts, counts, step, indptr, indices),
              use_parallel(filled, parallel))
    return indptr, indices


def radius_csr(Q, A, radius, parallel=None):
    """CSR of locations within ``radius`` of each query (validated 2-D input)."""
    nq, N = Q.shape[0], A.shape[0]
    q_step, n_step = mask_blocks(nq, N, A.shape[1])
    parts = []
    for start in range(0, nq, q_step):
        block = Q[start : start + q_step]
        if n_step < N:
            parts.append(radius_csr_by_location_blocks(block, A, radius, n_step, parallel))
            continue
        mask = np.empty((block.shape[0], max(1, -(-N // 64))), dtype=np.uint64)
        if N:
            _scan(block, A, _h.MODE_RADIUS, radius=radius, out_mask=mask, parallel=parallel)
        else:
            mask[:] = 0
        parts.append(_mask_to_csr(mask, parallel))
    return _join_query_parts(parts)


def radius_search(queries, addresses, radius: int, *, n_bits: int | None = None,
                  parallel: bool | None = None):
    """Every address within Hamming distance ``radius`` (inclusive) of each query.

    Parameters
    ----------
    queries : ndarray, shape (W,) or (q, W)
        Packed ``uint64`` words, ``np.packbits`` ``uint8`` bytes or 0/1
        (or bool) rows.
    addresses : ndarray, shape (N, W)
        In any of the same forms.
    radius : int
        Inclusive: an address at distance exactly ``radius`` is returned.
        Between 0 and ``n_bits`` (``64 W`` when ``n_bits`` is not given).
    n_bits : int, optional
        Vector length in bits: the word count is checked and non-zero pad
        bits are refused (``ValueError``).  Without it all ``64 W`` bits of
        each vector count, pad bits included.
    parallel : bool, optional
        Force the parallel or serial kernel.

    Returns
    -------
    indptr : ndarray of int64, shape (q + 1,)
    indices : ndarray of int64, shape (indptr[-1],)
        CSR: the addresses near query ``i`` are
        ``indices[indptr[i]:indptr[i + 1]]``, ascending.

    Notes
    -----
    faiss's ``IndexBinaryFlat.range_search`` is strict (``<``): its radius
    ``r + 1`` gives the same result.

    Examples
    --------
    >>> import fastsdm
    >>> a = fastsdm.pack_bits([[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]])
    >>> indptr, indices = fastsdm.radius_search(a, a, 2)
    >>> indptr, indices
    (array([0, 2, 5, 7]), array([0, 1, 0, 1, 2, 1, 2]))
    """
    Q, A, _, limit = _prepare(queries, addresses, n_bits)
    radius = check_int(radius, "radius", 0, limit,
                       hint="an inclusive Hamming radius is a distance between 0 and the "
                            "vector length")
    return radius_csr(Q, A, radius, parallel)


def distance_rows(Q, A, parallel=None, out=None):
    """Hamming distances (q, N) ``int32`` of every query to every address (validated 2-D input).

    ``out``, when given, is a C-contiguous int32 (q, N) array to write them into.
    """
    if out is None:
        out = np.empty((Q.shape[0], A.shape[0]), dtype=np.int32)
    if A.shape[0]:
        _scan(Q, A, _h.MODE_DISTANCES, out_dist=out, parallel=parallel)
    return out


def knn_arrays(Q, A, k, parallel=None):
    """k nearest addresses of each query (validated 2-D input, 1 <= k <= N)."""
    shift = _h.key_shift(A.shape[0], A.shape[1])
    heaps = _scan(Q, A, _h.MODE_KNN, k=k, parallel=parallel, shift=shift)
    indices = np.empty((Q.shape[0], k), dtype=np.int64)
    distances = np.empty((Q.shape[0], k), dtype=np.int32)
    _h.merge_heaps(heaps, k, shift, indices, distances)
    return indices, distances


def knn_search(queries, addresses, k: int, *, n_bits: int | None = None,
               parallel: bool | None = None):
    """The ``k`` addresses nearest to each query.

    Parameters
    ----------
    queries : ndarray, shape (W,) or (q, W)
        Packed ``uint64`` words, ``np.packbits`` ``uint8`` bytes or 0/1
        (or bool) rows.
    addresses : ndarray, shape (N, W)
        In any of the same forms.
    k : int
        ``1 <= k <= N``.
    n_bits : int, optional
        Vector length in bits: the word count is checked and non-zero pad
        bits are refused (``ValueError``).  Without it all ``64 W`` bits of
        each vector count, pad bits included.
    parallel : bool, optional
        Force the parallel or serial kernel.

    Returns
    -------
    indices : ndarray of int64, shape (k,) or (q, k)
    distances : ndarray of int32, same shape
        Sorted by distance; equal distances by ascending index (the lower
        index wins a tie at the k-th place).

    Examples
    --------
    >>> import fastsdm
    >>> a = fastsdm.pack_bits([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1]])
    >>> fastsdm.knn_search(a[2], a, 3)
    (array([2, 1, 3]), array([0, 2, 2], dtype=int32))
    """
    Q, A, single, _ = _prepare(queries, addresses, n_bits)
    if A.shape[0] == 0:
        raise ValueError("knn_search needs at least one address to find neighbours among; "
                         "addresses has 0 rows")
    k = check_int(k, "k", 1, A.shape[0],
                  hint="k counts nearest addresses and cannot exceed their number")
    indices, distances = knn_arrays(Q, A, k, parallel)
    if single:
        return indices[0], distances[0]
    return indices, distances


# Shared with fastsdm._hyperplane, whose activation scans reuse the radius
# path's CSR builder and chunking (public names of this module for it).
mask_to_csr = _mask_to_csr
join_query_parts = _join_query_parts
location_chunks = _n_chunks

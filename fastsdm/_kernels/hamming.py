"""Hamming scans over packed addresses.

All scans share one structure.  The locations are cut into *tiles* and the
queries into *blocks*; a task is a (query block, chunk of tiles) pair, and
tasks write disjoint parts of the output, so the tasks of a call can run on
several threads without locks (each kernel claims its tasks with
``_intrinsics.next_task``; ``fastsdm._jit.run_tasks`` runs it on threads).
For each tile the driver computes the distances of one query to every
location of the tile (``acc``) and hands them to :func:`_emit`, which stores
them in the form the caller asked for (``mode``):

* ``MODE_DISTANCES``: the distances themselves, ``out_dist[q, i]``;
* ``MODE_RADIUS``: a bit per location, set when ``distance <= radius``, in
  ``out_mask[q, i // 64]`` (bit ``i % 64``); :func:`mask_counts` and
  :func:`mask_to_indices` turn the masks into CSR index lists, and
  :func:`join_location_blocks` joins those of consecutive location blocks;
* ``MODE_KNN``: a bounded max-heap of keys ``distance << shift | index`` per
  query and location chunk, merged by :func:`merge_heaps`; ``shift`` is the
  bit length of the largest location index (:func:`key_shift`), so the key
  fits an int64 for every memory that fits in RAM.

Two drivers compute ``acc``, each built per variant by a factory
(``make_scan_tiled(mode, simd)``, ``make_scan_rows(simd)``):

* the tiled scan, for batches: a tile of ``L`` locations is transposed
  ("bit-sliced") into ``T[word, location]`` once, then each query's distances
  are ``sum_j popcount(q[j] ^ T[j, :])`` over contiguous locations, four
  queries at a time, with no horizontal reductions.  The tile stays in cache
  while the whole query block passes over it, so the cost is popcount
  throughput, not memory bandwidth.  With ``simd == "avx512"`` the tile
  kernel is explicit 512-bit code (``_intrinsics.tile_distances``: 16 zmm
  accumulators held over all words; for radius masks of whole tiles,
  ``_intrinsics.tile_radius_masks`` compares them in registers instead of
  handing ``acc`` to the emit); otherwise portable loops that LLVM
  vectorises at the width its CPU tuning prefers.
* the row-wise scan, for a few queries: the transposition would cost more
  than it saves, so each location's words are reduced in place
  (``_intrinsics.row_distances`` reduces eight rows at once with shuffles);
  the scan then streams the address matrix once at memory bandwidth.
"""

import numpy as np

from .. import _jit
from .._intrinsics import (
    MASK_MAX_WORDS,
    le_mask64,
    next_task,
    popcount,
    prefetch,
    row_distances,
    tile_distances,
    tile_radius_masks,
    transpose8x8,
)
from .._jit import SIMD_VARIANTS, jit, named

MODE_DISTANCES = 0
MODE_RADIUS = 1
MODE_KNN = 2
MODES = (MODE_DISTANCES, MODE_RADIUS, MODE_KNN)
MODE_NAMES = {MODE_DISTANCES: "distances", MODE_RADIUS: "radius", MODE_KNN: "knn"}

#: The largest key: an empty heap slot.
KEY_EMPTY = np.iinfo(np.int64).max


def key_shift(n_locations: int, n_words: int) -> int:
    """Bits of a k-NN heap key below the distance: enough for every location index.

    A key ``distance << shift | index`` must stay below ``KEY_EMPTY``:
    ``64 * n_words`` (the largest distance) needs ``(64 * n_words).bit_length()``
    bits above ``shift``.  Raises ``ValueError`` when the two do not fit in 63
    bits (beyond any memory a machine holds: N * n > 2**56 bits).
    """
    shift = max(1, (n_locations - 1).bit_length())
    if shift + (64 * n_words).bit_length() > 63:
        raise ValueError(f"k-nearest search over {n_locations} locations of {64 * n_words} "
                         "bits exceeds the 63-bit sort keys of its heaps; use fewer locations "
                         "or shorter vectors")
    return shift


@jit(inline="always")
def empty_aligned(rows, cols, dtype):
    # A (rows, cols) array of a 64-bit dtype starting on a 64-byte cache
    # line, so that 8-word vector loads and stores never straddle two lines
    # (measured ~3% faster scans than numba's 32-byte-aligned arrays).
    buf = np.empty(rows * cols + 7, dtype)
    skip = ((64 - buf.ctypes.data % 64) % 64) // 8
    return buf[skip : skip + rows * cols].reshape((rows, cols))


@jit
def load_tile(A, start, count, T):
    # T[j, l] = A[start + l, j]; words past W (T has W8 >= W rows) and
    # locations past ``count`` are zero.  A and T are C-contiguous.  Whole
    # 8 x 8 blocks move by vector shuffles (~3x faster than word by word).
    W = A.shape[1]
    L = T.shape[1]
    a = A.reshape(-1)
    t = T.reshape(-1)
    full_l = count // 8 * 8
    full_w = W // 8 * 8
    for l0 in range(0, full_l, 8):
        for j0 in range(0, full_w, 8):
            transpose8x8(a, (start + l0) * W + j0, W, t, j0 * L + l0, L)
        for l in range(l0, l0 + 8):
            for j in range(full_w, W):
                T[j, l] = A[start + l, j]
    for l in range(full_l, count):
        for j in range(W):
            T[j, l] = A[start + l, j]
    if count < L:
        T[:W, count:] = 0
    T[W:] = 0


@jit(inline="always")
def _pass8(Qp, q, T, acc, j, first):
    # acc[r, l] (+)= sum over words j..j+7 of popcount(Qp[q + r] ^ location l),
    # r < 4.  One load of T[j:j+8, l] feeds 32 xor/popcount/add chains; the
    # first pass stores, so acc needs no zeroing.
    L = T.shape[1]
    w00 = Qp[q + 0, j + 0]
    w10 = Qp[q + 1, j + 0]
    w20 = Qp[q + 2, j + 0]
    w30 = Qp[q + 3, j + 0]
    w01 = Qp[q + 0, j + 1]
    w11 = Qp[q + 1, j + 1]
    w21 = Qp[q + 2, j + 1]
    w31 = Qp[q + 3, j + 1]
    w02 = Qp[q + 0, j + 2]
    w12 = Qp[q + 1, j + 2]
    w22 = Qp[q + 2, j + 2]
    w32 = Qp[q + 3, j + 2]
    w03 = Qp[q + 0, j + 3]
    w13 = Qp[q + 1, j + 3]
    w23 = Qp[q + 2, j + 3]
    w33 = Qp[q + 3, j + 3]
    w04 = Qp[q + 0, j + 4]
    w14 = Qp[q + 1, j + 4]
    w24 = Qp[q + 2, j + 4]
    w34 = Qp[q + 3, j + 4]
    w05 = Qp[q + 0, j + 5]
    w15 = Qp[q + 1, j + 5]
    w25 = Qp[q + 2, j + 5]
    w35 = Qp[q + 3, j + 5]
    w06 = Qp[q + 0, j + 6]
    w16 = Qp[q + 1, j + 6]
    w26 = Qp[q + 2, j + 6]
    w36 = Qp[q + 3, j + 6]
    w07 = Qp[q + 0, j + 7]
    w17 = Qp[q + 1, j + 7]
    w27 = Qp[q + 2, j + 7]
    w37 = Qp[q + 3, j + 7]
    t0 = T[j + 0]
    t1 = T[j + 1]
    t2 = T[j + 2]
    t3 = T[j + 3]
    t4 = T[j + 4]
    t5 = T[j + 5]
    t6 = T[j + 6]
    t7 = T[j + 7]
    if first:
        for l in range(L):
            x0 = t0[l]
            x1 = t1[l]
            x2 = t2[l]
            x3 = t3[l]
            x4 = t4[l]
            x5 = t5[l]
            x6 = t6[l]
            x7 = t7[l]
            acc[0, l] = (
                (popcount(w00 ^ x0) + popcount(w01 ^ x1))
                + (popcount(w02 ^ x2) + popcount(w03 ^ x3))
            ) + (
                (popcount(w04 ^ x4) + popcount(w05 ^ x5))
                + (popcount(w06 ^ x6) + popcount(w07 ^ x7))
            )
            acc[1, l] = (
                (popcount(w10 ^ x0) + popcount(w11 ^ x1))
                + (popcount(w12 ^ x2) + popcount(w13 ^ x3))
            ) + (
                (popcount(w14 ^ x4) + popcount(w15 ^ x5))
                + (popcount(w16 ^ x6) + popcount(w17 ^ x7))
            )
            acc[2, l] = (
                (popcount(w20 ^ x0) + popcount(w21 ^ x1))
                + (popcount(w22 ^ x2) + popcount(w23 ^ x3))
            ) + (
                (popcount(w24 ^ x4) + popcount(w25 ^ x5))
                + (popcount(w26 ^ x6) + popcount(w27 ^ x7))
            )
            acc[3, l] = (
                (popcount(w30 ^ x0) + popcount(w31 ^ x1))
                + (popcount(w32 ^ x2) + popcount(w33 ^ x3))
            ) + (
                (popcount(w34 ^ x4) + popcount(w35 ^ x5))
                + (popcount(w36 ^ x6) + popcount(w37 ^ x7))
            )
    else:
        for l in range(L):
            x0 = t0[l]
            x1 = t1[l]
            x2 = t2[l]
            x3 = t3[l]
            x4 = t4[l]
            x5 = t5[l]
            x6 = t6[l]
            x7 = t7[l]
            acc[0, l] += (
                (popcount(w00 ^ x0) + popcount(w01 ^ x1))
                + (popcount(w02 ^ x2) + popcount(w03 ^ x3))
            ) + (
                (popcount(w04 ^ x4) + popcount(w05 ^ x5))
                + (popcount(w06 ^ x6) + popcount(w07 ^ x7))
            )
            acc[1, l] += (
                (popcount(w10 ^ x0) + popcount(w11 ^ x1))
                + (popcount(w12 ^ x2) + popcount(w13 ^ x3))
            ) + (
                (popcount(w14 ^ x4) + popcount(w15 ^ x5))
                + (popcount(w16 ^ x6) + popcount(w17 ^ x7))
            )
            acc[2, l] += (
                (popcount(w20 ^ x0) + popcount(w21 ^ x1))
                + (popcount(w22 ^ x2) + popcount(w23 ^ x3))
            ) + (
                (popcount(w24 ^ x4) + popcount(w25 ^ x5))
                + (popcount(w26 ^ x6) + popcount(w27 ^ x7))
            )
            acc[3, l] += (
                (popcount(w30 ^ x0) + popcount(w31 ^ x1))
                + (popcount(w32 ^ x2) + popcount(w33 ^ x3))
            ) + (
                (popcount(w34 ^ x4) + popcount(w35 ^ x5))
                + (popcount(w36 ^ x6) + popcount(w37 ^ x7))
            )


@jit(inline="always")
def _tile_distances(Qp, q, T, acc):
    # acc[r, l] = popcount(Qp[q + r] ^ location l) for r < 4 and the
    # transposed tile T, eight words per pass.  Qp and T are zero-padded to a
    # multiple of 8 words (popcount(0 ^ 0) = 0) and Qp to a multiple of 4
    # queries.
    W8 = T.shape[0]
    _pass8(Qp, q, T, acc, 0, True)
    for j in range(8, W8, 8):
        _pass8(Qp, q, T, acc, j, False)


@jit(inline="always")
def _tile_distances_1(Qp, q, T, acc):
    # Vectors of 1, 2 or 4 words (n <= 256): all words in one pass, each
    # distance stored once; padding them to 8 words would multiply the work.
    L = T.shape[1]
    w00 = Qp[q + 0, 0]
    w10 = Qp[q + 1, 0]
    w20 = Qp[q + 2, 0]
    w30 = Qp[q + 3, 0]
    t0 = T[0]
    for l in range(L):
        x0 = t0[l]
        acc[0, l] = popcount(w00 ^ x0)
        acc[1, l] = popcount(w10 ^ x0)
        acc[2, l] = popcount(w20 ^ x0)
        acc[3, l] = popcount(w30 ^ x0)


@jit(inline="always")
def _tile_distances_2(Qp, q, T, acc):
    # See _tile_distances_1; 2 words.
    L = T.shape[1]
    w00 = Qp[q + 0, 0]
    w01 = Qp[q + 0, 1]
    w10 = Qp[q + 1, 0]
    w11 = Qp[q + 1, 1]
    w20 = Qp[q + 2, 0]
    w21 = Qp[q + 2, 1]
    w30 = Qp[q + 3, 0]
    w31 = Qp[q + 3, 1]
    t0 = T[0]
    t1 = T[1]
    for l in range(L):
        x0 = t0[l]
        x1 = t1[l]
        acc[0, l] = popcount(w00 ^ x0) + popcount(w01 ^ x1)
        acc[1, l] = popcount(w10 ^ x0) + popcount(w11 ^ x1)
        acc[2, l] = popcount(w20 ^ x0) + popcount(w21 ^ x1)
        acc[3, l] = popcount(w30 ^ x0) + popcount(w31 ^ x1)


@jit(inline="always")
def _tile_distances_4(Qp, q, T, acc):
    # See _tile_distances_1; 4 words.
    L = T.shape[1]
    w00 = Qp[q + 0, 0]
    w01 = Qp[q + 0, 1]
    w02 = Qp[q + 0, 2]
    w03 = Qp[q + 0, 3]
    w10 = Qp[q + 1, 0]
    w11 = Qp[q + 1, 1]
    w12 = Qp[q + 1, 2]
    w13 = Qp[q + 1, 3]
    w20 = Qp[q + 2, 0]
    w21 = Qp[q + 2, 1]
    w22 = Qp[q + 2, 2]
    w23 = Qp[q + 2, 3]
    w30 = Qp[q + 3, 0]
    w31 = Qp[q + 3, 1]
    w32 = Qp[q + 3, 2]
    w33 = Qp[q + 3, 3]
    t0 = T[0]
    t1 = T[1]
    t2 = T[2]
    t3 = T[3]
    for l in range(L):
        x0 = t0[l]
        x1 = t1[l]
        x2 = t2[l]
        x3 = t3[l]
        acc[0, l] = (popcount(w00 ^ x0) + popcount(w01 ^ x1)) + (
            popcount(w02 ^ x2) + popcount(w03 ^ x3)
        )
        acc[1, l] = (popcount(w10 ^ x0) + popcount(w11 ^ x1)) + (
            popcount(w12 ^ x2) + popcount(w13 ^ x3)
        )
        acc[2, l] = (popcount(w20 ^ x0) + popcount(w21 ^ x1)) + (
            popcount(w22 ^ x2) + popcount(w23 ^ x3)
        )
        acc[3, l] = (popcount(w30 ^ x0) + popcount(w31 ^ x1)) + (
            popcount(w32 ^ x2) + popcount(w33 ^ x3)
        )


@jit(inline="always")
def prefetch_next_tile(A, start, L, group, n_groups):
    # Part ``group`` of ``n_groups`` of the cache lines of locations
    # start .. start + L - 1, so that the next tile is in cache when it is
    # transposed: the query groups of a tile each prefetch a share.
    a = A.reshape(-1)
    first = start * A.shape[1]
    stop = min(a.shape[0], first + L * A.shape[1])
    share = (stop - first + 8 * n_groups - 1) // (8 * n_groups) * 8
    for i in range(first + group * share, min(stop, first + (group + 1) * share), 8):
        prefetch(a, i)


def _make_tile_group_distances(inline: bool):
    def tile_group_distances(Qp, q, T, acc):
        # acc[r, l] = distance of query q + r (r < 4) to location l of tile T.
        W8 = T.shape[0]
        if W8 == 1:
            _tile_distances_1(Qp, q, T, acc)
        elif W8 == 2:
            _tile_distances_2(Qp, q, T, acc)
        elif W8 == 4:
            _tile_distances_4(Qp, q, T, acc)
        else:
            _tile_distances(Qp, q, T, acc)

    name = "tile_group_distances" + ("_inline" if inline else "")
    return jit(named(tile_group_distances, name), inline="always" if inline else "never")


#: The portable code's tile distances (the explicit code's is
#: ``_intrinsics.tile_distances``).  For the fused SDM kernels (one per counter
#: dtype, serial and parallel): compiled once and called, which keeps their
#: build time down (inlining the four unrolled width variants into each
#: tripled a cold test run), at no measurable cost there (paired timings:
#: 0.98-1.00x).
tile_group_distances = _make_tile_group_distances(inline=False)
#: For the tiled scans, where inlining measured 1.4-7.5% faster than the
#: call (paired, interleaved timings of the 256 x 10^6 x 1024-bit radius scan).
_tile_group_distances_inline = _make_tile_group_distances(inline=True)


@jit
def tile_distances_call(Qp, q, T, acc):
    # The explicit tile kernel as a call, for the fused kernels' rare int64
    # path (partial tiles, vectors past MASK_MAX_WORDS): numba types and
    # lowers it once instead of once per fused kernel (LLVM may still inline
    # the machine code; the saving is numba's, measured in compile_budget).
    tile_distances(Qp, q, T, acc)


@jit
def _row_distances(Q, q, A, start, count, acc):
    # acc[l] = popcount(Q[q] ^ A[start + l]), reducing each row in place.
    W = A.shape[1]
    for l in range(count):
        d = 0
        for j in range(W):
            d += popcount(Q[q, j] ^ A[start + l, j])
        acc[l] = d


@jit
def _heap_push(heap, key):
    # Replace the largest key of a full max-heap by a smaller ``key``.
    _sift_down(heap, heap.shape[0], key)


@jit(inline="always")
def _sift_down(heap, k, key):
    # Put ``key`` at the root of the max-heap heap[:k] and sift it down.
    i = 0
    while True:
        child = 2 * i + 1
        if child >= k:
            break
        if child + 1 < k and heap[child + 1] > heap[child]:
            child += 1
        if heap[child] <= key:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = key


@jit(inline="always")
def within(acc, k, count, threshold):
    # Bits l < 64 set where acc[64 k + l] <= threshold, for locations before
    # count: acc holds a multiple of 64 entries and those past count are stale.
    m = le_mask64(acc, 64 * k, threshold)
    n = count - 64 * k
    if n < 64:
        m &= (np.uint64(1) << np.uint64(n)) - np.uint64(1)
    return m


@jit(inline="always")
def radius_masks(acc, count, radius, masks):
    # masks[r] = within(acc[r], ...) for the tile's four queries: the form of
    # _intrinsics.tile_radius_masks, from distances computed in ``acc``.
    for r in range(4):
        for k in range((count + 63) // 64):
            masks[r, k] = within(acc[r], k, count, radius)


@jit(inline="always")
def _emit(mode, q, start, count, acc, radius, out_dist, out_mask, heaps, chunk, shift):
    if mode == MODE_DISTANCES:
        # Through a 1-D view indexed from 0: the loop vectorises (an indexed
        # 2-D store does not), and unlike a slice assignment it compiles no
        # shape-mismatch error path (~2 s of compile time).
        dist = out_dist[q, start : start + count]
        for l in range(count):
            dist[l] = acc[l]
    elif mode == MODE_RADIUS:
        # start is a multiple of 64: each tile fills whole mask words.
        for k in range((count + 63) // 64):
            out_mask[q, start // 64 + k] = within(acc, k, count, radius)
    else:
        # Once the heap is full, few locations beat its worst key: a vector
        # compare finds them 64 at a time.
        heap = heaps[chunk, q]
        for k in range((count + 63) // 64):
            m = within(acc, k, count, heap[0] >> shift)
            while m != 0:
                low = m & (~m + np.uint64(1))
                l = 64 * k + popcount(low - np.uint64(1))
                m ^= low
                key = (acc[l] << shift) | (start + l)
                if key < heap[0]:
                    _heap_push(heap, key)


def make_scan_tiled(mode: int, simd: str):
    """The tiled scan for one emit ``mode`` and vector code ``simd``.

    ``mode`` and ``simd`` are compile-time constants of the closure: the
    emit branch folds away (measured ~2.5% faster than a run-time mode), and
    so does the choice between the explicit 512-bit tile kernel
    (``_intrinsics.tile_distances``) and the portable one.
    """
    explicit = simd == "avx512"
    # Radius masks compared in registers (tile_radius_masks): a constant too, so
    # the other modes' kernels do not compile that path.
    radius_in_registers = explicit and mode == MODE_RADIUS

    def scan_tiled(tasks, worker, Qp, nq, A, L, q_block, n_chunks, radius, out_dist, out_mask,
                   heaps, shift):
        # Qp holds nq queries padded to a multiple of 4 rows (and, for the
        # portable code, to 1, 2, 4 or a multiple of 8 words); q_block is a
        # multiple of 4.
        N = A.shape[0]
        W8 = Qp.shape[1]
        n_tiles = (N + L - 1) // L
        n_qblocks = (nq + q_block - 1) // q_block
        tiles_per_chunk = (n_tiles + n_chunks - 1) // n_chunks
        T = empty_aligned(W8, L, np.uint64)
        acc = empty_aligned(4, L, np.int64)
        masks = np.empty((4, L // 64), np.uint64)
        while True:
            # Chunk-major order: consecutive tasks cover all query blocks of a
            # chunk of tiles.
            task = next_task(tasks)
            if task < 0:
                break
            chunk = task // n_qblocks
            qb = task % n_qblocks
            q0 = qb * q_block
            q1 = min(nq, q0 + q_block)
            for tile in range(chunk * tiles_per_chunk,
                              min(n_tiles, (chunk + 1) * tiles_per_chunk)):
                start = tile * L
                count = min(L, N - start)
                load_tile(A, start, count, T)
                for q in range(q0, q1, 4):
                    prefetch_next_tile(A, start + L, L, (q - q0) // 4, (q1 - q0 + 3) // 4)
                    if radius_in_registers and count == L and W8 <= MASK_MAX_WORDS:
                        tile_radius_masks(Qp, q, T, radius, masks)
                        for r in range(min(4, q1 - q)):
                            row = out_mask[q + r]
                            for k in range(L // 64):
                                row[start // 64 + k] = masks[r, k]
                        continue
                    if explicit:
                        tile_distances(Qp, q, T, acc)
                    else:
                        _tile_group_distances_inline(Qp, q, T, acc)
                    for r in range(min(4, q1 - q)):
                        _emit(mode, q + r, start, count, acc[r], radius, out_dist, out_mask,
                              heaps, chunk, shift)

    return jit(named(scan_tiled, f"scan_tiled_{MODE_NAMES[mode]}_{simd}"))


def make_scan_rows(simd: str):
    """The row-wise scan (all modes, chosen at run time); tasks are location chunks."""
    explicit = simd == "avx512"

    def scan_rows(tasks, worker, Q, A, n_chunks, mode, radius, out_dist, out_mask, heaps, shift):
        nq = Q.shape[0]
        N = A.shape[0]
        n_blocks = (N + 63) // 64
        blocks_per_chunk = (n_blocks + n_chunks - 1) // n_chunks
        acc = np.empty(64, np.int64)
        while True:
            chunk = next_task(tasks)
            if chunk < 0:
                break
            for block in range(chunk * blocks_per_chunk,
                               min(n_blocks, (chunk + 1) * blocks_per_chunk)):
                start = block * 64
                count = min(64, N - start)
                for q in range(nq):
                    if explicit:
                        row_distances(Q, q, A, start, count, acc)
                    else:
                        _row_distances(Q, q, A, start, count, acc)
                    _emit(mode, q, start, count, acc, radius, out_dist, out_mask, heaps, chunk,
                          shift)

    return jit(named(scan_rows, f"scan_rows_{simd}"))


#: Tiled scans by (mode, vector code).  Building them compiles nothing: each
#: compiles (or loads from the cache) on first use.
SCAN_TILED = {(mode, simd): make_scan_tiled(mode, simd)
              for mode in MODES for simd in SIMD_VARIANTS}
#: Row-wise scans by vector code.
SCAN_ROWS = {simd: make_scan_rows(simd) for simd in SIMD_VARIANTS}


def scan_tiled(mode: int, simd: str | None = None):
    """The tiled scan kernel for ``mode`` (``simd`` defaults to ``_jit.SIMD``)."""
    return SCAN_TILED[mode, simd or _jit.SIMD]


def scan_rows(simd: str | None = None):
    """The row-wise scan kernel (``simd`` defaults to ``_jit.SIMD``)."""
    return SCAN_ROWS[simd or _jit.SIMD]


@jit
def mask_counts(tasks, worker, mask, counts):
    # Set bits of each row (tasks are rows).
    while True:
        q = next_task(tasks)
        if q < 0:
            break
        c = 0
        for k in range(mask.shape[1]):
            c += popcount(mask[q, k])
        counts[q] = c


@jit
def mask_to_indices(tasks, worker, mask, indptr, indices):
    # Set bits of each row in ascending order, into that row's CSR segment.
    while True:
        q = next_task(tasks)
        if q < 0:
            break
        pos = indptr[q]
        for k in range(mask.shape[1]):
            m = mask[q, k]
            while m != 0:
                low = m & (~m + np.uint64(1))
                indices[pos] = 64 * k + popcount(low - np.uint64(1))
                pos += 1
                m ^= low


@jit
def join_location_blocks(tasks, worker, staging, starts, counts, step, indptr, indices):
    # Per query (tasks are queries), the lists of consecutive blocks of
    # ``step`` locations one after the other: block b's list for query q is
    # staging[starts[b, q] : starts[b, q] + counts[b, q]], indices within the
    # block.
    while True:
        q = next_task(tasks)
        if q < 0:
            break
        pos = indptr[q]
        for b in range(starts.shape[0]):
            src = staging[starts[b, q] : starts[b, q] + counts[b, q]]
            dst = indices[pos : pos + counts[b, q]]
            first = b * step
            for i in range(src.size):
                dst[i] = first + src[i]
            pos += counts[b, q]


@jit
def merge_heaps(heaps, k, shift, out_idx, out_dist):
    # Smallest k keys of every query over all chunks, ascending: distance
    # first, then index (the lower index wins a tie).  Chunk 0's heap takes
    # the other chunks' keys, then is heap-sorted in place (numba's np.sort
    # would cost seconds of compile time for this).  Serial: microseconds
    # beside the scan, where a parallel twin would cost a second to compile.
    n_chunks = heaps.shape[0]
    mask = (1 << shift) - 1
    for q in range(heaps.shape[1]):
        heap = heaps[0, q]
        for c in range(1, n_chunks):
            for key in heaps[c, q]:
                if key < heap[0]:
                    _heap_push(heap, key)
        for end in range(k - 1, 0, -1):
            top = heap[0]
            _sift_down(heap, end, heap[end])
            heap[end] = top
        for r in range(k):
            out_idx[q, r] = heap[r] & mask
            out_dist[q, r] = heap[r] >> shift


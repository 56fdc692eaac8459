"""Activation kernels of Jaeckel's selected-coordinate design.

A location selects ``k`` coordinates and requires a value on each.  It is
stored as two packed rows in fastsdm's bit layout: ``M`` (bit ``j`` set when
coordinate ``j`` is selected) and ``V`` (the required values, zero outside
``M``).  An address ``x`` activates the location when it agrees on every
selected coordinate: ``(x ^ V) & M == 0`` in every word.

The kernels OR the disagreements ``(x_j ^ V_j) & M_j`` over the words, take
the popcount of the result (an ``int64``, zero exactly for an activated
location, which the Hamming scans' bit-mask helper compares with 0), and write
one activation bit per location into ``out_mask[q, i // 64]`` (bit
``i % 64``), the masks of the radius scan, from which
:func:`fastsdm.search.mask_to_csr` builds the same CSR lists.

* :func:`_activate_rows_impl` for one or a few queries: each location's
  words are reduced in place (the scan streams ``M`` and ``V`` once).
* :func:`_activate_tiled_impl` for batches: a tile of locations is transposed
  into ``TM[word, location]`` and ``TV[word, location]`` once, then four
  queries at a time pass over it in loops over contiguous locations that
  LLVM vectorises (the structure of the tiled Hamming scan).
* :func:`build_index` / :func:`_activate_index_impl`: an inverted index
  by coordinate.  ``postings[2 j + b]`` lists the locations that select
  coordinate ``j`` with required value ``b``; a query starts from all
  locations and clears those listed under ``(j, 1 - x_j)`` for every ``j``:
  ``N k / 2`` scattered bit clears per query, whatever ``n``.
"""

import numpy as np
from numba import prange

from .._intrinsics import popcount
from .._jit import jit, twins
from .hamming import empty_aligned, load_tile, within


def _activate_rows_impl(Q, M, V, n_chunks, out_mask):
    nq = Q.shape[0]
    N = M.shape[0]
    W = M.shape[1]
    n_blocks = (N + 63) // 64
    blocks_per_chunk = (n_blocks + n_chunks - 1) // n_chunks
    for chunk in prange(n_chunks):
        acc = np.empty(64, np.int64)
        for block in range(chunk * blocks_per_chunk,
                           min(n_blocks, (chunk + 1) * blocks_per_chunk)):
            start = block * 64
            count = min(64, N - start)
            for q in range(nq):
                for l in range(count):
                    d = np.uint64(0)
                    for j in range(W):
                        d |= (Q[q, j] ^ V[start + l, j]) & M[start + l, j]
                    acc[l] = popcount(d)
                out_mask[q, block] = within(acc, 0, count, 0)


activate_rows_serial, activate_rows_parallel = twins(_activate_rows_impl)


@jit(inline="always")
def _or4(Qp, q, TM, TV, acc, j):
    # acc[r, l] |= OR over words j..j+3 of (Qp[q + r] ^ TV[:, l]) & TM[:, l],
    # r < 4: four words per pass keep the partial results in registers.
    L = TM.shape[1]
    w00 = Qp[q + 0, j + 0]
    w01 = Qp[q + 0, j + 1]
    w02 = Qp[q + 0, j + 2]
    w03 = Qp[q + 0, j + 3]
    w10 = Qp[q + 1, j + 0]
    w11 = Qp[q + 1, j + 1]
    w12 = Qp[q + 1, j + 2]
    w13 = Qp[q + 1, j + 3]
    w20 = Qp[q + 2, j + 0]
    w21 = Qp[q + 2, j + 1]
    w22 = Qp[q + 2, j + 2]
    w23 = Qp[q + 2, j + 3]
    w30 = Qp[q + 3, j + 0]
    w31 = Qp[q + 3, j + 1]
    w32 = Qp[q + 3, j + 2]
    w33 = Qp[q + 3, j + 3]
    m0 = TM[j + 0]
    m1 = TM[j + 1]
    m2 = TM[j + 2]
    m3 = TM[j + 3]
    v0 = TV[j + 0]
    v1 = TV[j + 1]
    v2 = TV[j + 2]
    v3 = TV[j + 3]
    for l in range(L):
        a0 = m0[l]
        a1 = m1[l]
        a2 = m2[l]
        a3 = m3[l]
        b0 = v0[l]
        b1 = v1[l]
        b2 = v2[l]
        b3 = v3[l]
        r0 = ((w00 ^ b0) & a0) | ((w01 ^ b1) & a1) | ((w02 ^ b2) & a2) | ((w03 ^ b3) & a3)
        r1 = ((w10 ^ b0) & a0) | ((w11 ^ b1) & a1) | ((w12 ^ b2) & a2) | ((w13 ^ b3) & a3)
        r2 = ((w20 ^ b0) & a0) | ((w21 ^ b1) & a1) | ((w22 ^ b2) & a2) | ((w23 ^ b3) & a3)
        r3 = ((w30 ^ b0) & a0) | ((w31 ^ b1) & a1) | ((w32 ^ b2) & a2) | ((w33 ^ b3) & a3)
        acc[0, l] |= r0
        acc[1, l] |= r1
        acc[2, l] |= r2
        acc[3, l] |= r3


@jit(inline="always")
def _or1(Qp, q, TM, TV, acc, j):
    # One word of _or4, for the words after the last group of four.
    L = TM.shape[1]
    w0 = Qp[q + 0, j]
    w1 = Qp[q + 1, j]
    w2 = Qp[q + 2, j]
    w3 = Qp[q + 3, j]
    m = TM[j]
    v = TV[j]
    for l in range(L):
        a = m[l]
        b = v[l]
        acc[0, l] |= (w0 ^ b) & a
        acc[1, l] |= (w1 ^ b) & a
        acc[2, l] |= (w2 ^ b) & a
        acc[3, l] |= (w3 ^ b) & a


@jit(inline="always")
def _tile_disagreements(Qp, q, TM, TV, acc, counts):
    # counts[r, l] = popcount of the OR over words of the bits where query
    # q + r disagrees with location l on a selected coordinate (r < 4): zero
    # exactly when the location is activated.
    W = TM.shape[0]
    L = TM.shape[1]
    full = W // 4 * 4
    acc[:] = 0
    for j in range(0, full, 4):
        _or4(Qp, q, TM, TV, acc, j)
    for j in range(full, W):
        _or1(Qp, q, TM, TV, acc, j)
    for r in range(4):
        for l in range(L):
            counts[r, l] = popcount(acc[r, l])


def _activate_tiled_impl(Qp, nq, M, V, L, q_block, n_chunks, out_mask):
    # Qp: nq queries padded to a multiple of 4 rows (zeros); L is a multiple
    # of 64, so each tile fills whole mask words.
    N = M.shape[0]
    W = M.shape[1]
    n_tiles = (N + L - 1) // L
    n_qblocks = (nq + q_block - 1) // q_block
    tiles_per_chunk = (n_tiles + n_chunks - 1) // n_chunks
    for task in prange(n_qblocks * n_chunks):
        chunk = task // n_qblocks
        qb = task % n_qblocks
        q0 = qb * q_block
        q1 = min(nq, q0 + q_block)
        TM = empty_aligned(W, L, np.uint64)
        TV = empty_aligned(W, L, np.uint64)
        acc = empty_aligned(4, L, np.uint64)
        counts = empty_aligned(4, L, np.int64)
        for tile in range(chunk * tiles_per_chunk, min(n_tiles, (chunk + 1) * tiles_per_chunk)):
            start = tile * L
            count = min(L, N - start)
            load_tile(M, start, count, TM)
            load_tile(V, start, count, TV)
            for q in range(q0, q1, 4):
                _tile_disagreements(Qp, q, TM, TV, acc, counts)
                for r in range(min(4, q1 - q)):
                    for k in range((count + 63) // 64):
                        out_mask[q + r, start // 64 + k] = within(counts[r], k, count, 0)


activate_tiled_serial, activate_tiled_parallel = twins(_activate_tiled_impl)


@jit(inline="always")
def _coordinate(word, position):
    # The bit at ``position`` (0 = least significant) of word ``word`` holds
    # coordinate 64 word + 8 (position // 8) + 7 - position % 8: bytes are
    # little-endian in the word, bits big-endian in the byte (np.packbits).
    return 64 * word + 8 * (position >> 3) + 7 - (position & 7)


@jit
def build_index(M, V, n_bits, indptr, postings):
    # indptr has 2 n_bits + 1 entries; key 2 j + b lists, ascending, the
    # locations selecting coordinate j with required value b.
    N = M.shape[0]
    W = M.shape[1]
    counts = np.zeros(2 * n_bits + 1, np.int64)
    for i in range(N):
        for w in range(W):
            m = M[i, w]
            while m != 0:
                low = m & (~m + np.uint64(1))
                p = popcount(low - np.uint64(1))
                b = 1 if (V[i, w] & low) != 0 else 0
                counts[2 * _coordinate(w, p) + b + 1] += 1
                m ^= low
    for key in range(2 * n_bits):
        counts[key + 1] += counts[key]
    # Element by element, here and below: a slice assigned from an array
    # compiles numba's shape-mismatch message (~1.5 s CPU per process).
    for key in range(2 * n_bits + 1):
        indptr[key] = counts[key]
    fill = counts[:-1].copy()
    for i in range(N):
        for w in range(W):
            m = M[i, w]
            while m != 0:
                low = m & (~m + np.uint64(1))
                p = popcount(low - np.uint64(1))
                b = 1 if (V[i, w] & low) != 0 else 0
                key = 2 * _coordinate(w, p) + b
                postings[fill[key]] = i
                fill[key] += 1
                m ^= low


def _activate_index_impl(Q, n_bits, n_locations, indptr, postings, out_mask):
    # Start from every location and clear those that require the other value
    # on some coordinate.
    n_mask = out_mask.shape[1]
    tail = n_locations - 64 * (n_mask - 1)
    last = ~np.uint64(0) if tail == 64 else (np.uint64(1) << np.uint64(tail)) - np.uint64(1)
    for q in prange(Q.shape[0]):
        row = out_mask[q]
        row[:] = ~np.uint64(0)
        row[n_mask - 1] = last
        for j in range(n_bits):
            word = Q[q, j >> 6]
            shift = np.uint64(8 * ((j >> 3) & 7) + 7 - (j & 7))
            bit = (word >> shift) & np.uint64(1)
            key = 2 * j + 1 - np.int64(bit)
            for t in range(indptr[key], indptr[key + 1]):
                i = postings[t]
                row[i >> 6] &= ~(np.uint64(1) << np.uint64(i & 63))


activate_index_serial, activate_index_parallel = twins(_activate_index_impl)


# -- activation by the design's keys (batches) ---------------------------------------
#
# ``E[i, t] = 2 c + b`` for the t-th coordinate ``c`` that location i selects,
# with required value ``b``; ``T[2 j + b, w]`` has bit ``r`` set when query
# ``64 w + r`` has value ``b`` on coordinate ``j``.  The queries that activate
# location i are then the AND of its k rows of T: k word operations per
# location and 64 queries, instead of 2 W per location and query in the
# masked scan.  The result is the transposed activation: ``hits[i, w]``, the
# bits of the queries ``64 w + r`` that activate location ``i``.


def _activate_keys_impl(T, valid, E, n_chunks, hits):
    N = E.shape[0]
    k = E.shape[1]
    Qw = T.shape[1]
    head = min(k, 4)
    per_chunk = (N + n_chunks - 1) // n_chunks
    for chunk in prange(n_chunks):
        acc = np.empty(Qw, np.uint64)
        for i in range(chunk * per_chunk, min(N, (chunk + 1) * per_chunk)):
            for w in range(Qw):
                acc[w] = valid[w]
            # A key at a time over all query words (contiguous in T's row);
            # the first few without a branch, then stop once no query survives.
            for t in range(k):
                row = T[E[i, t]]
                alive = np.uint64(0)
                for w in range(Qw):
                    a = acc[w] & row[w]
                    acc[w] = a
                    alive |= a
                if t >= head - 1 and alive == 0:
                    break
            for w in range(Qw):
                hits[i, w] = acc[w]


activate_keys_serial, activate_keys_parallel = twins(_activate_keys_impl)


@jit
def hits_count(hits, indptr):
    # indptr (zeros, q + 1 entries) <- the CSR row pointers of the transposed hits.
    N = hits.shape[0]
    Qw = hits.shape[1]
    for i in range(N):
        for w in range(Qw):
            m = hits[i, w]
            while m != 0:
                low = m & (~m + np.uint64(1))
                indptr[64 * w + popcount(low - np.uint64(1)) + 1] += 1
                m ^= low
    for q in range(indptr.size - 1):
        indptr[q + 1] += indptr[q]


@jit
def hits_fill(hits, indptr, indices):
    # Locations in ascending order within each query (i runs upwards).
    N = hits.shape[0]
    Qw = hits.shape[1]
    fill = indptr[:-1].copy()
    for i in range(N):
        for w in range(Qw):
            m = hits[i, w]
            while m != 0:
                low = m & (~m + np.uint64(1))
                q = 64 * w + popcount(low - np.uint64(1))
                indices[fill[q]] = i
                fill[q] += 1
                m ^= low


def _activate_keys_rows_impl(X, E, n_chunks, out_mask):
    # One or a few queries: X[q, 2 j + b] = 1 when query q has x_j = b (a
    # byte table in L1).  Location i is activated when X[q, E[i, t]] = 1 for
    # every t: the first four keys without a branch, then the rest until one
    # fails.  Bits go to the radius scan's masks, 64 locations per word; a
    # block's keys stay in L1 while every query passes over them.
    nq = X.shape[0]
    N = E.shape[0]
    k = E.shape[1]
    n_blocks = (N + 63) // 64
    blocks_per_chunk = (n_blocks + n_chunks - 1) // n_chunks
    for chunk in prange(n_chunks):
        for block in range(chunk * blocks_per_chunk,
                           min(n_blocks, (chunk + 1) * blocks_per_chunk)):
            start = block * 64
            count = min(64, N - start)
            for q in range(nq):
                x = X[q]
                word = np.uint64(0)
                for l in range(count):
                    i = start + l
                    if k >= 4:
                        ok = x[E[i, 0]] & x[E[i, 1]] & x[E[i, 2]] & x[E[i, 3]]
                        t0 = 4
                    else:
                        ok = np.uint8(1)
                        for t in range(k):
                            ok &= x[E[i, t]]
                        t0 = k
                    if ok != 0:
                        for t in range(t0, k):
                            if x[E[i, t]] == 0:
                                ok = np.uint8(0)
                                break
                    word |= np.uint64(ok) << np.uint64(l)
                out_mask[q, block] = word


activate_keys_rows_serial, activate_keys_rows_parallel = twins(_activate_keys_rows_impl)


@jit
def location_keys(M, V, keys):
    # keys[i, t] = 2 j + b for the t-th selected coordinate j of location i
    # (in the order of its bits in the words), b its required value.  Every
    # row of M should have exactly k = keys.shape[1] bits set (the caller
    # checks); a row that does not is never written past: the first such
    # row is returned (-1: none).
    N = M.shape[0]
    W = M.shape[1]
    k = keys.shape[1]
    for i in range(N):
        t = 0
        for w in range(W):
            m = M[i, w]
            while m != 0 and t < k:
                low = m & (~m + np.uint64(1))
                b = 1 if (V[i, w] & low) != 0 else 0
                keys[i, t] = 2 * _coordinate(w, popcount(low - np.uint64(1))) + b
                t += 1
                m ^= low
            if m != 0:
                return i
        if t != k:
            return i
    return -1

"""Selection and accumulation kernels of the continuous SDM.

The wrapper computes similarities ``S = Q @ A[start:stop].T`` of a block of
locations with BLAS in float32 and hands them to the selection kernels here.
BLAS rounding depends on the batch shape, the blocking and the library, so a
decision taken on ``S`` alone could differ between a batch and the same
queries one by one.  Every decision is therefore *exact*: a similarity
farther than ``margin`` (a bound on the BLAS error) from the threshold, or
from the current k-th best, is decided by ``S``; the few within the margin
are decided by :func:`_cosine`, a fixed-order float64 cosine that does not
depend on anything but the two vectors.

Selection is parallel over queries (each query owns its output slice).
Writes are parallel over *location ranges*: every thread applies the whole
batch, in batch order, to the rows it owns, so no two threads touch the same
row and each row receives its additions in batch order: a batch is
bit-identical to the same writes one by one, serial or parallel.  Reads are
parallel over queries and sum each query's locations in ascending order.
"""

import numpy as np
from numba import prange

from .._jit import jit, twins


@jit(inline="always")
def _cosine(Q, q, A, i):
    # float32 products are exact in float64 and the sums run in a fixed
    # order, so the value is reproducible; for x == a the three sums are equal
    # and sqrt(s * s) == s makes the cosine exactly 1 (radius 0 finds it).
    x = Q[q]
    a = A[i]
    xa = 0.0
    xx = 0.0
    aa = 0.0
    for j in range(x.shape[0]):
        xj = np.float64(x[j])
        aj = np.float64(a[j])
        xa += xj * aj
        xx += xj * xj
        aa += aj * aj
    c = xa / np.sqrt(xx * aa)
    return min(max(c, -1.0), 1.0)


def _select_impl(S, Q, A, start, lo, hi, threshold):
    # Locations ``start + l`` with cosine >= threshold, as CSR over the rows
    # of S.  lo and hi are float32 bounds (rounded outwards) of the margin
    # around the threshold.  Counting first sizes the output exactly; its
    # first loop is branch-free and vectorises, and only a row with
    # similarities inside the margin needs the second.  One call holds both
    # parallel loops: each switch between BLAS's and numba's thread pools
    # costs milliseconds of spinning threads.
    nq, L = S.shape
    counts = np.empty(nq, dtype=np.int64)
    for q in prange(nq):
        row = S[q]
        sure = 0
        maybe = 0
        for l in range(L):
            sure += row[l] >= hi
            maybe += row[l] >= lo
        if maybe > sure:
            for l in range(L):
                s = row[l]
                if s >= lo and s < hi and _cosine(Q, q, A, start + l) >= threshold:
                    sure += 1
        counts[q] = sure
    indptr = np.zeros(nq + 1, dtype=np.int64)
    for q in range(nq):
        indptr[q + 1] = indptr[q] + counts[q]
    out = np.empty(indptr[nq], dtype=np.int64)
    for q in prange(nq):
        row = S[q]
        pos = indptr[q]
        for l in range(L):
            s = row[l]
            if s >= lo and (s >= hi or _cosine(Q, q, A, start + l) >= threshold):
                out[pos] = start + l
                pos += 1
    return indptr, out


_select_serial, _select_parallel = twins(_select_impl)


def _merge_impl(block_indptr, block_start, flat, indptr, out):
    # Query q's indices are its segments of blocks 0, 1, ... in turn: blocks
    # cover ascending location ranges, so the result stays ascending.
    for q in prange(indptr.shape[0] - 1):
        pos = indptr[q]
        for b in range(block_indptr.shape[0]):
            base = block_start[b]
            for t in range(base + block_indptr[b, q], base + block_indptr[b, q + 1]):
                out[pos] = flat[t]
                pos += 1


_merge_serial, _merge_parallel = twins(_merge_impl)


@jit(inline="always")
def _worse(c1, i1, c2, i2):
    # The k-nearest order: larger cosine first, ties by lower index.
    return c1 < c2 or (c1 == c2 and i1 > i2)


@jit(inline="always")
def _swap(hc, hi, a, b):
    hc[a], hc[b] = hc[b], hc[a]
    hi[a], hi[b] = hi[b], hi[a]


def _knn_impl(S, Q, A, start, margin, heap_cos, heap_idx, fill):
    # One heap per query whose root is its worst kept location.  The heaps
    # hold exact cosines; a similarity more than ``margin`` below the root's
    # cosine cannot beat it and is skipped without computing its cosine.
    k = heap_cos.shape[1]
    for q in prange(S.shape[0]):
        row = S[q]
        hc = heap_cos[q]
        hi = heap_idx[q]
        n = fill[q]
        for l in range(row.shape[0]):
            if n == k and row[l] < hc[0] - margin:
                continue
            i = start + l
            c = _cosine(Q, q, A, i)
            if n < k:
                hc[n] = c
                hi[n] = i
                pos = n
                n += 1
                while pos > 0:
                    parent = (pos - 1) // 2
                    if not _worse(hc[pos], hi[pos], hc[parent], hi[parent]):
                        break
                    _swap(hc, hi, pos, parent)
                    pos = parent
            elif _worse(hc[0], hi[0], c, i):
                hc[0] = c
                hi[0] = i
                pos = 0
                while True:
                    child = 2 * pos + 1
                    if child >= k:
                        break
                    if child + 1 < k and _worse(hc[child + 1], hi[child + 1], hc[child],
                                                hi[child]):
                        child += 1
                    if not _worse(hc[child], hi[child], hc[pos], hi[pos]):
                        break
                    _swap(hc, hi, pos, child)
                    pos = child
        fill[q] = n


_knn_serial, _knn_parallel = twins(_knn_impl)


def _write_impl(indptr, indices, deltas, acc, bounds):
    nq = indptr.shape[0] - 1
    for part in prange(bounds.shape[0] - 1):
        first = bounds[part]
        stop = bounds[part + 1]
        for q in range(nq):
            seg = indices[indptr[q] : indptr[q + 1]]
            a = np.searchsorted(seg, first)
            b = np.searchsorted(seg, stop)
            delta = deltas[q]
            for t in range(a, b):
                row = acc[seg[t]]
                for j in range(row.shape[0]):
                    row[j] += delta[j]


_write_serial, _write_parallel = twins(_write_impl)


def _read_impl(indptr, indices, acc, sums):
    for q in prange(indptr.shape[0] - 1):
        s = sums[q]
        s[:] = 0.0
        for t in range(indptr[q], indptr[q + 1]):
            row = acc[indices[t]]
            for j in range(s.shape[0]):
                s[j] += row[j]


_read_serial, _read_parallel = twins(_read_impl)

"""Selection and accumulation kernels of the continuous SDM.

Every activation decision is *exact*: location ``i`` is activated by query
``x`` when :func:`_cosine`, a fixed-order float64 cosine of the two float32
vectors, reaches the threshold.  That value depends on nothing but the two
vectors, so a decision does not depend on the batch, the blocking, the thread
count or the BLAS library.  Computing it for every pair would be slow; the
scans compute a cheaper similarity with a rigorous bound on its distance to
the exact cosine, decide every pair farther than the bound from the threshold
by it, and compute the exact cosine only for the few that are not.

Three scans produce the activation lists (CSR, ascending per query):

* BLAS (:func:`_select_impl`): the wrapper computes ``S = Q @ A[start:stop].T``
  in float32 with NumPy for a block of locations; pairs within ``margin`` (a
  bound on any float32 dot product's rounding error) of the threshold are
  decided by :func:`_cosine`.  The fallback on CPUs without AVX-512 VNNI, and
  the k-nearest scan (:func:`_knn_impl`).
* int8 (:func:`_scan_int8_chunk`), CPUs with AVX-512 VNNI: tiles of int8
  addresses, either the memory's int8 copy (:func:`quantize_tiles`, made
  once: a quarter of the bytes of the float32 addresses; small batches) or
  each tile quantised as the scan reaches it (large batches, whose rechecks
  then find the tile's float32 rows in cache); every query block passes
  over a tile while it is in cache;
  :func:`int8_masks` computes 4 queries x 32 locations of exact integer dot
  products with ``vpdpbusd`` (64 multiply-adds per instruction, four times the
  float32 FMA rate) and compares them with per-query integer bounds.  The
  quantisation error is bounded per tile and per query (see
  :func:`_int8_bounds`); the pairs inside the bound are decided by a float32
  dot product (:func:`dot32`) with the BLAS margin, and the rare ones inside
  that by :func:`_cosine`.  No similarity matrix is ever stored, and no BLAS
  call interrupts the scan (no hand-over between BLAS's and numba's threads).
* rows (:func:`_scan_rows_chunk`), a few queries on CPUs without VNNI (or
  without room for the int8 copy): each address row is read once from memory
  and its float32 dot products with the queries (:func:`dots4`: four queries
  per pass over a row) are decided as above;
  the cost is one pass over the address matrix (the floor of a
  matrix-vector product).

The int8 and rows scans (driver :func:`scan`) write ``(query, location)``
pairs into a region of a shared buffer per chunk of locations; the wrapper
runs the chunks on several threads and sorts the pairs into CSR.

Selection is parallel over queries (BLAS) or location chunks (the others).
Writes are parallel over *location ranges*: every thread applies the whole
batch, in batch order, to the rows it owns, so no two threads touch the same
row and each row receives its additions in batch order: a batch is
bit-identical to the same writes one by one, serial or parallel.  Reads are
parallel over queries and sum each query's locations in ascending order.
"""

import functools
import math

import numpy as np
from llvmlite import ir
from numba import prange
from numba.core import cgutils, config, types
from numba.extending import intrinsic

from .._intrinsics import popcount, prefetch
from .._jit import jit, twins

#: float32 or int32 lanes of one 512-bit vector.
LANES = 16
#: One int8 block: 4 queries x 2 panels of 16 locations.
BLOCK_QUERIES = 4
BLOCK_LOCATIONS = 32
#: Initial dot product of a padding location (its words are zero): below
#: every lower bound (they are clamped to >= PAD_INIT // 2).
PAD_INIT = -(1 << 30)
#: Up to this dim the int8 dot products, ``|D| <= 127 * 127 * dim < 2**29``,
#: and the accumulators, ``< 2**30``, stay clear of the bounds' clamps and of
#: int32 overflow.
INT8_MAX_DIM = 16384
INT32_MAX = np.iinfo(np.int32).max
#: Rows of the address matrix prefetched ahead of the one being read or updated.
PREFETCH_AHEAD = 4


# -- vector primitives -------------------------------------------------------
#
# Each is an LLVM intrinsic on 16-lane vectors (``_dot32``, ...) and a plain
# Python function of the same meaning (``_dot32_py``, ...) that runs under
# NUMBA_DISABLE_JIT=1, with explicit bounds checks.  The intrinsics read raw
# pointers: callers keep every index in bounds (the Python forms raise
# IndexError where they would not be).  Calling an intrinsic directly emits
# its code in place; an @overload wrapper is a separate function called
# through a pointer (~60 cycles per call, measured) unless numba inlines it
# in its own IR, which costs seconds of compilation.


def _need(array, stop):
    if stop > array.shape[0]:
        raise IndexError(f"vector access up to {stop} beyond an array of {array.shape[0]}")


def _dot32_py(x, x_off, a, a_off, n):
    """float32 dot product of ``x[x_off:x_off + n]`` and ``a[a_off:a_off + n]``.

    ``n`` is a multiple of 16.  Under the JIT: four accumulators of 16
    float32 lanes, then the lanes summed pairwise (a fixed order per build;
    callers allow for any order's rounding error).
    """
    if n % LANES:
        raise ValueError("dot32 takes a multiple of 16 elements")
    _need(x, x_off + n)
    _need(a, a_off + n)
    return np.float32(np.dot(x[x_off : x_off + n].astype(np.float32),
                             a[a_off : a_off + n].astype(np.float32)))


def _dots4_py(u, u_off, stride, a, a_off, n):
    """Four float32 dot products with one vector: ``u[u_off + k * stride:][:n] . a[a_off:][:n]``.

    ``n`` is a multiple of 16.  Under the JIT: each 16-lane chunk of ``a`` is
    loaded once for the four queries (four independent accumulators), then
    each accumulator's lanes are summed pairwise.
    """
    if n % LANES:
        raise ValueError("dots4 takes a multiple of 16 elements")
    _need(u, u_off + 3 * stride + n)
    _need(a, a_off + n)
    row = a[a_off : a_off + n].astype(np.float32)
    return tuple(np.float32(np.dot(u[u_off + k * stride : u_off + k * stride + n]
                                   .astype(np.float32), row)) for k in range(4))


def _quantize_row_py(a, a_off, n, inv, scale, T, t_off, sums, s_off):
    """Quantise ``a[a_off:a_off + n]`` (float32, ``n`` a multiple of 16) to int8.

    ``q = roundeven(a * inv)`` (float32 product), stored four values per
    int32 word (little-endian) at ``T[t_off + 32 * w]`` for word ``w``: one
    lane of a 32-location block (see :func:`_int8_masks_py`).
    ``sums[s_off:s_off + 3]`` receive the sum of ``q``, the sum of
    ``(a - scale * q) ** 2`` (the squared quantisation error, ``scale * q``
    with one rounding) and the sum of ``a ** 2``.  The caller guarantees
    ``|a * inv| <= 127`` (rounded).
    """
    if n % LANES:
        raise ValueError("quantize_row takes a multiple of 16 elements")
    _need(a, a_off + n)
    if n:
        _need(T, t_off + 32 * (n // 4 - 1) + 1)
    _need(sums, s_off + 3)
    row = a[a_off : a_off + n].astype(np.float32)
    q = np.rint(row * np.float32(inv)).astype(np.int8)
    T[t_off : t_off + 32 * (n // 4) : 32] = q.view("<i4")
    row64 = row.astype(np.float64)
    err = row64 - np.float64(np.float32(scale)) * q
    sums[s_off] = q.sum(dtype=np.int64)
    sums[s_off + 1] = (err * err).sum()
    sums[s_off + 2] = (row64 * row64).sum()


def _int8_masks_py(T, t_off, n4, X, x_off, init, i_off, lo, hi, q_off, maybe, sure,
                   n_queries=BLOCK_QUERIES):
    """Threshold masks of 4 queries (or 1) x 32 locations from exact int8 dot products.

    ``T[t_off:]`` holds a block of 32 locations: word ``T[t_off + 32 * w + l]``
    packs the int8 values of dims ``4w:4w + 4`` of location ``l``;
    ``X[x_off + k * n4 + w]`` packs query ``k``'s values plus 128 (uint8).
    With ``D[k, l] = init[i_off + l] + sum(u8(X) * s8(T))``, bit ``l`` of
    ``maybe[k]`` is set where ``D >= lo[q_off + k]`` and of ``sure[k]`` where
    ``D >= hi[q_off + k]``.  Under the JIT: AVX-512 VNNI ``vpdpbusd``, two
    16-lane accumulators per query (four for one query); the ``_stream``
    forms also prefetch the next block (the scan of the memory's int8 copy).
    """
    _need(T, t_off + 32 * n4)
    _need(X, x_off + n_queries * n4)
    _need(init, i_off + 32)
    _need(lo, q_off + n_queries)
    _need(hi, q_off + n_queries)
    _need(maybe, n_queries)
    _need(sure, n_queries)
    t = T[t_off : t_off + 32 * n4].view(np.int8).reshape(n4, 2, 16, 4).astype(np.int64)
    x = X[x_off : x_off + n_queries * n4].view(np.uint8).reshape(n_queries, n4, 4)
    D = (np.einsum("kwb,wpib->kpi", x.astype(np.int64), t).reshape(n_queries, 32)
         + init[i_off : i_off + 32])
    weights = np.int64(1) << np.arange(32, dtype=np.int64)
    for k in range(n_queries):
        maybe[k] = ((D[k] >= lo[q_off + k]) * weights).sum()
        sure[k] = ((D[k] >= hi[q_off + k]) * weights).sum()


def _int8_mask_py(T, t_off, n4, X, x_off, init, i_off, lo, hi, q_off, maybe, sure):
    """:func:`_int8_masks_py` of one query (``maybe[0]``, ``sure[0]``)."""
    _int8_masks_py(T, t_off, n4, X, x_off, init, i_off, lo, hi, q_off, maybe, sure, 1)


def _array_pointer(context, builder, aryty, ary, offset, elem_type):
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.bitcast(builder.gep(data, [offset]), elem_type.as_pointer())


def _splat(builder, value, vec_t):
    i32 = ir.IntType(32)
    vec = builder.insert_element(ir.Constant(vec_t, ir.Undefined), value, ir.Constant(i32, 0))
    return builder.shuffle_vector(vec, ir.Constant(vec_t, ir.Undefined),
                                  ir.Constant(ir.VectorType(i32, vec_t.count), [0] * vec_t.count))


def _tree_sum(builder, vec):
    # Sum of a float vector's lanes, halves added pairwise: a fixed order, and
    # log2(lanes) dependent adds where llvm.vector.reduce.fadd (in order,
    # without reassociation) chains all of them.
    n = vec.type.count
    i32 = ir.IntType(32)
    while n > 1:
        n //= 2
        lo = builder.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(i32, n), list(range(n))))
        hi = builder.shuffle_vector(vec, vec,
                                    ir.Constant(ir.VectorType(i32, n), list(range(n, 2 * n))))
        vec = builder.fadd(lo, hi)
    return builder.extract_element(vec, ir.Constant(i32, 0))


def _declare(builder, name, ret, args):
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args), name)


def _is_array(ty, dtype):
    return isinstance(ty, types.Array) and ty.ndim == 1 and ty.layout == "C" and ty.dtype == dtype


def _indices(context, builder, sig, args, positions):
    return [context.cast(builder, args[k], sig.args[k], types.int64) for k in positions]


@intrinsic
def _dot32(typingctx, x, x_off, a, a_off, n):
    if not (_is_array(x, types.float32) and _is_array(a, types.float32)):
        return None
    sig = types.float32(x, x_off, a, a_off, n)

    def codegen(context, builder, signature, args):
        f32, i64 = ir.FloatType(), ir.IntType(64)
        vec_t = ir.VectorType(f32, LANES)
        x_off_v, a_off_v, n_v = _indices(context, builder, signature, args, (1, 3, 4))
        muladd = _declare(builder, "llvm.fmuladd.v16f32", vec_t, [vec_t] * 3)
        acc = [cgutils.alloca_once_value(builder, ir.Constant(vec_t, None)) for _ in range(4)]

        def step(chunk, slot):
            k = builder.mul(chunk, ir.Constant(i64, LANES))
            xv = builder.load(_array_pointer(context, builder, signature.args[0], args[0],
                                             builder.add(x_off_v, k), vec_t), align=4)
            av = builder.load(_array_pointer(context, builder, signature.args[2], args[2],
                                             builder.add(a_off_v, k), vec_t), align=4)
            builder.store(builder.call(muladd, [xv, av, builder.load(acc[slot])]), acc[slot])

        # Four independent accumulators (one multiply-add chain each would
        # wait on its latency), then the chunks left over into the first.
        chunks = builder.udiv(n_v, ir.Constant(i64, LANES))
        groups = builder.udiv(chunks, ir.Constant(i64, 4))
        with cgutils.for_range(builder, groups) as loop:
            for slot in range(4):
                step(builder.add(builder.mul(loop.index, ir.Constant(i64, 4)),
                                 ir.Constant(i64, slot)), slot)
        done = builder.mul(groups, ir.Constant(i64, 4))
        with cgutils.for_range(builder, builder.sub(chunks, done)) as loop:
            step(builder.add(done, loop.index), 0)
        total = builder.fadd(builder.fadd(builder.load(acc[0]), builder.load(acc[1])),
                             builder.fadd(builder.load(acc[2]), builder.load(acc[3])))
        return _tree_sum(builder, total)

    return sig, codegen




@intrinsic
def _dots4(typingctx, u, u_off, stride, a, a_off, n):
    if not (_is_array(u, types.float32) and _is_array(a, types.float32)):
        return None
    sig = types.UniTuple(types.float32, 4)(u, u_off, stride, a, a_off, n)

    def codegen(context, builder, signature, args):
        f32, i64 = ir.FloatType(), ir.IntType(64)
        vec_t = ir.VectorType(f32, LANES)
        u_off_v, stride_v, a_off_v, n_v = _indices(context, builder, signature, args,
                                                   (1, 2, 4, 5))
        muladd = _declare(builder, "llvm.fmuladd.v16f32", vec_t, [vec_t] * 3)
        acc = [cgutils.alloca_once_value(builder, ir.Constant(vec_t, None)) for _ in range(4)]
        chunks = builder.udiv(n_v, ir.Constant(i64, LANES))
        with cgutils.for_range(builder, chunks) as loop:
            j = builder.mul(loop.index, ir.Constant(i64, LANES))
            av = builder.load(_array_pointer(context, builder, signature.args[3], args[3],
                                             builder.add(a_off_v, j), vec_t), align=4)
            for k in range(4):
                at = builder.add(builder.add(u_off_v, builder.mul(stride_v, ir.Constant(i64, k))),
                                 j)
                uv = builder.load(_array_pointer(context, builder, signature.args[0], args[0],
                                                 at, vec_t), align=4)
                builder.store(builder.call(muladd, [uv, av, builder.load(acc[k])]), acc[k])
        sums = [_tree_sum(builder, builder.load(acc[k])) for k in range(4)]
        return context.make_tuple(builder, signature.return_type, sums)

    return sig, codegen


@intrinsic
def _quantize_row(typingctx, a, a_off, n, inv, scale, T, t_off, sums, s_off):
    if not (_is_array(a, types.float32) and _is_array(T, types.int32)
            and _is_array(sums, types.float64)):
        return None
    sig = types.void(a, a_off, n, inv, scale, T, t_off, sums, s_off)

    def codegen(context, builder, signature, args):
        i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
        f32, f64 = ir.FloatType(), ir.DoubleType()
        fv, iv = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES)
        a_off_v, n_v, t_off_v, s_off_v = _indices(context, builder, signature, args,
                                                  (1, 2, 6, 8))
        inv_v = _splat(builder, context.cast(builder, args[3], signature.args[3], types.float32),
                       fv)
        scale = context.cast(builder, args[4], signature.args[4], types.float32)
        neg_scale_v = _splat(builder, builder.fneg(scale), fv)
        roundeven = _declare(builder, "llvm.roundeven.v16f32", fv, [fv])
        fma = _declare(builder, "llvm.fma.v16f32", fv, [fv] * 3)
        muladd = _declare(builder, "llvm.fmuladd.v16f32", fv, [fv] * 3)
        isum = _declare(builder, "llvm.vector.reduce.add.v16i32", i32, [iv])
        q_sum = cgutils.alloca_once_value(builder, ir.Constant(iv, None))
        e2_sum = cgutils.alloca_once_value(builder, ir.Constant(fv, None))
        a2_sum = cgutils.alloca_once_value(builder, ir.Constant(fv, None))
        chunks = builder.udiv(n_v, ir.Constant(i64, LANES))
        with cgutils.for_range(builder, chunks) as loop:
            k = loop.index
            av = builder.load(_array_pointer(
                context, builder, signature.args[0], args[0],
                builder.add(a_off_v, builder.mul(k, ir.Constant(i64, LANES))), fv), align=4)
            rounded = builder.call(roundeven, [builder.fmul(av, inv_v)])
            qv = builder.fptosi(rounded, iv)
            builder.store(builder.add(builder.load(q_sum), qv), q_sum)
            err = builder.call(fma, [rounded, neg_scale_v, av])
            builder.store(builder.call(muladd, [err, err, builder.load(e2_sum)]), e2_sum)
            builder.store(builder.call(muladd, [av, av, builder.load(a2_sum)]), a2_sum)
            words = builder.bitcast(builder.trunc(qv, ir.VectorType(i8, LANES)),
                                    ir.VectorType(i32, 4))
            for m in range(4):
                w = builder.add(builder.mul(k, ir.Constant(i64, 4)), ir.Constant(i64, m))
                offset = builder.add(t_off_v, builder.mul(w, ir.Constant(i64, 2 * LANES)))
                builder.store(builder.extract_element(words, ir.Constant(i32, m)),
                              _array_pointer(context, builder, signature.args[5], args[5],
                                             offset, i32))
        values = (builder.sitofp(builder.call(isum, [builder.load(q_sum)]), f64),
                  builder.fpext(_tree_sum(builder, builder.load(e2_sum)), f64),
                  builder.fpext(_tree_sum(builder, builder.load(a2_sum)), f64))
        for m, value in enumerate(values):
            builder.store(value, _array_pointer(context, builder, signature.args[7], args[7],
                                                builder.add(s_off_v, ir.Constant(i64, m)), f64))
        return context.get_dummy_value()

    return sig, codegen




def _make_int8_masks(n_queries, stream):
    # stream: prefetch the next block (tiles read from the memory's copy).
    @intrinsic
    def int8_masks(typingctx, T, t_off, n4, X, x_off, init, i_off, lo, hi, q_off, maybe, sure):
        if not (_is_array(T, types.int32) and _is_array(X, types.int32)
                and _is_array(init, types.int32) and _is_array(lo, types.int32)
                and _is_array(hi, types.int32) and _is_array(maybe, types.uint32)
                and _is_array(sure, types.uint32)):
            return None
        sig = types.void(T, t_off, n4, X, x_off, init, i_off, lo, hi, q_off, maybe, sure)
        return sig, functools.partial(_int8_masks_codegen, n_queries, stream)

    return int8_masks


def _int8_masks_codegen(n_queries, stream, context, builder, signature, args):
    i16, i32, i64 = ir.IntType(16), ir.IntType(32), ir.IntType(64)
    iv = ir.VectorType(i32, LANES)
    t_off_v, n4_v, x_off_v, i_off_v, q_off_v = _indices(context, builder, signature, args,
                                                        (1, 2, 4, 6, 9))
    sa = signature.args

    def ptr(k, offset, elem):
        return _array_pointer(context, builder, sa[k], args[k], offset, elem)

    dpbusd = _declare(builder, "llvm.x86.avx512.vpdpbusd.512", iv, [iv] * 3)
    i8p = ir.IntType(8).as_pointer()
    prefetch = builder.module.declare_intrinsic(
        "llvm.prefetch", [i8p], ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]))
    data = context.make_array(sa[0])(context, builder, args[0]).data
    block = builder.mul(n4_v, ir.Constant(i64, 2 * LANES))
    # Independent accumulator chains: one query has two per panel, words
    # alternating (a single chain per panel would wait on vpdpbusd's latency).
    chains = 2 if n_queries == 1 else 1
    starts = [builder.load(ptr(5, builder.add(i_off_v, ir.Constant(i64, LANES * p)), iv),
                           align=4) for p in range(2)]
    acc = [[[cgutils.alloca_once_value(builder, starts[p] if c == 0 else ir.Constant(iv, None))
             for c in range(chains)] for p in range(2)] for _ in range(n_queries)]
    with cgutils.for_range(builder, builder.udiv(n4_v, ir.Constant(i64, chains))) as loop:
        for c in range(chains):
            w = builder.add(builder.mul(loop.index, ir.Constant(i64, chains)), ir.Constant(i64, c))
            base = builder.add(t_off_v, builder.mul(w, ir.Constant(i64, 2 * LANES)))
            tv = [builder.load(ptr(0, builder.add(base, ir.Constant(i64, LANES * p)), iv),
                               align=4) for p in range(2)]
            # The same words of the next block, read by the next call, when
            # the scan streams the int8 copy from memory (7-10 % faster for
            # 1-4 queries; 2-7 % slower for 256 on a tile in cache, measured).
            # A hint: never faults, also past the end of the copy.
            for p in range(2 if stream else 0):
                ahead = builder.gep(data, [builder.add(builder.add(base, block),
                                                       ir.Constant(i64, LANES * p))])
                builder.call(prefetch, [builder.bitcast(ahead, i8p), ir.Constant(i32, 0),
                                        ir.Constant(i32, 3), ir.Constant(i32, 1)])
            for k in range(n_queries):
                x_at = builder.add(x_off_v, builder.add(builder.mul(n4_v, ir.Constant(i64, k)),
                                                        w))
                xv = _splat(builder, builder.load(ptr(3, x_at, i32)), iv)
                for p in range(2):
                    builder.store(builder.call(dpbusd, [builder.load(acc[k][p][c]), xv, tv[p]]),
                                  acc[k][p][c])
    sums = [[functools.reduce(builder.add, [builder.load(a) for a in acc[k][p]])
             for p in range(2)] for k in range(n_queries)]
    for k in range(n_queries):
        q_at = builder.add(q_off_v, ir.Constant(i64, k))
        for bound, out in ((7, 10), (8, 11)):
            limit = _splat(builder, builder.load(ptr(bound, q_at, i32)), iv)
            halves = [builder.zext(builder.bitcast(
                builder.icmp_signed(">=", sums[k][p], limit), i16), i32) for p in range(2)]
            bits = builder.or_(halves[0], builder.shl(halves[1], ir.Constant(i32, 16)))
            builder.store(bits, ptr(out, ir.Constant(i64, k), i32))
    return context.get_dummy_value()


_int8_masks = _make_int8_masks(BLOCK_QUERIES, False)
_int8_masks_stream = _make_int8_masks(BLOCK_QUERIES, True)
_int8_mask_stream = _make_int8_masks(1, True)


# The kernels call these names: the intrinsics under the JIT (emitted in
# place, no call), the Python forms under NUMBA_DISABLE_JIT=1.
if config.DISABLE_JIT:
    dot32, dots4, quantize_row = _dot32_py, _dots4_py, _quantize_row_py
    int8_masks = int8_masks_stream = _int8_masks_py
    int8_mask_stream = _int8_mask_py
else:
    dot32, dots4, quantize_row = _dot32, _dots4, _quantize_row
    int8_masks, int8_masks_stream, int8_mask_stream = (_int8_masks, _int8_masks_stream,
                                                       _int8_mask_stream)




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


select_serial, select_parallel = twins(_select_impl)


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


merge_serial, merge_parallel = twins(_merge_impl)


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


knn_serial, knn_parallel = twins(_knn_impl)


@jit(inline="always")
def _prefetch_row(flat, row, n):
    # One hint per 64-byte cache line of the row.
    for offset in range(0, n, 64 // flat.itemsize):
        prefetch(flat, row * n + offset)


def _write_impl(indptr, indices, deltas, acc, bounds):
    # Activated rows are scattered over accumulators far larger than the
    # caches: the row PREFETCH_AHEAD places ahead is prefetched.  Sums past
    # the dtype's range saturate at its largest finite value, as counters do
    # (deltas are finite, so an overflow is the only way to inf).
    nq = indptr.shape[0] - 1
    n = acc.shape[1]
    flat = acc.reshape(-1)
    top = np.finfo(acc.dtype).max
    for part in prange(bounds.shape[0] - 1):
        first = bounds[part]
        stop = bounds[part + 1]
        for q in range(nq):
            seg = indices[indptr[q] : indptr[q + 1]]
            a = np.searchsorted(seg, first)
            b = np.searchsorted(seg, stop)
            delta = deltas[q]
            for t in range(a, b):
                if t + PREFETCH_AHEAD < b:
                    _prefetch_row(flat, seg[t + PREFETCH_AHEAD], n)
                row = acc[seg[t]]
                for j in range(row.shape[0]):
                    row[j] = min(max(row[j] + delta[j], -top), top)


write_serial, write_parallel = twins(_write_impl)


def _read_impl(indptr, indices, acc, sums):
    n = acc.shape[1]
    flat = acc.reshape(-1)
    for q in prange(indptr.shape[0] - 1):
        s = sums[q]
        s[:] = 0.0
        a = indptr[q]
        b = indptr[q + 1]
        for t in range(a, b):
            if t + PREFETCH_AHEAD < b:
                _prefetch_row(flat, indices[t + PREFETCH_AHEAD], n)
            row = acc[indices[t]]
            for j in range(s.shape[0]):
                s[j] += row[j]


read_serial, read_parallel = twins(_read_impl)


# -- int8 and rows scans -----------------------------------------------------


@jit(inline="always")
def _dot(U, q, A, i, u_flat, a_flat):
    # float32 dot product of query q and address i: 16-lane vector part, then
    # the remaining dims in order.
    d = A.shape[1]
    head = d // LANES * LANES
    s = dot32(u_flat, q * d, a_flat, i * d, head)
    for j in range(head, d):
        s += U[q, j] * A[i, j]
    return s


@jit
def _decide(U, q, A, i, u_flat, a_flat, lo32, hi32, threshold):
    # The exact decision for a pair the int8 bound could not decide: a
    # float32 dot product, and the float64 cosine within its margin.  Not
    # inlined: it runs for a small fraction of the pairs.
    s = _dot(U, q, A, i, u_flat, a_flat)
    if s < lo32:
        return False
    return s >= hi32 or _cosine(U, q, A, i) >= threshold


@jit(inline="always")
def _ceil_bound(value):
    # ceil(value) as an int32 bound, clamped to [PAD_INIT // 2, INT32_MAX]:
    # every real D lies strictly inside, so a clamped bound decides the same.
    if value >= INT32_MAX:
        return INT32_MAX
    if value <= PAD_INIT // 2:
        return PAD_INIT // 2
    return np.int32(np.ceil(value))


@jit(inline="always")
def _int8_bounds(threshold, scale, e2_max, a2_min, a2_max, xinfo, nq, lo_t, hi_t):
    # Integer bounds of query q against one tile: lo_t[q] <= D decides "maybe",
    # hi_t[q] <= D decides "active".  With x = sx * xq + ex (query) and
    # a = scale * aq + ea (location), P = sx * scale * D approximates x . a:
    #     |x . a - P| <= Kx * |ea| + Ex * |a|      (Kx = sx |xq|, Ex = |ex|)
    # and the cosine c = x . a / (|x| |a|) satisfies
    #     |c - P| <= (Kx Ea + Ex na_max) / (nx na_min) + |P|max * delta
    # where delta bounds |1 / (|x| |a|) - 1|.  The float32 sums of squares
    # (quantize_row) are within a factor 1 +- 2**-12 of exact; the result is
    # widened by 2**-20 (relative) and 2**-30 (absolute) for float64 rounding
    # here, in D * sx * scale and in the exact cosine itself.
    ea = np.sqrt(e2_max * (1.0 + 2.0**-12))
    na_max = np.sqrt(a2_max * (1.0 + 2.0**-12))
    na_min = np.sqrt(a2_min * (1.0 - 2.0**-12))
    for q in range(nq):
        sx = xinfo[q, 0]
        kx = xinfo[q, 1]
        ex = xinfo[q, 2]
        nx = xinfo[q, 3]
        r = kx * ea + ex * na_max
        nn_lo = nx * na_min
        nn_hi = nx * na_max
        delta = max(abs(1.0 / nn_lo - 1.0), abs(1.0 / nn_hi - 1.0))
        bound = (r / nn_lo + (nn_hi + r) * delta) * (1.0 + 2.0**-20) + 2.0**-30
        w = sx * scale
        lo_t[q] = _ceil_bound((threshold - bound) / w)
        hi_t[q] = _ceil_bound((threshold + bound) / w)
    for q in range(nq, lo_t.shape[0]):
        lo_t[q] = INT32_MAX
        hi_t[q] = INT32_MAX


@jit(inline="always")
def _float32_magnitude(bits):
    # The float32 value of non-negative finite bits, exactly, as a float64.
    exponent = int(bits >> 23)
    mantissa = int(bits & 0x7FFFFF)
    if exponent == 0:
        return math.ldexp(np.float64(mantissa), -149)
    return math.ldexp(np.float64(mantissa + (1 << 23)), exponent - 150)


@jit(inline="always")
def _tile_abs_max(a_bits, start, stop):
    # The largest |a| over a tile, by the bit patterns (no NaNs: finite
    # float32 compare like their magnitudes' bits), so the loop vectorises.
    # (A loop over a slice: indexing a_bits[start + t] directly is ~7x slower,
    # measured, as numba must allow for negative indices.)
    seg = a_bits[start:stop]
    m = np.int32(0)
    for t in range(seg.shape[0]):
        m = max(m, seg[t] & np.int32(0x7FFFFFFF))
    return m


@jit
def _quantize_tiles(A, a_flat, a_bits, first, last, shift, T, init, stats, sums):
    # Tiles first:last of L = init.size // len(stats) locations, quantised to
    # int8, tile t stored as tile t - shift of T, init and stats (shift 0:
    # the memory's copy; shift t: one tile's scratch): location i of a stored
    # tile (i counted from its start) has word w at
    # T[(i - i % 32) * n4 + 32 * w + i % 32] (blocks of 32 locations, as
    # int8_masks reads them), its initial sum at init[i] (PAD_INIT for
    # padding locations, whose words are zero), and stats = the tile's scale,
    # largest squared quantisation error, smallest and largest squared row
    # norm (the bounds of _int8_bounds).  sums: scratch of 3 float64.
    N, d = A.shape
    L = init.shape[0] // stats.shape[0]
    head = d // LANES * LANES
    n4 = 4 * ((d + LANES - 1) // LANES)
    for tile in range(first, last):
        start = tile * L
        at = (tile - shift) * L  # where it is stored
        rows = min(L, N - start)
        amax = _float32_magnitude(_tile_abs_max(a_bits, start * d, (start + rows) * d))
        if amax == 0.0:
            amax = 1.0  # zero rows: every value quantises to 0, exactly
        scale = np.float32(amax / 127.0)
        inv = np.float32(127.0 / amax)
        e2_max = 0.0
        a2_min = np.inf
        a2_max = 0.0
        for r in range(L):
            t_off = (at + r // BLOCK_LOCATIONS * BLOCK_LOCATIONS) * n4 + r % BLOCK_LOCATIONS
            if r >= rows:
                init[at + r] = PAD_INIT
                for w in range(n4):
                    T[t_off + w * BLOCK_LOCATIONS] = 0
                continue
            a_off = (start + r) * d
            quantize_row(a_flat, a_off, head, inv, scale, T, t_off, sums, 0)
            qsum = sums[0]
            e2 = sums[1]
            a2 = sums[2]
            for w in range(head // 4, n4):
                word = 0
                for b in range(4):
                    j = 4 * w + b
                    if j < d:
                        av = a_flat[a_off + j]
                        qv = np.rint(av * inv)
                        err = np.float64(av) - np.float64(scale) * np.float64(qv)
                        qsum += qv
                        e2 += err * err
                        a2 += np.float64(av) * np.float64(av)
                        word |= (np.int64(qv) & 0xFF) << (8 * b)
                if word >= 1 << 31:
                    word -= 1 << 32
                T[t_off + w * BLOCK_LOCATIONS] = word
            init[at + r] = -128 * np.int64(qsum)
            e2_max = max(e2_max, e2)
            a2_min = min(a2_min, a2)
            a2_max = max(a2_max, a2)
        stats[tile - shift, 0] = scale
        stats[tile - shift, 1] = e2_max
        stats[tile - shift, 2] = a2_min
        stats[tile - shift, 3] = a2_max


@jit
def quantize_queries(U, X, xinfo):
    # Unit query x = U[q] becomes sx * xq + ex with sx = max|x| / 127 and xq =
    # round(x / sx) in [-127, 127], stored as the bytes xq + 128 in X[q]
    # (X comes filled with 128: zero padding); xinfo[q] = sx, Kx = sx |xq|,
    # Ex = |ex| and |x|, in float64 (the terms of _int8_bounds, which widens
    # its bound for their rounding).
    nq, d = U.shape
    for q in range(nq):
        peak = 0.0
        for j in range(d):
            peak = max(peak, abs(np.float64(U[q, j])))
        sx = peak / 127.0
        k2 = 0.0
        e2 = 0.0
        x2 = 0.0
        for j in range(d):
            x = np.float64(U[q, j])
            xq = np.rint(x / sx)
            ex = x - sx * xq
            X[q, j] = np.uint8(np.int64(xq) + 128)
            k2 += xq * xq
            e2 += ex * ex
            x2 += x * x
        xinfo[q, 0] = sx
        xinfo[q, 1] = sx * np.sqrt(k2)
        xinfo[q, 2] = np.sqrt(e2)
        xinfo[q, 3] = np.sqrt(x2)


@jit
def quantize_tiles(ids, A, a_flat, a_bits, first, last, T, init, stats, sums):
    # Task c in ids quantises tiles first[c]:last[c] (scratch sums[c]).
    # Serial: the wrapper runs tasks on several threads (continuous._on_threads).
    for c in ids:
        # (np.int64: a literal 0 would compile _quantize_tiles a second time.)
        _quantize_tiles(A, a_flat, a_bits, first[c], last[c], np.int64(0), T, init, stats,
                        sums[c])


@jit
def _scan_int8_chunk(A, a_flat, U, X, xinfo, threshold, lo32, hi32, first, last, fresh, T, init,
                     stats, sums, bounds, masks, pair_q, pair_l, base, cap):
    # Tiles first:last: pairs to pair_q/pair_l[base:base + cap], tile by
    # tile, query by query, location ascending; returns the pair count, also
    # when it overflows cap.  Every query block passes over a tile while it
    # is in the core's cache.  The tiles are the memory's int8 copy (T, init,
    # stats from quantize_tiles), or, if fresh, quantised one at a time into
    # the one-tile scratch T, init, stats (large batches: their float32 rows,
    # which the rechecks read, come into cache with it).  Scratch (allocated
    # by the caller: each np.empty dtype inside a kernel is a compilation of
    # its own): sums (3), bounds (2, queries padded to 4), masks (2, 4).  One
    # compiled function shared by the serial and parallel drivers (compiling
    # the body inside a parallel loop costs seconds more).
    N, d = A.shape
    nq = U.shape[0]
    L = init.shape[0] // stats.shape[0]
    n4 = 4 * ((d + LANES - 1) // LANES)
    nqp = bounds.shape[1]
    lo_t = bounds[0]
    hi_t = bounds[1]
    maybe = masks[0]
    sure = masks[1]
    u_flat = U.reshape(-1)
    a_bits = a_flat.view(np.int32)
    one = nq == 1 and not fresh  # the one-query kernel: masks in maybe[0], sure[0]
    count = 0
    for tile in range(first, last):
        start = tile * L
        at = 0 if fresh else tile  # the tile's place in T, init and stats
        if fresh:
            _quantize_tiles(A, a_flat, a_bits, tile, tile + 1, tile, T, init, stats, sums)
        _int8_bounds(threshold, stats[at, 0], stats[at, 1], stats[at, 2], stats[at, 3], xinfo,
                     nq, lo_t, hi_t)
        for q0 in range(0, nqp, BLOCK_QUERIES):
            for b in range(0, L, BLOCK_LOCATIONS):
                t_off = (at * L + b) * n4
                if fresh:  # the tile is in cache
                    int8_masks(T, t_off, n4, X, q0 * n4, init, at * L + b, lo_t, hi_t, q0, maybe,
                               sure)
                elif one:  # a quarter of the products of a block of 4
                    int8_mask_stream(T, t_off, n4, X, 0, init, at * L + b, lo_t, hi_t, 0, maybe,
                                     sure)
                else:
                    int8_masks_stream(T, t_off, n4, X, q0 * n4, init, at * L + b, lo_t, hi_t, q0,
                                      maybe, sure)
                for k in range(1 if one else BLOCK_QUERIES):
                    m = np.int64(maybe[k])
                    if m == 0:
                        continue
                    q = q0 + k
                    s = np.int64(sure[k])
                    while m != 0:
                        low = m & -m
                        m ^= low
                        i = start + b + popcount(low - 1)
                        if (s & low) != 0 or _decide(U, q, A, i, u_flat, a_flat, lo32, hi32,
                                                     threshold):
                            if count < cap:
                                pair_q[base + count] = q
                                pair_l[base + count] = i
                            count += 1
    return count


@jit
def _scan_rows_chunk(A, a_flat, U, threshold, lo32, hi32, first, last, pair_q, pair_l, base,
                     cap):
    # Locations first:last, each address row once against every query, four
    # queries per pass over a row (float32 dot products, exact within the
    # margin); pairs as in _scan_int8_chunk, location by location.  Measured:
    # four rows per pass for fewer queries is slower (10-21 GB/s against
    # 30 GB/s one row at a time), and helper functions with array arguments
    # in this loop cost ~4x (numba inlines them with a reference-count update
    # per array and call).
    u_flat = U.reshape(-1)
    nq, d = U.shape
    head = d // LANES * LANES
    count = 0
    for i in range(first, last):
        q = 0
        while q < nq:
            # Four queries at a time; the last window overlaps the one before
            # (its queries already decided are skipped).
            if nq >= 4:
                w = min(q, nq - 4)
                s0, s1, s2, s3 = dots4(u_flat, w * d, d, a_flat, i * d, head)
                stop = w + 4
            else:
                w = q
                s0 = dot32(u_flat, q * d, a_flat, i * d, head)
                s1 = s2 = s3 = s0
                stop = q + 1
            while q < stop:
                t = q - w
                s = s0 if t == 0 else (s1 if t == 1 else (s2 if t == 2 else s3))
                for j in range(head, d):
                    s += U[q, j] * A[i, j]
                if s >= hi32 or (s >= lo32 and _decide(U, q, A, i, u_flat, a_flat, lo32, hi32,
                                                       threshold)):
                    if count < cap:
                        pair_q[base + count] = q
                        pair_l[base + count] = i
                    count += 1
                q += 1
    return count


@jit
def scan(ids, int8, A, a_flat, U, X, xinfo, threshold, lo32, hi32, first, last, fresh, T, init,
         stats, sums, bounds, masks, region, pair_q, pair_l, n_pairs):
    # Chunk c in ids scans locations (rows scan) or tiles (int8 scan) first[c]:
    # last[c] into pair_q/pair_l[region[c]:region[c + 1]]; n_pairs[c] is its
    # pair count, also when that overflows the region.  The int8 scan reads
    # the memory's copy (T[0], init[0], stats[0]) or, if fresh, quantises
    # each tile into chunk c's scratch (T[c], init[c], stats[c]); sums[c],
    # bounds[c], masks[c] are chunk c's scratch.  Serial: the wrapper runs
    # chunks on several threads at once (see continuous._on_threads).
    for c in ids:
        base = region[c]
        cap = region[c + 1] - base
        if int8:
            k = c if fresh else 0
            n_pairs[c] = _scan_int8_chunk(A, a_flat, U, X, xinfo, threshold, lo32, hi32,
                                          first[c], last[c], fresh, T[k], init[k], stats[k],
                                          sums[c], bounds[c], masks[c], pair_q, pair_l, base,
                                          cap)
        else:
            n_pairs[c] = _scan_rows_chunk(A, a_flat, U, threshold, lo32, hi32, first[c],
                                          last[c], pair_q, pair_l, base, cap)


def vnni_available() -> bool:
    """Whether numba compiles for a CPU with AVX-512 VNNI (the int8 scan's ``vpdpbusd``).

    Reads the features numba itself targets (``NUMBA_CPU_FEATURES`` when set,
    else the host's), so a build for a generic CPU never gets the instruction.
    """
    from numba.core import codegen, config

    features = config.CPU_FEATURES
    if features is None:
        features = codegen.get_host_cpu_features()
    return {"+avx512f", "+avx512bw", "+avx512vnni"} <= set(features.split(","))

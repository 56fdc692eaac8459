"""LLVM intrinsics for numba kernels, each behind a plain Python function.

The Python functions run as they are under ``NUMBA_DISABLE_JIT=1``; under the
JIT an ``@overload`` replaces each one with an LLVM intrinsic:

* ``popcount(x)``: ``llvm.ctpop``, which compiles to ``popcnt`` or, in
  vectorised loops on AVX-512 VPOPCNTDQ machines, ``vpopcntq``.  Always an
  ``int64`` so sums never drift into unsigned or float arithmetic.
* ``saturating_add(counter, delta)``: ``llvm.sadd.sat``, which vectorises to
  ``vpaddsb``/``vpaddsw`` for int8/int16 counters: a counter update that
  clamps at the dtype's limits instead of wrapping, at one instruction per
  32-64 counters.
* ``prefetch(array, index)``, ``prefetch_l2(array, index)``: ``llvm.prefetch``, a
  hint to load a cache line (into every level, or into L2 only).
* ``le_mask64(values, start, threshold)``: one ``<64 x i64>`` compare whose
  ``<64 x i1>`` result is a ``uint64`` bit mask.
* ``transpose8x8(...)``: an 8 x 8 block of words transposed by vector shuffles.

Explicit 512-bit kernels (``fastsdm._jit.SIMD == "avx512"``): written as
``<8 x i64>`` LLVM vector code, so they run on zmm registers whatever vector
width LLVM's tuning for the CPU prefers (Intel server cores prefer 256 bits
and would halve the width of auto-vectorised loops; numba sets no
``min-legal-vector-width``, so 512-bit types stay legal):

* ``tile_distances(Qp, q, T, acc)``: the distances of four queries to every
  location of a transposed tile, accumulated over all words in registers.
* ``tile_radius_masks(Qp, q, T, radius, masks)``: the same distances compared
  with a radius in registers, stored as bit masks (radius scans, SDM activation).
* ``row_distances(Q, q, A, start, count, acc)``: the distances of one query to
  ``count`` consecutive address rows, eight rows reduced at once.
* ``add_rows(dst, i, src, rows)``: several rows of narrow counters added, sign-extended,
  into one row of wider sums, which is read and written once (the fused reads).
* ``add_row_saturating(dst, i, src, k)``: one row of deltas added to a row of
  counters, clamped at the dtype's limits (the fused writes).

Their plain-Python versions are the reference semantics (and what
``NUMBA_DISABLE_JIT=1`` runs).  With ``NUMBA_BOUNDSCHECK=1`` their compiled
versions check their arguments' shapes first and raise ``IndexError``, as
numba's own indexing does.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._jit import overload

__all__ = ["popcount", "saturating_add", "prefetch", "le_mask64", "transpose8x8",
           "tile_distances", "tile_radius_masks", "row_distances", "add_rows",
           "add_row_saturating", "prefetch_l2", "next_task", "TILE_STEP", "MASK_MAX_WORDS"]

#: Check the explicit kernels' arguments (``NUMBA_BOUNDSCHECK=1``).
BOUNDSCHECK = bool(numba.config.BOUNDSCHECK)


def popcount(x):
    """Number of set bits of a non-negative integer (``int64``)."""
    return int(x).bit_count()


def saturating_add(counter, delta):
    """``counter + delta`` clamped to the range of ``counter``'s dtype.

    ``delta`` may be wider than ``counter`` (a write weight beyond the
    counter's range); the sum is exact before clamping.
    """
    info = np.iinfo(type(counter))
    return type(counter)(min(max(int(counter) + int(delta), info.min), info.max))


@intrinsic
def _ctpop_int64(typingctx, x):
    if not isinstance(x, types.Integer):
        return None
    sig = types.int64(x)

    def codegen(context, builder, signature, args):
        (value,) = args
        count = builder.ctpop(value)
        width = value.type.width
        if width < 64:
            return builder.zext(count, ir.IntType(64))
        if width > 64:
            return builder.trunc(count, ir.IntType(64))
        return count

    return sig, codegen


@overload(popcount)
def _popcount_jit(x):
    if isinstance(x, types.Integer):
        def impl(x):
            return _ctpop_int64(x)

        return impl
    return None


def _sadd_sat(builder, a, b):
    fnty = ir.FunctionType(a.type, [a.type, a.type])
    fn = builder.module.declare_intrinsic("llvm.sadd.sat", [a.type], fnty)
    return builder.call(fn, [a, b])


@intrinsic
def _saturating_add(typingctx, counter, delta):
    if not (isinstance(counter, types.Integer) and counter.signed
            and isinstance(delta, types.Integer) and delta.signed):
        return None
    sig = counter(counter, delta)

    def codegen(context, builder, signature, args):
        a, b = args
        width, dwidth = a.type.width, b.type.width
        if dwidth <= width:
            return _sadd_sat(builder, a, builder.sext(b, a.type) if dwidth < width else b)
        # A wide delta: saturate in its width, then clamp to the counter's.
        wide = _sadd_sat(builder, builder.sext(a, b.type), b)
        hi = ir.Constant(b.type, (1 << (width - 1)) - 1)
        lo = ir.Constant(b.type, -(1 << (width - 1)))
        wide = builder.select(builder.icmp_signed(">", wide, hi), hi, wide)
        wide = builder.select(builder.icmp_signed("<", wide, lo), lo, wide)
        return builder.trunc(wide, a.type)

    return sig, codegen


@overload(saturating_add)
def _saturating_add_jit(counter, delta):
    if isinstance(counter, types.Integer) and isinstance(delta, types.Integer):
        def impl(counter, delta):
            return _saturating_add(counter, delta)

        return impl
    return None


def prefetch(array, index):
    """Hint the CPU to start loading ``array[index]`` into cache (no effect in Python)."""


def prefetch_l2(array, index):
    """As :func:`prefetch`, into the L2 cache only (``prefetcht1``).

    For lines needed a few microseconds later by a loop whose own working set
    fills L1: they wait in L2 without evicting it.
    """


def _make_prefetch(locality: int):
    def typer(typingctx, array, index):
        if not (isinstance(array, types.Array) and isinstance(index, types.Integer)):
            return None
        return types.void(array, index), codegen

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = builder.bitcast(builder.gep(arr.data, [args[1]]), ir.IntType(8).as_pointer())
        fnty = ir.FunctionType(ir.VoidType(), [i8p.type, ir.IntType(32), ir.IntType(32),
                                               ir.IntType(32)])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p.type], fnty)
        # read (0), temporal locality (3: all levels, 2: L2 and beyond), data cache (1)
        builder.call(fn, [i8p, ir.Constant(ir.IntType(32), 0),
                          ir.Constant(ir.IntType(32), locality), ir.Constant(ir.IntType(32), 1)])
        return context.get_dummy_value()

    typer.__name__ = f"_prefetch_{locality}"
    return intrinsic(typer)


_prefetch = _make_prefetch(3)
_prefetch_l2 = _make_prefetch(2)


@overload(prefetch)
def _prefetch_jit(array, index):
    if isinstance(array, types.Array) and isinstance(index, types.Integer):
        def impl(array, index):
            _prefetch(array, index)

        return impl
    return None


@overload(prefetch_l2)
def _prefetch_l2_jit(array, index):
    if isinstance(array, types.Array) and isinstance(index, types.Integer):
        def impl(array, index):
            _prefetch_l2(array, index)

        return impl
    return None


def le_mask64(values, start, threshold):
    """Bit ``l`` set where ``values[start + l] <= threshold``, for l < 64 (uint64).

    ``values`` is a contiguous int64 array with at least ``start + 64``
    elements.  Under the JIT: one ``<64 x i64>`` compare whose ``<64 x i1>``
    result is bit-cast to an integer (AVX-512 ``vpcmpq`` into mask registers),
    instead of 64 compares and branches.
    """
    bits = 0
    for l in range(64):
        if values[start + l] <= threshold:
            bits |= 1 << l
    return np.uint64(bits)


@intrinsic
def _le_mask64(typingctx, values, start, threshold):
    if not (isinstance(values, types.Array) and values.dtype == types.int64
            and isinstance(start, types.Integer) and isinstance(threshold, types.Integer)):
        return None
    sig = types.uint64(values, start, threshold)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        i64 = ir.IntType(64)
        start_v = context.cast(builder, args[1], signature.args[1], types.int64)
        thr = context.cast(builder, args[2], signature.args[2], types.int64)
        ptr = builder.gep(arr.data, [start_v])
        vec_t = ir.VectorType(i64, 64)
        vec = builder.load(builder.bitcast(ptr, vec_t.as_pointer()), align=8)
        splat = builder.insert_element(ir.Constant(vec_t, ir.Undefined), thr,
                                       ir.Constant(ir.IntType(32), 0))
        splat = builder.shuffle_vector(splat, ir.Constant(vec_t, ir.Undefined),
                                       ir.Constant(ir.VectorType(ir.IntType(32), 64), [0] * 64))
        bits = builder.icmp_signed("<=", vec, splat)
        return builder.bitcast(bits, i64)

    return sig, codegen


@overload(le_mask64)
def _le_mask64_jit(values, start, threshold):
    if isinstance(values, types.Array) and values.dtype == types.int64:
        def impl(values, start, threshold):
            return _le_mask64(values, start, threshold)

        return impl
    return None


def transpose8x8(src, src_start, src_stride, dst, dst_start, dst_stride):
    """Copy an 8 x 8 block of 64-bit words, transposed, between flat arrays.

    ``dst[dst_start + i * dst_stride + k] = src[src_start + k * src_stride + i]``
    for ``i, k < 8``.  Under the JIT: eight ``<8 x i64>`` loads, 24 shuffles
    and eight stores (AVX-512 ``vpermt2q``/``vunpcklqdq``), where element-wise
    copies would make 64 scattered stores.
    """
    for i in range(8):
        for k in range(8):
            dst[dst_start + i * dst_stride + k] = src[src_start + k * src_stride + i]


def _transpose_masks(block):
    # Shuffle masks that swap ``block``-sized sub-blocks between two rows:
    # three rounds (block 1, 2, 4) transpose 8 x 8.
    lo, hi = [], []
    for p in range(8):
        group, offset = p // (2 * block) * (2 * block), p % (2 * block)
        lo.append(group + offset if offset < block else 8 + group + offset - block)
        hi.append(group + block + offset if offset < block else 8 + group + offset)
    return lo, hi


@intrinsic
def _transpose8x8(typingctx, src, src_start, src_stride, dst, dst_start, dst_stride):
    for arr in (src, dst):
        if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"
                and arr.dtype.bitwidth == 64):
            return None
    sig = types.void(src, src_start, src_stride, dst, dst_start, dst_stride)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        vec_t = ir.VectorType(i64, 8)
        index = [context.cast(builder, args[k], signature.args[k], types.int64)
                 for k in (1, 2, 4, 5)]
        src_start_v, src_stride_v, dst_start_v, dst_stride_v = index
        src_data = context.make_array(signature.args[0])(context, builder, args[0]).data
        dst_data = context.make_array(signature.args[3])(context, builder, args[3]).data

        def pointer(data, start, stride, k):
            offset = builder.add(start, builder.mul(stride, ir.Constant(i64, k)))
            return builder.bitcast(builder.gep(data, [offset]), vec_t.as_pointer())

        rows = [builder.load(pointer(src_data, src_start_v, src_stride_v, k), align=8)
                for k in range(8)]
        for block in (1, 2, 4):
            lo, hi = (ir.Constant(ir.VectorType(ir.IntType(32), 8), m)
                      for m in _transpose_masks(block))
            for k in range(8):
                if (k // block) % 2 == 0:
                    x, y = rows[k], rows[k + block]
                    rows[k] = builder.shuffle_vector(x, y, lo)
                    rows[k + block] = builder.shuffle_vector(x, y, hi)
        for k in range(8):
            builder.store(rows[k], pointer(dst_data, dst_start_v, dst_stride_v, k), align=8)
        return context.get_dummy_value()

    return sig, codegen


@overload(transpose8x8)
def _transpose8x8_jit(src, src_start, src_stride, dst, dst_start, dst_stride):
    def impl(src, src_start, src_stride, dst, dst_start, dst_stride):
        _transpose8x8(src, src_start, src_stride, dst, dst_start, dst_stride)

    return impl


# -- explicit 512-bit kernels -------------------------------------------------------

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_V8 = ir.VectorType(_I64, 8)
#: Locations per step of :func:`tile_distances` (a tile's width is a multiple).
TILE_STEP = 32
_TILE_VECTORS = TILE_STEP // 8  # zmm accumulators per query: 4 queries x 4 = 16 registers


def _vector_intrinsic(builder, name, ret, args):
    fnty = ir.FunctionType(ret, [a.type for a in args])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    return builder.call(fn, args)


def _ctpop8(builder, v):
    return _vector_intrinsic(builder, "llvm.ctpop.v8i64", _V8, [v])


def _splat8(builder, x):
    undef = ir.Constant(_V8, ir.Undefined)
    v = builder.insert_element(undef, x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, undef, ir.Constant(ir.VectorType(_I32, 8), [0] * 8))


def _shuffle(builder, a, b, lanes):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, 8), lanes))


def _v8_at(builder, data, offset):
    # Pointer to the 8 words data[offset : offset + 8].
    return builder.bitcast(builder.gep(data, [offset]), _V8.as_pointer())


def _const(value):
    return ir.Constant(_I64, value)


def _as_i64(context, builder, signature, args, k):
    return context.cast(builder, args[k], signature.args[k], types.int64)


def _is_words(arr, ndim, dtype_bits=64):
    return (isinstance(arr, types.Array) and arr.ndim == ndim and arr.layout == "C"
            and isinstance(arr.dtype, types.Integer) and arr.dtype.bitwidth == dtype_bits)


def _tile_steps(context, builder, signature, args, finish):
    # The loop shared by the tile kernels (arguments Qp, q, T, ...): for each
    # step of TILE_STEP locations l0, the distances of queries q .. q + 3 in
    # 16 accumulators sums[r][u] (locations l0 + 8u .. l0 + 8u + 7), then
    # finish(l0, sums) stores them in the kernel's own form.
    qa = context.make_array(signature.args[0])(context, builder, args[0])
    ta = context.make_array(signature.args[2])(context, builder, args[2])
    q0 = _as_i64(context, builder, signature, args, 1)
    n_words, n_loc = cgutils.unpack_tuple(builder, ta.shape, 2)
    q_stride = cgutils.unpack_tuple(builder, qa.shape, 2)[1]
    zero = ir.Constant(_V8, None)
    sums = [[cgutils.alloca_once(builder, _V8) for _ in range(_TILE_VECTORS)] for _ in range(4)]
    q_rows = [builder.gep(qa.data, [builder.mul(builder.add(q0, _const(r)), q_stride)])
              for r in range(4)]
    with cgutils.for_range_slice(builder, _const(0), n_loc, _const(TILE_STEP),
                                 intp=_I64) as (l0, _):
        for row in sums:
            for s in row:
                builder.store(zero, s)
        with cgutils.for_range(builder, n_words, intp=_I64) as loop:
            j = loop.index
            base = builder.add(builder.mul(j, n_loc), l0)
            tv = [builder.load(_v8_at(builder, ta.data, builder.add(base, _const(8 * u))),
                               align=8) for u in range(_TILE_VECTORS)]
            for r in range(4):
                w = _splat8(builder, builder.load(builder.gep(q_rows[r], [j])))
                for u in range(_TILE_VECTORS):
                    count = _ctpop8(builder, builder.xor(w, tv[u]))
                    builder.store(builder.add(builder.load(sums[r][u]), count), sums[r][u])
        finish(l0, sums)


def tile_distances(Qp, q, T, acc):
    """Distances of queries ``q .. q + 3`` to every location of a transposed tile.

    ``acc[r, l] = sum_j popcount(Qp[q + r, j] ^ T[j, l])`` for ``r < 4``,
    ``j < T.shape[0]`` and ``l < T.shape[1]``.  ``T`` is ``(words,
    locations)``, C-contiguous, with a multiple of :data:`TILE_STEP` locations;
    ``Qp`` has at least ``q + 4`` rows and ``T.shape[0]`` words; ``acc`` is int64
    with at least 4 rows and ``T.shape[1]`` columns, C-contiguous.

    Under the JIT: for each step of 32 locations, 16 zmm accumulators (4
    queries x 4 vectors of 8 locations) take ``vpxorq``/``vpopcntq``/``vpaddq``
    over all words, with each word of the tile loaded once for four queries
    and each query word broadcast once for 32 locations; stored once.
    """
    n_words, n_loc = T.shape
    for r in range(4):
        for l in range(n_loc):
            d = 0
            for j in range(n_words):
                d += popcount(Qp[q + r, j] ^ T[j, l])
            acc[r, l] = d


@intrinsic
def _tile_distances(typingctx, Qp, q, T, acc):
    if not (_is_words(Qp, 2) and _is_words(T, 2) and _is_words(acc, 2)
            and isinstance(q, types.Integer)):
        return None
    sig = types.void(Qp, q, T, acc)

    def codegen(context, builder, signature, args):
        aa = context.make_array(signature.args[3])(context, builder, args[3])
        a_stride = cgutils.unpack_tuple(builder, aa.shape, 2)[1]

        def store(l0, sums):
            for r in range(4):
                base = builder.add(builder.mul(_const(r), a_stride), l0)
                for u in range(_TILE_VECTORS):
                    builder.store(builder.load(sums[r][u]),
                                  _v8_at(builder, aa.data, builder.add(base, _const(8 * u))),
                                  align=8)

        _tile_steps(context, builder, signature, args, store)
        return context.get_dummy_value()

    return sig, codegen


@overload(tile_distances)
def _tile_distances_jit(Qp, q, T, acc):
    def impl(Qp, q, T, acc):
        if BOUNDSCHECK:
            if (q < 0 or q + 4 > Qp.shape[0] or Qp.shape[1] < T.shape[0] or acc.shape[0] < 4
                    or acc.shape[1] < T.shape[1] or T.shape[1] % TILE_STEP != 0):
                raise IndexError("tile_distances: the arrays do not fit the tile")
        _tile_distances(Qp, q, T, acc)

    return impl


#: The most words per location :func:`tile_radius_masks` takes: its distances
#: are compared as 16-bit lanes (64 * 1023 = 65,472 < 2**16).
MASK_MAX_WORDS = 1023


def tile_radius_masks(Qp, q, T, radius, masks):
    """Bit masks of the tile's locations within ``radius`` of queries ``q .. q + 3``.

    Bit ``l % 64`` of ``masks[r, l // 64]`` is set when ``sum_j popcount(Qp[q +
    r, j] ^ T[j, l]) <= radius`` (never for a negative radius), for ``r < 4``
    and every location ``l < T.shape[1]``, a multiple of 64.  ``T`` has at
    most :data:`MASK_MAX_WORDS` words (rows); ``masks`` is uint64, at least
    ``(4, T.shape[1] // 64)``, C-contiguous; otherwise as :func:`tile_distances`.

    Under the JIT: :func:`tile_distances`' accumulators, compared in
    registers.  Each step's four vectors of eight 64-bit distances are packed
    into one vector of 32 16-bit lanes by two ``vpermt2d`` and one
    ``vpermt2w`` and compared by one ``vpcmpuw``, whose 32-bit mask is stored
    whole: a quarter of the compares and none of the mask-register unpacking
    of eight ``vpcmpq`` per 64 stored distances, and no distances stored or
    reloaded (radius scans measured 1.03-1.10x faster, paired).
    """
    n_words, n_loc = T.shape
    for r in range(4):
        for k in range(n_loc // 64):
            bits = 0
            for b in range(64):
                d = 0
                for j in range(n_words):
                    d += popcount(Qp[q + r, j] ^ T[j, 64 * k + b])
                if d <= radius:
                    bits |= 1 << b
            masks[r, k] = np.uint64(bits)


_V16I32 = ir.VectorType(_I32, 16)
_V32I16 = ir.VectorType(ir.IntType(16), 32)


@intrinsic
def _tile_radius_masks(typingctx, Qp, q, T, radius, masks):
    if not (_is_words(Qp, 2) and _is_words(T, 2) and _is_words(masks, 2)
            and isinstance(q, types.Integer) and isinstance(radius, types.Integer)):
        return None
    sig = types.void(Qp, q, T, radius, masks)

    def codegen(context, builder, signature, args):
        ma = context.make_array(signature.args[4])(context, builder, args[4])
        # The masks as 32-bit halves: step l0 // 32 of row r is half
        # 2 * r * stride + l0 // 32 (little-endian: bits 0-31 of a word first).
        halves = builder.bitcast(ma.data, _I32.as_pointer())
        half_stride = builder.mul(cgutils.unpack_tuple(builder, ma.shape, 2)[1], _const(2))
        # Every distance is <= 65,472: a larger radius admits them all, and a
        # negative one (compare.py's "no rows" runs pass -1) none.  Selects,
        # not a branch: a branch around the call cost the radius scan 5-8%.
        radius = _as_i64(context, builder, signature, args, 3)
        limit = builder.trunc(builder.select(builder.icmp_signed(">", radius, _const(65535)),
                                             _const(65535), radius), _V32I16.element)
        keep = builder.select(builder.icmp_signed("<", radius, _const(0)),
                              ir.Constant(_I32, 0), ir.Constant(_I32, -1))
        undef = ir.Constant(_V32I16, ir.Undefined)
        limits = builder.shuffle_vector(
            builder.insert_element(undef, limit, ir.Constant(_I32, 0)), undef,
            ir.Constant(ir.VectorType(_I32, 32), [0] * 32))
        # Low halves of the lanes of two vectors, in order: an int64 lane's
        # value is its low 32 bits, an int32's its low 16 (all are <= 65,472).
        low32 = ir.Constant(ir.VectorType(_I32, 16), list(range(0, 32, 2)))
        low16 = ir.Constant(ir.VectorType(_I32, 32), list(range(0, 64, 2)))

        def compare(l0, sums):
            step = builder.sdiv(l0, _const(TILE_STEP))
            for r in range(4):
                v = [builder.bitcast(builder.load(sums[r][u]), _V16I32)
                     for u in range(_TILE_VECTORS)]
                lo = builder.bitcast(builder.shuffle_vector(v[0], v[1], low32), _V32I16)
                hi = builder.bitcast(builder.shuffle_vector(v[2], v[3], low32), _V32I16)
                d = builder.shuffle_vector(lo, hi, low16)
                bits = builder.and_(builder.bitcast(builder.icmp_unsigned("<=", d, limits), _I32),
                                    keep)
                at = builder.add(builder.mul(_const(r), half_stride), step)
                builder.store(bits, builder.gep(halves, [at]))

        _tile_steps(context, builder, signature, args, compare)
        return context.get_dummy_value()

    return sig, codegen


@overload(tile_radius_masks)
def _tile_radius_masks_jit(Qp, q, T, radius, masks):
    def impl(Qp, q, T, radius, masks):
        if BOUNDSCHECK:
            if (q < 0 or q + 4 > Qp.shape[0] or Qp.shape[1] < T.shape[0]
                    or T.shape[0] > MASK_MAX_WORDS or T.shape[1] % 64 != 0
                    or masks.shape[0] < 4 or masks.shape[1] < T.shape[1] // 64):
                raise IndexError("tile_radius_masks: the arrays do not fit the tile")
        _tile_radius_masks(Qp, q, T, radius, masks)

    return impl


def _hsum8(builder, v):
    # Eight <8 x i64> vectors -> one whose lane i is the sum of v[i]'s lanes:
    # three rounds of shuffles and adds (a transpose that adds as it goes).
    def fold(a, b, lo, hi):
        return builder.add(_shuffle(builder, a, b, lo), _shuffle(builder, a, b, hi))

    w = [fold(v[2 * k], v[2 * k + 1], [0, 8, 2, 10, 4, 12, 6, 14], [1, 9, 3, 11, 5, 13, 7, 15])
         for k in range(4)]
    b = [fold(w[2 * k], w[2 * k + 1], [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15])
         for k in range(2)]
    return fold(b[0], b[1], [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15])


def row_distances(Q, q, A, start, count, acc):
    """Distances of query ``Q[q]`` to the address rows ``start .. start + count - 1``.

    ``acc[l] = sum_j popcount(Q[q, j] ^ A[start + l, j])`` for ``l < count``.
    ``Q`` and ``A`` are C-contiguous with the same number of words; ``acc`` is
    int64 with at least ``count`` entries.

    Under the JIT: eight rows at a time go through one loop over the words,
    each row read as whole ``<8 x i64>`` vectors (the last, partial one with a
    masked load), and their eight per-row sums are reduced together by
    shuffles into one vector of eight distances.
    """
    n_words = A.shape[1]
    for l in range(count):
        d = 0
        for j in range(n_words):
            d += popcount(Q[q, j] ^ A[start + l, j])
        acc[l] = d


@intrinsic
def _row_distances(typingctx, Q, q, A, start, count, acc):
    if not (_is_words(Q, 2) and _is_words(A, 2) and _is_words(acc, 1)
            and all(isinstance(x, types.Integer) for x in (q, start, count))):
        return None
    sig = types.void(Q, q, A, start, count, acc)

    def codegen(context, builder, signature, args):
        qa = context.make_array(signature.args[0])(context, builder, args[0])
        aa = context.make_array(signature.args[2])(context, builder, args[2])
        ca = context.make_array(signature.args[5])(context, builder, args[5])
        q0, first, n_rows = (_as_i64(context, builder, signature, args, k) for k in (1, 3, 4))
        n_words = cgutils.unpack_tuple(builder, aa.shape, 2)[1]
        n_vec = builder.udiv(n_words, _const(8))
        tail_at = builder.mul(n_vec, _const(8))
        tail = builder.sub(n_words, tail_at)
        has_tail = builder.icmp_unsigned("!=", tail, _const(0))
        tail_mask = builder.icmp_unsigned("<", ir.Constant(_V8, list(range(8))),
                                          _splat8(builder, tail))
        query = builder.gep(qa.data, [builder.mul(q0, n_words)])

        def masked_load(ptr):
            return _vector_intrinsic(builder, "llvm.masked.load.v8i64.p0", _V8,
                                     [ptr, ir.Constant(_I32, 8), tail_mask,
                                      ir.Constant(_V8, None)])

        def row_sum(row):
            # popcount(query ^ row), summed over the row's vectors, in 8 lanes.
            total = cgutils.alloca_once_value(builder, ir.Constant(_V8, None))
            address = builder.gep(aa.data, [builder.mul(row, n_words)])
            with cgutils.for_range(builder, n_vec, intp=_I64) as loop:
                at = builder.mul(loop.index, _const(8))
                x = builder.xor(builder.load(_v8_at(builder, address, at), align=8),
                                builder.load(_v8_at(builder, query, at), align=8))
                builder.store(builder.add(builder.load(total), _ctpop8(builder, x)), total)
            with builder.if_then(has_tail):
                x = builder.xor(masked_load(_v8_at(builder, address, tail_at)),
                                masked_load(_v8_at(builder, query, tail_at)))
                builder.store(builder.add(builder.load(total), _ctpop8(builder, x)), total)
            return builder.load(total)

        # Eight rows at a time: one loop over the words for the group, eight
        # independent sums, each query vector loaded once for eight rows, the
        # tail test and loop control paid once per group (row by row they cost
        # more than the popcounts of a 1,024-bit row).  Two vectors of a row
        # per step, so that the group is read in address order, which the
        # hardware prefetcher streams best (one vector per step measured ~4 %
        # slower on a single DRAM-bound query).
        totals = [cgutils.alloca_once(builder, _V8) for _ in range(8)]

        def accumulate(starts, loads):
            # totals[i] += popcount(query ^ row i) summed over ``loads``:
            # (load function, word offset, query vector) triples.
            for t, row in zip(totals, starts, strict=True):
                counts = [_ctpop8(builder, builder.xor(load(_v8_at(builder, row, at)), qv))
                          for load, at, qv in loads]
                total = counts[0] if len(counts) == 1 else builder.add(*counts)
                builder.store(builder.add(builder.load(t), total), t)

        def load(ptr):
            return builder.load(ptr, align=8)

        full = builder.mul(builder.udiv(n_rows, _const(8)), _const(8))
        with cgutils.for_range_slice(builder, _const(0), full, _const(8), intp=_I64) as (l0, _):
            row0 = builder.gep(aa.data, [builder.mul(builder.add(first, l0), n_words)])
            # Row i at a loop-invariant offset from row 0 of the group.
            starts = [builder.gep(row0, [builder.mul(_const(i), n_words)]) for i in range(8)]
            for t in totals:
                builder.store(ir.Constant(_V8, None), t)
            with cgutils.for_range(builder, builder.udiv(n_vec, _const(2)), intp=_I64) as loop:
                ats = [builder.mul(loop.index, _const(16))]
                ats.append(builder.add(ats[0], _const(8)))
                accumulate(starts, [(load, at, load(_v8_at(builder, query, at))) for at in ats])
            odd = builder.icmp_unsigned("!=", builder.urem(n_vec, _const(2)), _const(0))
            with builder.if_then(odd):
                at = builder.sub(tail_at, _const(8))
                accumulate(starts, [(load, at, load(_v8_at(builder, query, at)))])
            with builder.if_then(has_tail):
                accumulate(starts, [(masked_load, tail_at,
                                     masked_load(_v8_at(builder, query, tail_at)))])
            builder.store(_hsum8(builder, [builder.load(t) for t in totals]),
                          _v8_at(builder, ca.data, l0), align=8)
        with cgutils.for_range_slice(builder, full, n_rows, _const(1), intp=_I64) as (l, _):
            total = _vector_intrinsic(builder, "llvm.vector.reduce.add.v8i64", _I64,
                                      [row_sum(builder.add(first, l))])
            builder.store(total, builder.gep(ca.data, [l]))
        return context.get_dummy_value()

    return sig, codegen


@overload(row_distances)
def _row_distances_jit(Q, q, A, start, count, acc):
    def impl(Q, q, A, start, count, acc):
        if BOUNDSCHECK:
            if (q < 0 or q >= Q.shape[0] or Q.shape[1] != A.shape[1] or start < 0 or count < 0
                    or start + count > A.shape[0] or count > acc.shape[0]):
                raise IndexError("row_distances: the arrays do not fit the rows")
        _row_distances(Q, q, A, start, count, acc)

    return impl



def add_rows(dst, i, src, rows):
    """``dst[i, :] += src[rows[0], :] + src[rows[1], :] + ...`` (``rows`` a tuple).

    ``dst`` and ``src`` are 2-D C-contiguous signed integer arrays with rows
    of the same length, ``src``'s elements no wider than ``dst``'s
    (sign-extended); the sums must fit ``dst``'s dtype.

    Under the JIT: one 512-bit vector of ``dst`` elements per step (32 int16
    or 16 int32: ``vpmovsxbw`` + ``vpaddw``, ...), the source rows summed in
    registers so that ``dst``'s row is read and written once, not once per
    source row (``dst``'s traffic is what a row of int16 sums costs); the
    row's last, partial vector by masked loads and stores -- no scalar tail.
    """
    for k in rows:
        for j in range(dst.shape[1]):
            dst[i, j] += src[k, j]


def add_row_saturating(dst, i, src, k):
    """``dst[i, :] += src[k, :]``, each sum clamped to the dtype (:func:`saturating_add`).

    ``dst`` and ``src`` have the same signed integer dtype.  Under the JIT: 64
    int8, 32 int16 or 16 int32 counters per ``vpaddsb``/``vpaddsw``/... step,
    the last, partial vector by masked loads and stores: a 1,000-counter row
    would otherwise end in ~40 scalar steps, more instructions than its whole
    vector part.
    """
    for j in range(dst.shape[1]):
        dst[i, j] = saturating_add(dst[i, j], src[k, j])


def _row_arrays(dst, src, same_width):
    return (isinstance(dst, types.Array) and isinstance(src, types.Array)
            and dst.ndim == src.ndim == 2 and dst.layout == src.layout == "C"
            and isinstance(dst.dtype, types.Integer) and isinstance(src.dtype, types.Integer)
            and dst.dtype.signed and src.dtype.signed
            and (src.dtype.bitwidth == dst.dtype.bitwidth if same_width
                 else src.dtype.bitwidth <= dst.dtype.bitwidth))


def _add_rows_codegen(context, builder, signature, args, source_rows, saturate):
    # dst[i] += the sum of src's rows ``source_rows`` (i64 values), vector by vector: the
    # source vectors are sign-extended and summed in registers, then added to dst
    # (saturating for one row of dst's own width), so dst is read and written once.
    dst_a = context.make_array(signature.args[0])(context, builder, args[0])
    src_a = context.make_array(signature.args[2])(context, builder, args[2])
    row_d = _as_i64(context, builder, signature, args, 1)
    n = cgutils.unpack_tuple(builder, dst_a.shape, 2)[1]
    d_bits, s_bits = signature.args[0].dtype.bitwidth, signature.args[2].dtype.bitwidth
    lanes = 512 // d_bits
    dvec = ir.VectorType(ir.IntType(d_bits), lanes)
    svec = ir.VectorType(ir.IntType(s_bits), lanes)
    index_t = ir.VectorType(_I32, lanes)
    dst_row = builder.gep(dst_a.data, [builder.mul(row_d, n)])
    src_rows = [builder.gep(src_a.data, [builder.mul(row, n)]) for row in source_rows]
    full = builder.mul(builder.udiv(n, _const(lanes)), _const(lanes))

    def combine(a, vectors):
        vectors = [builder.sext(b, dvec) if s_bits < d_bits else b for b in vectors]
        while len(vectors) > 1:  # a tree: independent adds
            vectors = [builder.add(*vectors[t:t + 2]) if t + 1 < len(vectors) else vectors[t]
                       for t in range(0, len(vectors), 2)]
        if saturate:
            return _vector_intrinsic(builder, f"llvm.sadd.sat.v{lanes}i{d_bits}", dvec,
                                     [a, vectors[0]])
        return builder.add(a, vectors[0])

    with cgutils.for_range_slice(builder, _const(0), full, _const(lanes),
                                 intp=_I64) as (j, _):
        dp = builder.bitcast(builder.gep(dst_row, [j]), dvec.as_pointer())
        vectors = [builder.load(builder.bitcast(builder.gep(row, [j]), svec.as_pointer()),
                                align=1) for row in src_rows]
        builder.store(combine(builder.load(dp, align=1), vectors), dp, align=1)
    rest = builder.sub(n, full)
    with builder.if_then(builder.icmp_unsigned("!=", rest, _const(0))):
        count = builder.insert_element(ir.Constant(index_t, ir.Undefined),
                                       builder.trunc(rest, _I32), ir.Constant(_I32, 0))
        count = builder.shuffle_vector(count, ir.Constant(index_t, ir.Undefined),
                                       ir.Constant(index_t, [0] * lanes))
        mask = builder.icmp_unsigned("<", ir.Constant(index_t, list(range(lanes))), count)

        def masked_load(pointer, vec, bits):
            return _vector_intrinsic(builder, f"llvm.masked.load.v{lanes}i{bits}.p0", vec,
                                     [pointer, ir.Constant(_I32, 1), mask, ir.Constant(vec, None)])

        dp = builder.bitcast(builder.gep(dst_row, [full]), dvec.as_pointer())
        vectors = [masked_load(builder.bitcast(builder.gep(row, [full]), svec.as_pointer()),
                               svec, s_bits) for row in src_rows]
        _vector_intrinsic(builder, f"llvm.masked.store.v{lanes}i{d_bits}.p0", ir.VoidType(),
                          [combine(masked_load(dp, dvec, d_bits), vectors), dp,
                           ir.Constant(_I32, 1), mask])
    return context.get_dummy_value()


@intrinsic
def _add_row_saturating(typingctx, dst, i, src, k):
    if not _row_arrays(dst, src, True):
        return None

    def codegen(context, builder, signature, args):
        row = _as_i64(context, builder, signature, args, 3)
        return _add_rows_codegen(context, builder, signature, args, [row], True)

    return types.void(dst, i, src, k), codegen


@intrinsic
def _add_rows(typingctx, dst, i, src, rows):
    if not (_row_arrays(dst, src, False) and isinstance(rows, types.UniTuple)
            and isinstance(rows.dtype, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        items = cgutils.unpack_tuple(builder, args[3], rows.count)
        source_rows = [context.cast(builder, item, rows.dtype, types.int64) for item in items]
        return _add_rows_codegen(context, builder, signature, args, source_rows, False)

    return types.void(dst, i, src, rows), codegen


@overload(add_rows)
def _add_rows_jit(dst, i, src, rows):
    def impl(dst, i, src, rows):
        if BOUNDSCHECK:
            if i < 0 or i >= dst.shape[0] or src.shape[1] != dst.shape[1]:
                raise IndexError("add_rows: a row out of range, or rows of different lengths")
            for k in rows:
                if k < 0 or k >= src.shape[0]:
                    raise IndexError("add_rows: a source row out of range")
        _add_rows(dst, i, src, rows)

    return impl


@overload(add_row_saturating)
def _add_row_saturating_jit(dst, i, src, k):
    def impl(dst, i, src, k):
        if BOUNDSCHECK:
            if (i < 0 or i >= dst.shape[0] or k < 0 or k >= src.shape[0]
                    or src.shape[1] != dst.shape[1]):
                raise IndexError("add_row_saturating: a row out of range, or rows of different "
                                 "lengths")
        _add_row_saturating(dst, i, src, k)

    return impl


# -- claiming tasks ------------------------------------------------------------------

_TASK_LOCK = threading.Lock()


def next_task(tasks):
    """Claim the next task of ``tasks = [next, count]`` (int64): its index, or -1 when none is left.

    ``tasks[0]`` is incremented atomically, so threads running the same kernel
    on the same ``tasks`` each get distinct tasks, in increasing order, until
    ``count`` are handed out: a thread that starts late or is descheduled on a
    busy machine simply takes fewer.  Under the JIT: one ``lock xadd``.
    """
    with _TASK_LOCK:
        task = int(tasks[0])
        tasks[0] += 1
    return task if task < tasks[1] else -1


@intrinsic
def _next_task(typingctx, tasks):
    if not (isinstance(tasks, types.Array) and tasks.dtype == types.int64 and tasks.ndim == 1):
        return None
    sig = types.int64(tasks)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        task = builder.atomic_rmw("add", data, _const(1), "monotonic")
        count = builder.load(builder.gep(data, [_const(1)]))
        return builder.select(builder.icmp_signed("<", task, count), task, _const(-1))

    return sig, codegen


@overload(next_task)
def _next_task_jit(tasks):
    def impl(tasks):
        if BOUNDSCHECK and tasks.shape[0] < 2:
            raise IndexError("next_task: tasks must hold [next, count]")
        return _next_task(tasks)

    return impl

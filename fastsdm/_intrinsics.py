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
* ``prefetch(array, index)``: ``llvm.prefetch``, a hint to load a cache line.
* ``le_mask64(values, start, threshold)``: one ``<64 x i64>`` compare whose
  ``<64 x i1>`` result is a ``uint64`` bit mask.
* ``transpose8x8(...)``: an 8 x 8 block of words transposed by vector shuffles.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

__all__ = ["popcount", "saturating_add", "prefetch", "le_mask64", "transpose8x8"]


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


@overload(popcount, jit_options={"cache": True})
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


@overload(saturating_add, jit_options={"cache": True})
def _saturating_add_jit(counter, delta):
    if isinstance(counter, types.Integer) and isinstance(delta, types.Integer):
        def impl(counter, delta):
            return _saturating_add(counter, delta)

        return impl
    return None


def prefetch(array, index):
    """Hint the CPU to start loading ``array[index]`` into cache (no effect in Python)."""


@intrinsic
def _prefetch(typingctx, array, index):
    if not (isinstance(array, types.Array) and isinstance(index, types.Integer)):
        return None
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        arr_type = signature.args[0]
        arr = context.make_array(arr_type)(context, builder, args[0])
        ptr = builder.gep(arr.data, [args[1]])
        i8p = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        fnty = ir.FunctionType(ir.VoidType(), [i8p.type, ir.IntType(32), ir.IntType(32),
                                               ir.IntType(32)])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p.type], fnty)
        # read (0), high temporal locality (3), data cache (1)
        builder.call(fn, [i8p, ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 3),
                          ir.Constant(ir.IntType(32), 1)])
        return context.get_dummy_value()

    return sig, codegen


@overload(prefetch, jit_options={"cache": True})
def _prefetch_jit(array, index):
    if isinstance(array, types.Array) and isinstance(index, types.Integer):
        def impl(array, index):
            _prefetch(array, index)

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


@overload(le_mask64, jit_options={"cache": True})
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


@overload(transpose8x8, jit_options={"cache": True})
def _transpose8x8_jit(src, src_start, src_stride, dst, dst_start, dst_stride):
    def impl(src, src_start, src_stride, dst, dst_start, dst_stride):
        _transpose8x8(src, src_start, src_stride, dst, dst_start, dst_stride)

    return impl

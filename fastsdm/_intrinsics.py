"""Population count for numba kernels.

``popcount(x)`` is a plain Python function, so kernels still run with
``NUMBA_DISABLE_JIT=1``; under the JIT an ``@overload`` replaces it with LLVM's
``ctpop`` intrinsic, which compiles to ``popcnt`` (scalar) or ``vpopcntq``
(vectorised, on AVX-512 VPOPCNTDQ machines).  The result is always an
``int64`` so sums never drift into unsigned or float arithmetic.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

__all__ = ["popcount"]


def popcount(x):
    """Number of set bits of a non-negative integer (``int64``)."""
    return int(x).bit_count()


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

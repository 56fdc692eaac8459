"""This machine's floors, measured with explicit-width vector code.

    python benchmarks/floors.py           # prints the floors (a few seconds)

Two limits bound every binary scan:

* **DRAM read**: streaming the address matrix once (1 and 2 threads).  The
  kernel loads ``<8 x i64>`` vectors (64 bytes, zmm) into four xor
  accumulators: nothing but loads.
* **xor + popcount in registers** (1 and 2 threads): the tiled scan's
  instruction mix -- per 8 word pairs one ``vpxorq``, one ``vpopcntq``, one
  ``vpaddq`` -- with no memory operands at all: four query words and four
  address vectors held in registers, 16 accumulators.  An empty inline-asm
  statement marks the address vectors as changed every iteration, so LLVM
  can neither hoist the work out of the loop nor add instructions for it.

Both are written as LLVM ``<8 x i64>`` vector code, so they run on zmm
registers whatever LLVM's tuning for the CPU prefers (Intel server cores
prefer 256 bits, and a numba loop would measure a ymm ceiling, half the
hardware's).  On CPUs without AVX-512 VPOPCNTDQ (``fastsdm._jit.SIMD ==
"generic"``) the floors are the portable loops fastsdm itself runs there, and
:func:`width` reports what LLVM emitted.

Parallel floors run their parts on the same threads as fastsdm's kernels
(``fastsdm._jit.run_tasks``).
"""

from __future__ import annotations

import re
import time

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from fastsdm._intrinsics import next_task, popcount

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_V8 = ir.VectorType(_I64, 8)


def _call(builder, name, ret, args):
    fnty = ir.FunctionType(ret, [a.type for a in args])
    return builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), args)


def _splat(builder, x):
    undef = ir.Constant(_V8, ir.Undefined)
    v = builder.insert_element(undef, x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, undef, ir.Constant(ir.VectorType(_I32, 8), [0] * 8))


@intrinsic
def _stream_xor(typingctx, flat, lo, hi):
    """xor of flat[lo:hi] as four <8 x i64> accumulators (lo, hi multiples of 32)."""
    sig = types.uint64(flat, lo, hi)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        start = context.cast(builder, args[1], signature.args[1], types.int64)
        stop = context.cast(builder, args[2], signature.args[2], types.int64)
        accs = [cgutils.alloca_once_value(builder, ir.Constant(_V8, None)) for _ in range(4)]
        with cgutils.for_range_slice(builder, start, stop, ir.Constant(_I64, 32),
                                     intp=_I64) as (i, _):
            for u in range(4):
                at = builder.add(i, ir.Constant(_I64, 8 * u))
                ptr = builder.bitcast(builder.gep(data, [at]), _V8.as_pointer())
                builder.store(builder.xor(builder.load(accs[u]), builder.load(ptr, align=8)),
                              accs[u])
        total = builder.xor(builder.xor(builder.load(accs[0]), builder.load(accs[1])),
                            builder.xor(builder.load(accs[2]), builder.load(accs[3])))
        return _call(builder, "llvm.vector.reduce.xor.v8i64", _I64, [total])

    return sig, codegen


@intrinsic
def _xor_popcount_registers(typingctx, reps, seed):
    """reps x 16 x (vpxorq, vpopcntq, vpaddq) on registers: 128 word pairs per rep."""
    sig = types.int64(reps, seed)

    def codegen(context, builder, signature, args):
        n = context.cast(builder, args[0], signature.args[0], types.int64)
        s = context.cast(builder, args[1], signature.args[1], types.int64)
        queries = [_splat(builder, builder.mul(s, ir.Constant(_I64, 2 * r + 3))) for r in range(4)]
        tiles = [cgutils.alloca_once_value(builder, _splat(builder, builder.add(
            s, ir.Constant(_I64, 0x9E3779B97F4A7C15 * (u + 1) % 2**63)))) for u in range(4)]
        accs = [[cgutils.alloca_once_value(builder, ir.Constant(_V8, None)) for _ in range(4)]
                for _ in range(4)]
        opaque = ir.FunctionType(_V8, [_V8])
        with cgutils.for_range(builder, n, intp=_I64):
            t = []
            for u in range(4):
                # "The vector may have changed": no instruction, no hoisting.
                value = builder.asm(opaque, "", "=v,0", [builder.load(tiles[u])], True)
                builder.store(value, tiles[u])
                t.append(value)
            for r in range(4):
                for u in range(4):
                    count = _call(builder, "llvm.ctpop.v8i64", _V8,
                                  [builder.xor(queries[r], t[u])])
                    builder.store(builder.add(builder.load(accs[r][u]), count), accs[r][u])
        total = ir.Constant(_V8, None)
        for row in accs:
            for a in row:
                total = builder.add(total, builder.load(a))
        return _call(builder, "llvm.vector.reduce.add.v8i64", _I64, [total])

    return sig, codegen


# Kernels in fastsdm's calling convention (fastsdm._jit.run_tasks): each thread
# claims tasks; here a task is one thread's contiguous share of the work.


@numba.njit(nogil=True, cache=False)
def _stream_explicit(tasks, worker, flat, out):
    blocks = flat.size // 32
    while True:
        t = next_task(tasks)
        if t < 0:
            break
        lo, hi = blocks * t // tasks[1], blocks * (t + 1) // tasks[1]
        out[t] = _stream_xor(flat, 32 * lo, 32 * hi)


@numba.njit(nogil=True, cache=False)
def _popcount_explicit(tasks, worker, reps, out):
    while True:
        t = next_task(tasks)
        if t < 0:
            break
        out[t] = _xor_popcount_registers(reps, t + 1)


@numba.njit(nogil=True, cache=False)
def _xor_all(chunk):
    # Over a whole slice: with range(lo, hi) indices numba handles negative
    # indices and the loop does not vectorise (~5x slower, measured).
    s = np.uint64(0)
    for i in range(chunk.size):
        s ^= chunk[i]
    return s


@numba.njit(nogil=True, cache=False)
def _stream_generic(tasks, worker, flat, out):
    while True:
        t = next_task(tasks)
        if t < 0:
            break
        lo, hi = flat.size * t // tasks[1], flat.size * (t + 1) // tasks[1]
        out[t] = _xor_all(flat[lo:hi])


@numba.njit(nogil=True, cache=False)
def _popcount_block(buf, reps):
    # Four queries per loaded word from an L1-resident buffer (the portable
    # tiled scan's blocking): 4 * reps * buf.size word pairs.
    s0 = s1 = s2 = s3 = 0
    for r in range(reps):
        k0 = np.uint64(r) * np.uint64(0xD1B54A32D192ED03)
        k1 = k0 ^ np.uint64(0x5555555555555555)
        k2 = k0 ^ np.uint64(0x3333333333333333)
        k3 = k0 ^ np.uint64(0x0F0F0F0F0F0F0F0F)
        for i in range(buf.size):
            w = buf[i]
            s0 += popcount(w ^ k0)
            s1 += popcount(w ^ k1)
            s2 += popcount(w ^ k2)
            s3 += popcount(w ^ k3)
    return s0 + s1 + s2 + s3


@numba.njit(nogil=True, cache=False)
def _popcount_generic(tasks, worker, reps, out):
    while True:
        t = next_task(tasks)
        if t < 0:
            break
        buf = (np.arange(2048) + t).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        out[t] = _popcount_block(buf, max(1, reps // 64))  # 4 * 2048 = 64 x 128 pairs


def _kernels(simd):
    if simd == "avx512":
        return _stream_explicit, _popcount_explicit
    return _stream_generic, _popcount_generic


def _assembly(dispatcher) -> str:
    # numba cannot show code it loaded from its cache: compile an uncached
    # copy of the kernel for the same (first) signature and show that.
    if not dispatcher.signatures:
        raise ValueError(f"{dispatcher.py_func.__name__} has not run yet: call it first")
    if any(dispatcher.stats.cache_hits.values()):
        signature = dispatcher.signatures[0]
        options = {k: v for k, v in dispatcher.targetoptions.items() if k != "nopython"}
        dispatcher = numba.njit(**{**options, "cache": False})(dispatcher.py_func)
        dispatcher.compile(signature)
    return "".join(dispatcher.inspect_asm().values())


def width(dispatcher, instruction: str = "vpopcntq") -> str:
    """The widest register a compiled kernel uses with ``instruction`` (a regex)."""
    asm = _assembly(dispatcher)
    for reg, name in (("zmm", "512-bit (zmm)"), ("ymm", "256-bit (ymm)"), ("xmm", "128-bit (xmm)")):
        if re.search(rf"\b(?:{instruction})\s+[^\n]*%{reg}", asm):
            return name
    if instruction == "vpopcntq" and re.search(r"\bpopcnt", asm):
        return "scalar popcnt"
    return "scalar"


def floor_work(kind: str, A: np.ndarray, threads: int, pairs: int = 0, simd: str | None = None):
    """A call doing one floor's work on ``threads`` threads, and the work it does.

    ``kind`` is ``"DRAM"`` (one pass over ``A``) or ``"popcount"`` (about
    ``pairs`` word pairs of the register loop, rounded up to whole loop
    iterations).  Returns ``(call, amount)``: bytes read or word pairs done.
    Timing ``call`` alternately with a fastsdm call that does the same work
    gives that call's fraction of the floor at the machine's speed of the
    moment (a shared VM's speed drifts from minute to minute).
    """
    from fastsdm import _jit

    simd = simd or _jit.SIMD
    stream, popcount_kernel = _kernels(simd)
    parallel = threads > 1
    if kind == "DRAM":
        flat = A.reshape(-1)[: A.size // 32 * 32]
        out = np.zeros(64, np.uint64)
        return (lambda: _jit.run_tasks(stream, threads, (flat, out), parallel)), flat.nbytes
    if kind != "popcount":
        raise ValueError(f"kind must be 'DRAM' or 'popcount', not {kind!r}")
    counts = np.zeros(64, np.int64)
    per_task = -(-max(1, pairs) // threads)
    if simd == "avx512":
        reps = -(-per_task // 128)
        done = 128 * reps
    else:  # _popcount_generic: 4 * 2048 pairs per 64 reps
        reps = 64 * -(-per_task // (4 * 2048))
        done = 4 * 2048 * (reps // 64)
    return (lambda: _jit.run_tasks(popcount_kernel, threads, (reps, counts), parallel)), \
        threads * done


def measure_floors(A: np.ndarray, repeats: int = 7, threads=(1, 2), simd: str | None = None):
    """Floors for scans over ``A``: DRAM GB/s and register G word pairs/s per thread count.

    Returns a dict with, per thread count, the median time (and spread) of one
    pass over ``A`` and of the register loop, the rate of the fastest repeat,
    and the vector width used.
    """
    from fastsdm import _jit

    simd = simd or _jit.SIMD
    stream, popcount_kernel = _kernels(simd)
    result = {"simd": simd, "threads_available": numba.get_num_threads()}
    for n in threads:
        if n > numba.get_num_threads():
            continue
        dram, nbytes = floor_work("DRAM", A, n, simd=simd)
        regs, pairs = floor_work("popcount", A, n, pairs=n * 128 * 200_000, simd=simd)
        dram()
        regs()
        t_dram = _median(dram, repeats)
        t_regs = _median(regs, repeats)
        # A floor is the fastest the machine was seen to go: rates from the
        # fastest repeat (the median and the spread are reported beside it).
        result[f"dram_{n}"] = {"seconds": t_dram["median"], "min": t_dram["min"],
                               "max": t_dram["max"], "GB_per_s": nbytes / t_dram["min"] / 1e9,
                               "threads": n}
        result[f"popcount_{n}"] = {"seconds": t_regs["median"], "min": t_regs["min"],
                                   "max": t_regs["max"], "threads": n,
                                   "Gpairs_per_s": pairs / t_regs["min"] / 1e9}
    result["width_dram"] = width(stream, "vpxorq?|vmovdqu(?:64)?|vpternlogq")
    result["width_popcount"] = width(popcount_kernel)
    return result


def _median(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median": float(np.median(times)), "min": min(times), "max": max(times)}


def main():
    import fastsdm

    A = fastsdm.random_addresses(1_000_000, 1024, seed=0)
    floors = measure_floors(A)
    print(f"vector code: {floors['simd']}; DRAM floor kernel {floors['width_dram']}, "
          f"xor+popcount floor kernel {floors['width_popcount']}")
    for key, value in floors.items():
        if key.startswith("dram_"):
            print(f"DRAM read of {A.nbytes / 1e6:.0f} MB, {value['threads']} thread(s): "
                  f"{value['seconds'] * 1e3:.2f} ms median, {value['GB_per_s']:.1f} GB/s "
                  "(fastest repeat)")
        elif key.startswith("popcount_"):
            print(f"xor+popcount in registers, {value['threads']} thread(s): "
                  f"{value['Gpairs_per_s']:.1f} G word pairs/s (fastest repeat)")


if __name__ == "__main__":
    main()
